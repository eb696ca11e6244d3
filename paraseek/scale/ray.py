"""The Ray executor: pass 1 on a Ray Data actor pool, on this machine or on a Ray cluster.

With ray_worker.py (the actor), the only modules that import ray, and only when `--executor
ray` is asked for. The driver (this process) cuts the file list into groups by size and streams them through
`map_batches(EmbedActor)`: each actor loads the model once, then reads, splits and embeds its
groups, leaving out texts the cache held when the run began. The driver takes the pool's output
as it comes (`iter_batches`) and hands each group's vectors to the writer, which commits them to
the embedding cache and advances the progress, so nothing holds all the vectors and a killed run
keeps what it committed. Pass 2 then runs in the driver, as it does after the local executor,
and skips a file whose content is not what the actor read.

Reading and splitting run in the actors rather than in separate Ray tasks: splitting needs the
model's tokenizer, which the actor has loaded anyway, and tasks beside a pool that holds every
CPU would wait for it. So the files must be at the same path on every node (shared storage), as
pass 2 needs them on the driver; a worker that cannot see one stops the run with a clear error.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .. import errors, settings
from ..errors import (
    ExecutorUnavailableError,
    InvalidArgumentError,
    ParaseekError,
    RayConnectionError,
    RayExecutionError,
    RayWorkerMismatchError,
)
from ..index.executors import Embedded, Event, FileStatus, Job
from .ray_worker import EmbedActor

GROUP_BYTES = 256 * 1024  # input of one actor call at most; a larger file is a group of its own
GROUPS_PER_WORKER = 4  # so that one slow group at the end does not leave the other workers idle
CONNECT_TIMEOUT_S = 5.0
GCS_PORT, CLIENT_PORT = 6379, 10001  # Ray's defaults: the head's GCS, and Ray Client (ray://)


class RayExecutor:
    """Reads, splits and embeds on a Ray Data actor pool: one model per actor, 1 CPU each."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        """Check that Ray is installed and the cluster reachable; nothing starts yet.

        Args:
            address: the cluster's head, "host:port" (its GCS port, 6379 by default),
                "ray://host:10001" (Ray Client) or "auto"; None means
                `$PARASEEK_RAY_ADDRESS`, else `$RAY_ADDRESS` (set inside `ray job submit`),
                else a local Ray on 127.0.0.1 with every CPU here, started for each run and
                stopped after it. A Ray already initialised in this process is used as it is.
            workers: embedding actors, each holding 1 CPU and a copy of the model; None means
                `$PARASEEK_RAY_WORKERS`, else one per CPU of the cluster.

        Raises:
            ExecutorUnavailableError: Ray is not installed.
            InvalidArgumentError: `workers` is below 1 or not a number.
            RayConnectionError: nothing answers at `address`.
        """
        try:
            import ray.data  # noqa: F401
        except ImportError as exc:
            raise ExecutorUnavailableError(
                "--executor ray needs Ray, which is not installed here; install it with "
                "pip install 'paraseek[scale]', or index with --executor local."
            ) from exc
        chosen = settings.current(ray_address=address)
        self.address = chosen.ray_address or os.environ.get("RAY_ADDRESS")  # set by Ray's jobs
        if workers is None and chosen.ray_workers:
            workers = _whole(chosen.ray_workers)
        self.workers = None if workers is None else _whole(workers)
        if self.address:
            _check_reachable(self.address)

    def run(self, job: Job) -> Iterator[Event]:
        """See `Executor.run`.

        Raises:
            RayConnectionError: Ray cannot be started or joined.
            RayWorkerMismatchError: a worker embeds with another runtime than this machine,
                or cannot see a file.
            RayExecutionError: the pipeline failed; vectors committed so far are kept.
            ModelLoadError: the workers cannot load the model.
        """
        import ray

        started = _connect(self.address)
        try:
            with _quiet():
                yield from self._embed(job, started)
        finally:
            if started:
                ray.shutdown()

    def _embed(self, job: Job, started: bool) -> Iterator[Event]:
        import ray
        from ray.data import ActorPoolStrategy
        from ray.exceptions import RayError

        cpus = max(int(ray.cluster_resources().get("CPU", 1)), 1)
        groups = _groups(job, self.workers or cpus)
        size = min(self.workers or cpus, len(groups))
        if not started:
            where = f"the Ray already running in this process, {cpus} CPUs"
        else:
            where = self.address or f"a local Ray on 127.0.0.1, {cpus} CPUs"
        job.log(f"embedding with Ray ({where}): {size} workers, {len(groups)} groups of files")
        embedder = job.embedder
        dataset = ray.data.from_items(groups, override_num_blocks=len(groups)).map_batches(
            EmbedActor, batch_size=1, batch_format="numpy", compute=ActorPoolStrategy(size=size),
            num_cpus=1, fn_constructor_kwargs={
                "model": embedder.model_id, "precision": embedder.precision,
                "batch_size": embedder.batch_size, "runtime": embedder.runtime,
                "dimension": embedder.dimension, "cached": [ray.put(_cached(job))],
            },
        )  # fmt: skip
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                yield from _take(batch, job.sizes)
        except RayError as exc:
            raise RayExecutionError(
                f"Ray stopped while embedding: {_last_line(exc)}; the vectors committed so far "
                "are kept, so running the command again resumes."
            ) from exc


def _take(batch: dict[str, np.ndarray], sizes: dict[str, int]) -> Iterator[Event]:
    """One output batch of the pool: its files' statuses, then its vectors."""
    kinds = batch["kind"]
    for i in np.flatnonzero(kinds == "error"):
        found = getattr(errors, str(batch["status"][i]), None)
        kind = found if isinstance(found, type) and issubclass(found, ParaseekError) else None
        raise (kind or RayExecutionError)(str(batch["note"][i]))
    passages = reused = size = 0
    for i in np.flatnonzero(kinds == "file"):
        path, status, note = str(batch["path"][i]), str(batch["status"][i]), str(batch["note"][i])
        if status == "missing" and os.path.exists(path):
            raise RayWorkerMismatchError(
                f"The Ray worker on {note} cannot see '{path}', which is here; the files to "
                "index must be at the same path on every node (shared storage), or index "
                "with --executor local."
            )
        if status in ("missing", "skipped"):
            reason = note if status == "skipped" else "cannot read: it no longer exists"
            yield FileStatus(path, "skipped", reason)
        else:  # pass 2 indexes an added or changed file only if it still has this content
            yield FileStatus(path, status, content_hash=str(batch["hash"][i]))
        if status in ("added", "changed"):
            passages += int(batch["passages"][i])
            size += sizes.get(path, 0)
            reused += int(batch["reused"][i])
    rows = np.flatnonzero(kinds == "vector")
    hashes = [str(h) for h in batch["hash"][rows]]
    sentences = {h: bytes(b) for h, b in zip(hashes, batch["sentences"][rows], strict=True) if b}
    if hashes or passages or size:
        yield Embedded(hashes, batch["vector"][rows], reused, passages, size, sentences)


