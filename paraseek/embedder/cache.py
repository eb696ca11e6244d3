"""Where converted models live: one folder per model weights, runtime and library versions.

Layout: `$PARASEEK_CACHE` (else ~/.cache/paraseek) / `<model>-<weights hash>` /
`<runtime>-<versions>`, holding build.json (the model spec, the check figures and whether the
build passed) and, when it passed, the runtime's files. Builds go to a temporary folder renamed
into place, under a file lock, so readers never see half a build and two processes never build
the same thing at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

from .. import settings

BUILD_FILE = "build.json"
# Bump when the way a build is made changes (openvino_runtime.RECIPES or quantise's settings,
# auto's calibration batches or check), so older builds are not reused. Library versions and
# the calibration text are part of the folder name already.
RECIPE = 1
_HASHED = {".json", ".safetensors", ".bin", ".txt", ".model", ".pt", ".pth"}
_SKIPPED_DIRS = {"onnx", "openvino", ".git", ".cache"}


def cache_root() -> Path:
    """`$PARASEEK_CACHE`, else ~/.cache/paraseek (not created here)."""
    return Path(settings.current().cache).expanduser()


def weights_hash(folder: Path) -> str:
    """16 hex digits of SHA-256 over the names and bytes of a model folder's weights and configs.

    Only the model's own files count (weights, configs, vocabularies, at most two levels deep);
    exported copies such as onnx/ or openvino/ folders that some models ship are skipped.
    """
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix in _HASHED
        and len(p.relative_to(folder).parts) <= 2
        and not _SKIPPED_DIRS & set(p.relative_to(folder).parts)
        and p.is_file()
    )
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:16]


def build_folder(model_id: str, folder: Path, runtime: str, versions: dict[str, str]) -> Path:
    """The cache folder of one build of `model_id` (files in `folder`) for `runtime`.

    Args:
        versions: what else the build depends on (library versions, calibration text hash),
            e.g. {"ov": "2026.4.1", "nncf": "3.4.0"}; each goes into the folder name.
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_id.rstrip("/").rsplit("/", 1)[-1])[:60]
    tags = "-".join(f"{k}{v}" for k, v in versions.items())
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{runtime}-{tags}-r{RECIPE}")
    return cache_root() / f"{slug}-{weights_hash(folder)}" / name


def read_build(where: Path) -> dict[str, Any] | None:
    """The build.json of a finished build, or None if there is none (or it is unreadable)."""
    try:
        data = json.loads((where / BUILD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@contextmanager
def _locked(where: Path) -> Iterator[None]:
    where.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(where) + ".lock", timeout=1800):
        yield


def build_once(where: Path, build: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """Run `build` into a temporary folder and move it to `where`, unless it is already there.

    Args:
        where: the final folder, from `build_folder`.
        build: fills the folder it is given and returns what goes into build.json (it must
            hold "passed": bool); it runs at most once per folder, across processes.

    Returns:
        The build.json of `where`, this process's build or the one found there.

    Raises:
        OSError: the cache cannot be written. Anything `build` raises, after cleaning up.
    """
    with _locked(where):
        found = read_build(where)
        if found is not None:
            return found
        shutil.rmtree(where, ignore_errors=True)  # a folder without build.json is debris
        temp = Path(tempfile.mkdtemp(prefix=where.name + ".tmp-", dir=where.parent))
        temp.chmod(0o755)  # mkdtemp makes it private; a shared cache must be readable
        try:
            data = build(temp)
            (temp / BUILD_FILE).write_text(json.dumps(data, indent=2), encoding="utf-8")
            os.rename(temp, where)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        return data
