"""Vector stores behind one interface (`VectorStore`): FAISS files in the index folder (the
default, `FaissStore`) or a Milvus collection (`paraseek.scale.milvus`).

SQLite (the index folder's paraseek.db) stays the record of what exists: documents, passages
with their text, the keyword postings and the embedding cache. A store holds one vector per
passage id, nothing else. The database's `generation` row is the commit point; a store is told
which committed version to serve (`refresh`) and takes part in each commit in two steps around
it (`save` before, `commit` after).

`StoreConfig` says which store an index uses and where; it is recorded in the database (`meta`
rows `store` and `store_settings`) and the manifest, and is sticky like --ann: a writer keeps it
unless asked for another, then moves the vectors there from the embedding cache (nothing is
embedded again); readers follow it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .. import settings
from ..errors import IndexFormatError, InvalidArgumentError, StoreMismatchError
from .ann import MAX_STALE_FRACTION, AnnSpec, Vectors, choose, needs_rebuild, training_size
from .database import last_passage_id

STORES = ("faiss", "milvus")
DEFAULT_STORE = "faiss"
HYBRID = "fusion (bm25 postings)"  # how hybrid search scores its keyword side, in every store

Sample = Callable[[int], np.ndarray]
"""Called with a count n: n exact vectors of the index's passages, float32 (n, dimension)."""


@dataclass(frozen=True)
class Version:
    """A committed version of the index, as one database snapshot sees it.

    Attributes:
        generation: the database's generation number; it grows with every commit.
        passages: how many passages that version holds.
        last_id: the largest passage id ever committed (ids only grow), 0 if none; a store
            row with a larger id belongs to a commit still in progress, or one that failed.
    """

    generation: int
    passages: int
    last_id: int


def committed(conn: sqlite3.Connection, generation: int) -> Version:
    """The version of generation `generation` as `conn`'s transaction sees it."""
    passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
    return Version(generation, int(passages), last_passage_id(conn))


