"""Pass 1 of an update, here or on Ray: read and split the files, embed what the cache lacks.

An executor gets a `Job` from `Writer.update` and leaves a vector for every new passage text in
the embedding cache, committed batch by batch; pass 2 (the commit into the index) is the same
whichever executor ran. `local` (the default) works in this process; `ray` (paraseek[scale])
reads, splits and embeds on a Ray Data actor pool, on this machine or on a Ray cluster, and is
imported only when asked for.
"""

from __future__ import annotations

from ...errors import InvalidArgumentError
from ...settings import choose
from .base import Estimate, Executor, Job, Log, Progress, commit
from .local import EMBED_BATCH, Embedding, LocalExecutor

EXECUTORS = ("local", "ray")

__all__ = [
    "EMBED_BATCH",
    "EXECUTORS",
    "Embedding",
    "Estimate",
    "Executor",
    "Job",
    "LocalExecutor",
    "Log",
    "Progress",
    "commit",
    "executor_for",
]


def executor_for(
    name: str | None = None, ray_address: str | None = None, ray_workers: int | None = None
) -> Executor:
    """The executor asked for, checked before any model loads.

    Args:
        name: "local" or "ray"; None means `$PARASEEK_EXECUTOR`, else "local".
        ray_address: the Ray cluster to join (see `RayExecutor`); ray only.
        ray_workers: embedding actors; ray only.

    Raises:
        InvalidArgumentError: an unknown executor, a bad worker count, or Ray options given
            to the local executor.
        ExecutorUnavailableError: ray asked for but not installed.
        RayConnectionError: the Ray address cannot be reached.
    """
    value = choose("executor", name, "local", EXECUTORS)
    if value == "local":
        if ray_address or ray_workers is not None:
            raise InvalidArgumentError(
                "--ray-address and --ray-workers need --executor ray (or PARASEEK_EXECUTOR=ray)."
            )
        return LocalExecutor()
    from .ray import RayExecutor

    return RayExecutor(ray_address, ray_workers)