def _groups(job: Job, workers: int) -> list[dict[str, str]]:
    """The input rows: the files in order, cut into groups of about the same size, as JSON."""
    total = sum(job.sizes.get(str(f), 0) for f in job.files)
    target = max(1, min(GROUP_BYTES, total // (workers * GROUPS_PER_WORKER)))
    groups: list[list[list[str]]] = [[]]
    size = 0
    for file in job.files:
        if size >= target:
            groups.append([])
            size = 0
        groups[-1].append([str(file), job.known.get(str(file), "")])
        size += job.sizes.get(str(file), 0)
    # Largest first: the pool takes groups in order, so the last ones to finish are small.
    groups.sort(key=lambda g: -sum(job.sizes.get(path, 0) for path, _ in g))
    return [{"group": json.dumps(g)} for g in groups if g]


def _cached(job: Job) -> np.ndarray:
    """The first 8 bytes of each text hash the cache holds for the model, sorted (uint64).

    Sent once to every actor (8 bytes a cached text), which embeds only texts whose prefix is
    absent. Were a new text to share its prefix with a cached one (odds about n²/2^65), pass 2
    embeds it: it embeds any passage whose vector the cache lacks.
    """
    prefixes = np.fromiter((int(h[:16], 16) for h in job.cached()), dtype=np.uint64)
    prefixes.sort()
    return prefixes


def _check_reachable(address: str) -> None:
    """Fail in seconds where nothing listens: ray.init retries an unreachable head for minutes."""
    if address in ("auto", "local") or ("://" in address and not address.startswith("ray://")):
        return
    client = address.startswith("ray://")
    parts = re.fullmatch(r"\[?([^\[\]]+?)\]?(?::(\d+))?", address.removeprefix("ray://"))
    try:
        if parts is None:
            raise ValueError("not host:port")
        port = int(parts[2] or (CLIENT_PORT if client else GCS_PORT))
        socket.create_connection((parts[1], port), timeout=CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RayConnectionError(
            f"Cannot reach the Ray cluster at '{address}' ({reason or 'timed out'}); start one "
            "with `ray start --head`, or give its head as host:6379 (or ray://host:10001) "
            "with --ray-address or PARASEEK_RAY_ADDRESS."
        ) from exc


def _connect(address: str | None) -> bool:
    """Join the cluster at `address`, or start a local Ray; False if Ray was running already."""
    import ray

    if ray.is_initialized():
        return False
    quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(
                address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False,
                _node_ip_address="127.0.0.1", **quiet,
            )  # fmt: skip
    except Exception as exc:  # a refused connection, a version mismatch, a missing token
        raise RayConnectionError(
            f"Cannot start or join Ray at {address or '127.0.0.1 (local)'}: {_last_line(exc)}; "
            "the cluster must run the same Ray and Python versions as this machine."
        ) from exc
    return True


@contextmanager
def _quiet() -> Iterator[None]:
    """No Ray Data progress bars or INFO lines on stderr while paraseek shows its own progress."""
    from ray.data import DataContext

    context = DataContext.get_current()
    saved = context.enable_progress_bars, getattr(context, "print_on_execution_start", None)
    context.enable_progress_bars = False
    if saved[1] is not None:
        context.print_on_execution_start = False
    handlers = [
        h for h in logging.getLogger("ray.data").handlers if isinstance(h, logging.StreamHandler)
    ]
    levels = [h.level for h in handlers]
    for handler in handlers:
        handler.setLevel(logging.ERROR)
    try:
        yield
    finally:
        context.enable_progress_bars = saved[0]
        if saved[1] is not None:
            context.print_on_execution_start = saved[1]
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)


def _whole(value: int | str) -> int:
    """A worker count: a whole number of at least 1.

    Raises:
        InvalidArgumentError: it is not.
    """
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise InvalidArgumentError(
            f"Ray workers must be a whole number of at least 1, not '{value}' "
            "(--ray-workers or PARASEEK_RAY_WORKERS)."
        )
    return number


def _last_line(exc: BaseException) -> str:
    """The last non-empty line of an exception's text, without terminal colours: Ray puts the
    original error (e.g. 'MemoryError: ...') last, after its traceback."""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines()]
    lines = [line for line in lines if line]
    return (lines[-1] if lines else type(exc).__name__)[:300]