class VectorStore(Protocol):
    """Vectors by passage id, in the txtai `ann` style: nothing here is backend-specific.

    Read side: `refresh`, `search`, `count`. Write side, in this order within one commit:
    `refresh`, `delete`, `rebuild`, `upsert`, `save`, then (after the database commits)
    `commit`. A store opened for reading never changes what it holds.

    Attributes:
        kind: the store's name in STORES.
    """

    kind: str

    @property
    def count(self) -> int:
        """Vectors held now (a Milvus store may briefly hold some of uncommitted passages)."""
        ...

    def describe(self) -> str:
        """One line for people, e.g. "Flat (exact scan)" or "Milvus FLAT at milvus.db"."""
        ...

    def spec(self) -> AnnSpec | None:
        """The FAISS index built (see `ann.choose`); None where the server chooses (Milvus)."""
        ...

    def refresh(self, version: Version) -> bool:
        """Serve `version`; False if the store does not hold it (a writer then resends all).

        Raises:
            IndexFormatError: a store opened for reading cannot serve `version`.
        """
        ...

    def search(
        self, queries: np.ndarray, k: int, allow: Sequence[int] | np.ndarray | None = None,
        exclude: Sequence[int] | np.ndarray = (),
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Inner-product search of the served version (see `ann.Vectors.search`).

        Args:
            queries: float32 (n, dimension), unit rows.
            k: neighbours per query, 1 to 10,000.
            allow: if given, only these passage ids may be returned.
            exclude: passage ids never returned.

        Returns:
            (scores, ids): float32 (n, k) best first, int64 (n, k) passage ids, padded with
            id -1 and score -inf. A store may return ids the served version lacks (a Milvus
            deletion not yet applied); the caller drops them.
        """
        ...

    def delete(self, ids: Sequence[int] | np.ndarray) -> None:
        """Remove these passages (unknown ids are ignored); readers see it after `commit`."""
        ...

    def rebuild(self, count: int, sample: Sample) -> bool:
        """After this commit's deletes: True if the store starts over and needs every vector.

        Args:
            count: passages the index will hold after this commit.
            sample: exact vectors to train a quantizer on.
        """
        ...

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace passages: int64 (n,) ids, float32 (n, dimension) unit rows."""
        ...

    def save(self, generation: int) -> None:
        """Make every write durable as `generation`, before the database names it."""
        ...

    def commit(self) -> None:
        """The database now names the saved generation: apply deferred deletions, tidy up."""
        ...

    def drop(self) -> None:
        """Delete everything this store holds for the index (it moved to another store)."""
        ...

    def close(self) -> None:
        """Release files, connections and locks."""
        ...


@dataclass(frozen=True)
class StoreConfig:
    """Which store holds an index's vectors, and where.

    Attributes:
        kind: "faiss" or "milvus".
        uri: Milvus only: a server URI or a Milvus Lite file (relative: to the index folder).
        collection: Milvus only: the collection's name.
        dense_index: Milvus only: "FLAT" (exact, for --ann flat) or "AUTOINDEX".
    """

    kind: str = DEFAULT_STORE
    uri: str = ""
    collection: str = ""
    dense_index: str = ""

    def to_json(self) -> dict[str, object]:
        """The manifest's `store` entry; never a secret (a URI is recorded without them)."""
        if self.kind == "faiss":
            return {"kind": "faiss"}
        return {"kind": self.kind, "uri": self.uri, "collection": self.collection,
                "index": self.dense_index}  # fmt: skip

    def settings(self) -> str:
        """The `store_settings` meta row (JSON)."""
        return json.dumps(self.to_json(), sort_keys=True)

    def same_place(self, other: StoreConfig) -> bool:
        """Whether both name the same vectors (a new URI for the same collection does)."""
        return (self.kind, self.collection) == (other.kind, other.collection)


def check_store(kind: str) -> str:
    """`kind` if it names a store, else InvalidArgumentError naming the valid ones."""
    if kind not in STORES:
        raise InvalidArgumentError(f"Unknown --store {kind!r}; valid stores: {', '.join(STORES)}.")
    return kind


def recorded(meta: dict[str, str]) -> StoreConfig:
    """The store an index's `meta` rows name."""
    kind = meta.get("store", DEFAULT_STORE)
    if kind == "faiss":
        return StoreConfig()
    try:
        data = json.loads(meta.get("store_settings", "{}"))
        return StoreConfig(kind, str(data["uri"]), str(data["collection"]), str(data["index"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexFormatError(
            f"The index's store settings {meta.get('store_settings')!r} are unreadable; "
            "re-index into a new folder."
        ) from exc


def requested(path: Path, current: StoreConfig | None, store: str | None, ann: str) -> StoreConfig:
    """The store a writer should use: `store` (else $PARASEEK_STORE, else the index's own, else
    faiss); where a Milvus store lives is Milvus's to say (`scale.milvus.place`).

    Args:
        path: the index folder.
        current: the store the index records, None for a new index.
        store: the caller's choice (a flag), if any.
        ann: the --ann setting (a Milvus index is FLAT for "flat", else AUTOINDEX).

    Raises:
        InvalidArgumentError: an unknown store, or Milvus settings for the faiss store.
    """
    kind = check_store(
        settings.current(store=store).store or (current.kind if current else DEFAULT_STORE)
    )
    from ..scale.milvus import place, refuse_settings

    if kind == "faiss":
        refuse_settings()
        return StoreConfig()
    uri, collection, dense_index = place(path, current, ann)
    return StoreConfig("milvus", uri, collection, dense_index)


def open_store(
    path: Path, dimension: int, config: StoreConfig, *, ann: str = "auto", writable: bool = False
) -> VectorStore:
    """Open the store `config` names for the index at `path`.

    Args:
        path: the index folder.
        dimension: the embedding dimension.
        config: the store (see `recorded`, `requested`).
        ann: FAISS: the --ann setting a writer builds for.
        writable: opened by the index's writer.

    Raises:
        StoreUnavailableError, StoreLockedError, IndexFormatError.
    """
    if config.kind == "faiss":
        return FaissStore(path, dimension, ann=ann, writable=writable)
    from ..scale.milvus import MilvusStore

    return MilvusStore(path, dimension, config.uri, config.collection, config.dense_index,
                       writable=writable)  # fmt: skip


def check_reader(path: Path, config: StoreConfig, store: str | None) -> None:
    """Raise StoreMismatchError when a reader asks for another store than the index's."""
    wanted = settings.current(store=store).store
    if wanted is None:
        return
    check_store(wanted)
    if wanted != config.kind:
        raise StoreMismatchError(
            f"Index '{path}' keeps its vectors in the {config.kind} store, not {wanted}; search "
            f"it with --store {config.kind} (or without --store), or move it with: paraseek "
            f"index PATH --index {path} --store {wanted}"
        )


# --- the default store: FAISS files ---------------------------------------------------------


def vectors_file(path: Path, generation: int) -> Path:
    """The FAISS file of one generation of the index at `path`."""
    return path / f"vectors.{generation}.faiss"


class FaissStore:
    """The default store: one FAISS file per generation in the index folder (`ann.Vectors`).

    A writer builds generation g+1 in memory from generation g (or from scratch when the index
    type changes or too many entries are deleted ones, see `rebuild`), writes and fsyncs
    vectors.<g+1>.faiss, and only then does the database switch to g+1; generation g stays on
    disk for readers that began before, and goes at the next commit.
    """

    kind = "faiss"

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
            vectors = Vectors.load(file)
            if vectors.count != version.passages or vectors.dimension != self.dimension:
                raise IndexFormatError(
                    f"Vector file '{file}' holds {vectors.count} {vectors.dimension}-d vectors "
                    f"but the database has {version.passages} passages of {self.dimension}-d; "
                    f"`paraseek repair --index {self.path}` rebuilds it."
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

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
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
