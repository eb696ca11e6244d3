"""The default store: one FAISS file per generation in the index folder (`ann.Vectors`).

A writer builds generation g+1 in memory from generation g (or from scratch when the index type
changes or too many entries are deleted ones, see `rebuild`), writes and fsyncs
vectors.<g+1>.faiss, and only then does the database switch to g+1; generation g stays on disk
for readers that began before, and goes at the next commit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import IndexFormatError, InvalidArgumentError
from ..ann import MAX_STALE_FRACTION, AnnSpec, Vectors, choose, needs_rebuild, training_size
from .base import KEYWORD_FTS, Sample, Version


def vectors_file(path: Path, generation: int) -> Path:
    """The FAISS file of one generation of the index at `path`."""
    return path / f"vectors.{generation}.faiss"


class FaissStore:
    """Vectors of one generation of an index folder, in memory; see the module docstring."""

    kind = "faiss"
    keyword = KEYWORD_FTS

    def __init__(
        self, path: Path, dimension: int, ann: str = "auto", writable: bool = False
    ) -> None:
        """Args:
        path: the index folder.
        dimension: the embedding dimension.
        ann: the --ann setting a writer builds for: auto, flat, hnsw or ivf.
        writable: opened by the index's writer (see `refresh`).
        """
        self.path = path
        self.dimension = dimension
        self.ann = ann
        self.writable = writable
        self._vectors: Vectors | None = None
        self._generation: int | None = None  # None: nothing loaded, or changed since
        self._saved: int | None = None

    @property
    def count(self) -> int:
        return self._vectors.count if self._vectors is not None else 0

    @property
    def vectors(self) -> Vectors:
        """The FAISS index served now."""
        if self._vectors is None:
            raise IndexFormatError(f"No vectors loaded for index '{self.path}'; re-index.")
        return self._vectors

    def describe(self) -> str:
        return self._vectors.spec.describe() if self._vectors is not None else "none"

    def spec(self) -> AnnSpec | None:
        return self._vectors.spec if self._vectors is not None else None

    def refresh(self, version: Version) -> bool:
        """Load the file of `version.generation` (unless loaded and unchanged).

        A reader raises IndexFormatError when it is missing or disagrees with the database;
        a writer then starts over from the embedding cache instead (returns False).
        """
        if self._generation == version.generation and self._vectors is not None:
            return True
        self._vectors, self._generation = None, None
        file = vectors_file(self.path, version.generation)
        try:
            if not file.exists():
                raise IndexFormatError(f"Vector file '{file}' is missing; re-index to rebuild it.")
            vectors = Vectors.load(file)
            if vectors.count != version.passages or vectors.dimension != self.dimension:
                raise IndexFormatError(
                    f"Vector file '{file}' holds {vectors.count} {vectors.dimension}-d vectors "
                    f"but the database has {version.passages} passages of {self.dimension}-d; "
                    "re-index to rebuild it."
                )
        except IndexFormatError:
            if self.writable:
                return False
            raise
        self._vectors, self._generation = vectors, version.generation
        return True

    def search(
        self, queries: np.ndarray, k: int, allow: Sequence[int] | np.ndarray | None = None,
        exclude: Sequence[int] | np.ndarray = (),
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        return self.vectors.search(queries, k, allow=allow, exclude=exclude)

    def keyword_search(
        self, query: str, k: int, allow: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        raise InvalidArgumentError(
            "The faiss store has no full-text index; keyword search uses SQLite FTS5."
        )

    # --- writes ---------------------------------------------------------------------------

    def delete(self, ids: Sequence[int] | np.ndarray) -> None:
        if self._vectors is not None and len(ids):
            self._generation = None  # memory now differs from every file
            self._vectors.remove(np.asarray(ids, dtype=np.int64))

    def rebuild(self, count: int, sample: Sample) -> bool:
        """Start over unless the loaded index has the wanted type and few deleted entries.

        `choose` gives the type for `count` passages: exact while small, then approximate.
        HNSW and IVF keep deleted entries as tombstones; past MAX_STALE_FRACTION of them the
        index is rebuilt from the exact vectors of the embedding cache.
        """
        wanted = choose(self.ann, count, self.dimension)
        current = self._vectors
        if (
            current is not None
            and not needs_rebuild(current.spec, wanted)
            and current.stale_fraction <= MAX_STALE_FRACTION
        ):
            return False
        size = training_size(wanted, count)
        self._generation = None
        self._vectors = Vectors.create(wanted, self.dimension, sample(size) if size else None)
        return True

    def upsert(self, ids: np.ndarray, vectors: np.ndarray, texts: Sequence[str]) -> None:
        if self._vectors is None:
            raise IndexFormatError(f"No vectors loaded for index '{self.path}'; re-index.")
        self._generation = None
        ids = np.asarray(ids, dtype=np.int64)
        self._vectors.remove(ids)  # replaced, not added twice (new ids: nothing to remove)
        self._vectors.add(vectors, ids)

    def save(self, generation: int) -> None:
        """Write vectors.<generation>.faiss: temporary file, fsync, rename, fsync the folder."""
        final = vectors_file(self.path, generation)
        tmp = final.with_suffix(".faiss.tmp")
        self.vectors.save(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
        _fsync_dir(self.path)
        self._generation = self._saved = generation

    def commit(self) -> None:
        """Remove files older than the previous generation (readers may still use that one)."""
        if self._saved is not None:
            _remove_files(self.path, keep_from=self._saved - 1)

    def drop(self) -> None:
        _remove_files(self.path, keep_from=None)

    def close(self) -> None:
        self._vectors, self._generation = None, None


def _remove_files(path: Path, keep_from: int | None) -> None:
    """Remove vector files of generations below `keep_from` (every one if None), and temps."""
    for file in path.glob("vectors.*.faiss*"):
        number = file.name.split(".")[1]
        if (
            keep_from is None
            or not number.isdigit()
            or int(number) < keep_from
            or file.suffix == ".tmp"
        ):
            file.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
