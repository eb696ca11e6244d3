"""Vector stores behind one interface (`VectorStore`): FAISS files in the index folder
(`FaissStore`, the default) or a Milvus collection (`paraseek.scale.milvus`).

A store holds one vector per passage id, nothing else; the database is the record of what
exists, and its `generation` row is the commit point. `StoreConfig`, recorded in the database,
is sticky like --ann: a writer asked for another store moves the vectors there from the
embedding cache; readers follow.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .. import settings
from ..errors import IndexFormatError, InvalidArgumentError, StoreMismatchError
from .ann import MAX_STALE_FRACTION, AnnSpec, Vectors, choose, needs_rebuild, training_size
from .database import last_passage_id
from .rows import index_key, sample

STORES = ("faiss", "milvus")
DEFAULT_STORE = "faiss"
HYBRID = "fusion (bm25 postings)"  # how hybrid search scores its keyword side, in every store
SAMPLE = 256  # passages `verify` looks up by their exact (cached) vector
MIN_COSINE = {"fp32": 0.9999, "fp16": 0.999, "sq8": 0.98}  # by codec; PQ codes are looser
MIN_COSINE_PQ = 0.8

Sample = Callable[[int], np.ndarray]
"""Called with a count n: n exact vectors of the index's passages, float32 (n, dimension)."""


@dataclass(frozen=True)
class Version:
    """A committed version of the index, as one database snapshot sees it.

    last_id is the largest passage id ever committed, 0 if none: a store row with a larger id
    belongs to a commit still in progress, or one that failed.
    """

    generation: int
    passages: int
    last_id: int


def committed(conn: sqlite3.Connection, generation: int) -> Version:
    passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
    return Version(generation, int(passages), last_passage_id(conn))


class VectorStore(Protocol):
    """Vectors by passage id, in the txtai `ann` style: nothing here is backend-specific.

    A writer calls, within one commit: `refresh`, `delete`, `rebuild`, `upsert`, `save`, then
    (after the database commits) `commit`. A store opened for reading never changes.
    """

    kind: str

    @property
    def count(self) -> int:
        """Vectors held now (Milvus may briefly hold some of uncommitted passages)."""
        ...

    def describe(self) -> str:
        """One line for people, e.g. "Flat (exact scan)" or "Milvus FLAT at milvus.db"."""
        ...

    def spec(self) -> AnnSpec | None:
        """The FAISS index built (see `ann.choose`); None where the server chooses (Milvus)."""
        ...

    def refresh(self, version: Version) -> bool:
        """Serve `version`; False if a writer's store lacks it (IndexFormatError for a reader)."""
        ...

    def search(
        self, queries: np.ndarray, k: int, allow: Sequence[int] | np.ndarray | None = None,
        exclude: Sequence[int] | np.ndarray = (),
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """As `ann.Vectors.search`; it may return ids the served version lacks (a Milvus
        deletion not yet applied): the caller drops them."""
        ...

    def delete(self, ids: Sequence[int] | np.ndarray) -> None:
        """Remove these passages (unknown ids are ignored); readers see it after `commit`."""
        ...

    def rebuild(self, count: int, sample: Sample) -> bool:
        """True if the store starts over for `count` passages and needs every vector."""
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

    def verify(self, conn: sqlite3.Connection, version: Version) -> Iterator[tuple[str, str]]:
        """For `paraseek check`: does the store hold `version`'s passages, a sample of them
        with their own vectors? Yields (level: "ok", "warning" or "error", message)."""
        ...


@dataclass(frozen=True)
class StoreConfig:
    """Which store holds an index's vectors, and where (the other fields are Milvus's)."""

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
        return json.dumps(self.to_json(), sort_keys=True)

    def same_place(self, other: StoreConfig) -> bool:
        """Whether both name the same vectors (a new URI for the same collection does)."""
        return (self.kind, self.collection) == (other.kind, other.collection)


def check_store(kind: str) -> str:
    if kind not in STORES:
        raise InvalidArgumentError(f"Unknown --store {kind!r}; valid stores: {', '.join(STORES)}.")
    return kind


def recorded(meta: dict[str, str]) -> StoreConfig:
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
    """The store a writer should use: `store`, else $PARASEEK_STORE, else `current` (the
    index's), else faiss; where a Milvus store lives is Milvus's to say (`scale.milvus.place`).
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
    """Raises StoreUnavailableError, StoreLockedError, IndexFormatError."""
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
    return path / f"vectors.{generation}.faiss"


class FaissStore:
    """The default store: one FAISS file per generation in the index folder (`ann.Vectors`).

    A writer builds generation g+1 from g (or from scratch, see `rebuild`) and fsyncs it before
    the database names it; g stays on disk for readers that began before, until the next commit.
    """

    kind = "faiss"

    def __init__(
        self, path: Path, dimension: int, ann: str = "auto", writable: bool = False
    ) -> None:
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
        if self._vectors is None:
            raise IndexFormatError(f"No vectors loaded for index '{self.path}'; re-index.")
        return self._vectors

    def describe(self) -> str:
        return self._vectors.spec.describe() if self._vectors is not None else "none"

    def spec(self) -> AnnSpec | None:
        return self._vectors.spec if self._vectors is not None else None

    def refresh(self, version: Version) -> bool:
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

    def delete(self, ids: Sequence[int] | np.ndarray) -> None:
        if self._vectors is not None and len(ids):
            self._generation = None  # memory now differs from every file
            self._vectors.remove(np.asarray(ids, dtype=np.int64))

    def rebuild(self, count: int, sample: Sample) -> bool:
        """Start over unless the loaded index has the type `choose` gives for `count` and at
        most MAX_STALE_FRACTION deleted entries."""
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

    def verify(self, conn: sqlite3.Connection, version: Version) -> Iterator[tuple[str, str]]:
        """The file of `version` holds exactly its passages, and a sample of them with vectors
        close to their exact (cached) ones."""
        file = vectors_file(self.path, version.generation)
        try:
            vectors = Vectors.load(file)
        except IndexFormatError as exc:
            yield "error", str(exc)
            return
        ids = np.array(
            [r[0] for r in conn.execute("SELECT id FROM passages ORDER BY id")], np.int64
        )
        live = vectors.live_ids()
        fix = f"`paraseek repair --index {self.path}` rebuilds it"
        if len(live) != len(ids) or not np.array_equal(live, ids):
            extra, lacking = np.setdiff1d(live, ids).size, np.setdiff1d(ids, live).size
            yield (
                "error",
                f"'{file}' has {lacking} passages missing and {extra} unknown ids; {fix}.",
            )
            return
        yield "ok", f"{file.name}: {vectors.spec.describe()}, {len(ids)} vectors"
        wanted, _, cached = sample(conn, index_key(conn), SAMPLE)
        if not len(wanted):
            return
        stored = vectors.vectors(wanted)
        cosine = (stored * cached).sum(axis=1) / np.maximum(
            np.linalg.norm(stored, axis=1) * np.linalg.norm(cached, axis=1), 1e-12
        )
        floor = MIN_COSINE_PQ if vectors.spec.pq else MIN_COSINE.get(vectors.spec.codec, 0.98)
        worst = float(cosine.min())
        if worst < floor:
            bad = int(wanted[int(cosine.argmin())])
            yield (
                "error",
                (
                    f"'{file}' holds a vector for passage {bad} that does not match its text "
                    f"(cosine {worst:.3f} < {floor}); {fix}."
                ),
            )
        else:
            yield (
                "ok",
                f"{len(wanted)} sampled vectors match their passages (cosine >= {worst:.4f})",
            )


def _remove_files(path: Path, keep_from: int | None) -> None:
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
