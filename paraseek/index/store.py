"""The on-disk index: manifest.json, an SQLite database and generation-numbered FAISS files."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..corpus import Passage
from ..errors import (
    IndexFormatError,
    IndexNotFoundError,
    InvalidArgumentError,
    ModelMismatchError,
    UnknownDocumentError,
    UnknownPassageError,
)
from .ann import Vectors
from .keyword import keyword_search, matched_spans

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
DATABASE = "paraseek.db"
MAX_K = 10_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    date TEXT,
    content_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    passages INTEGER NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id TEXT NOT NULL REFERENCES documents(id),
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    context TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    UNIQUE (document_id, ordinal)
);
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, text_hash)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    text, context, tokenize = 'porter unicode61 remove_diacritics 2'
);
"""


@dataclass(frozen=True)
class DocumentInfo:
    """A document as stored in the index (without its text)."""

    id: str
    path: str
    title: str
    date: str | None
    content_hash: str
    passages: int
    indexed_at: str


def now() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def vectors_file(path: Path, generation: int) -> Path:
    """The FAISS file of one generation of the index at `path`."""
    return path / f"vectors.{generation}.faiss"


def connect(database: Path) -> sqlite3.Connection:
    """An SQLite connection in autocommit mode (transactions are explicit), WAL journal."""
    conn = sqlite3.connect(database, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction (BEGIN IMMEDIATE): committed on success, rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def read_manifest(path: Path) -> dict[str, object]:
    """The manifest of the index at `path`, checked for format version.

    Raises:
        IndexNotFoundError: no index there.
        IndexFormatError: the manifest is unreadable or of another format version.
    """
    manifest_path = path / MANIFEST
    if not path.is_dir() or not manifest_path.exists():
        raise IndexNotFoundError(
            f"No index at '{path}'; build one with: paraseek index PATH --index {path}"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        version = manifest["format_version"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexFormatError(
            f"Index manifest '{manifest_path}' is unreadable ({type(exc).__name__}); "
            "delete the folder and re-index."
        ) from exc
    if version != FORMAT_VERSION:
        raise IndexFormatError(
            f"Index '{path}' has format version {version}, this paraseek reads version "
            f"{FORMAT_VERSION}; re-index into a new folder."
        )
    return manifest


def write_manifest(path: Path, manifest: dict[str, object]) -> None:
    """Replace manifest.json atomically (write, fsync, rename)."""
    tmp = path / (MANIFEST + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path / MANIFEST)


def check_model(path: Path, manifest: dict[str, object], model: str | None) -> None:
    """Raise ModelMismatchError when `model` (if given) is not the one the index was built with."""
    if model is not None and model != manifest["model"]:
        raise ModelMismatchError(
            f"Index '{path}' was built with {manifest['model']} ({manifest['dimension']}-d) "
            f"but the embedder is {model}; search it without --model (or with --model "
            f"{manifest['model']}), or rebuild it into a new --index with --model {model}."
        )


class Index:
    """A read view of an index folder: documents, passages and their vectors.

    Every read runs inside one SQLite read transaction and first checks the generation that
    the last writer committed, reloading the vectors if it changed, so a reader never mixes two
    versions and follows a re-index without being reopened.
    """

    def __init__(self, path: str | os.PathLike[str], model: str | None = None) -> None:
        """Open the index at `path`.

        Args:
            path: the index folder.
            model: if given, the model id the caller will embed queries with.

        Raises:
            IndexNotFoundError, IndexFormatError, ModelMismatchError.
        """
        self.path = Path(path)
        manifest = read_manifest(self.path)
        check_model(self.path, manifest, model)
        self.model = str(manifest["model"])
        self.dimension = int(manifest["dimension"])  # type: ignore[call-overload]
        database = self.path / DATABASE
        if not database.exists():
            raise IndexFormatError(f"Index database '{database}' is missing; re-index.")
        try:
            self._conn = connect(database)
            self._conn.execute("SELECT count(*) FROM passages").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexFormatError(
                f"Index database '{database}' is damaged ({exc}); delete the folder and re-index."
            ) from exc
        self._lock = threading.RLock()
        self._generation = -1
        self._vectors: Vectors | None = None

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One consistent read: the database and the vectors of the same generation."""
        with self._lock:
            try:
                self._begin()
            except sqlite3.OperationalError:
                # A long-lived connection can go stale ("disk I/O error") when the database's
                # WAL files are checkpointed and removed under it; reopen it once and retry.
                self._reconnect()
                self._begin()
            try:
                yield self._conn
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    def _begin(self) -> None:
        try:
            self._conn.execute("BEGIN")
            row = self._conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            generation = int(row[0])
            if generation != self._generation:
                self._vectors = self._load_vectors(generation)
                self._generation = generation
        except BaseException:
            if self._conn.in_transaction:
                try:
                    self._conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise

    def _reconnect(self) -> None:
        try:
            self._conn.close()
        except sqlite3.Error:
            pass
        self._conn = connect(self.path / DATABASE)

    def _load_vectors(self, generation: int) -> Vectors:
        file = vectors_file(self.path, generation)
        if not file.exists():
            raise IndexFormatError(f"Vector file '{file}' is missing; re-index to rebuild it.")
        vectors = Vectors.load(file)
        count = self._conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        if vectors.count != count or vectors.dimension != self.dimension:
            raise IndexFormatError(
                f"Vector file '{file}' holds {vectors.count} {vectors.dimension}-d vectors but "
                f"the database has {count} passages of {self.dimension}-d; re-index to rebuild it."
            )
        return vectors

    # --- reads ---------------------------------------------------------------------------

    def search(
        self, queries: np.ndarray, k: int, passage_ids: Sequence[int] | None = None,
        exclude: Sequence[int] = (),
    ) -> tuple[list[list[Passage]], list[list[float]]]:  # fmt: skip
        """Inner-product search: exact for a flat index, approximate for HNSW and IVF.

        Args:
            queries: float32 array of shape (n, dimension), unit rows.
            k: neighbours per query, 1 to 10,000.
            passage_ids: if given, search only these passages.
            exclude: passage ids never returned.

        Returns:
            (passages, scores): per query, up to k passages, best first, with their cosine
            similarities; fewer than k when the index (or the filter) holds fewer.
        """
        if queries.ndim != 2 or queries.shape[1] != self.dimension:
            raise InvalidArgumentError(
                f"Query vectors have shape {queries.shape}; expected (n, {self.dimension}) for "
                f"index '{self.path}' built with {self.model}."
            )
        check_k(k)
        with self.snapshot() as conn:
            vectors = self._vectors
            assert vectors is not None
            allow = None if passage_ids is None else np.asarray(passage_ids, dtype=np.int64)
            scores, ids = vectors.search(
                np.ascontiguousarray(queries, dtype=np.float32), min(k, max(vectors.count, 1)),
                allow=allow, exclude=np.asarray(exclude, dtype=np.int64),
            )  # fmt: skip
            wanted = sorted({int(i) for i in ids.ravel() if i >= 0})
            by_id = {p.id: p for p in self._passages(conn, wanted)}
        found = [[by_id[int(i)] for i in row if i >= 0] for row in ids]
        kept = [
            [float(s) for s, i in zip(srow, irow, strict=True) if i >= 0]
            for srow, irow in zip(scores, ids, strict=True)
        ]
        return found, kept

    def keyword_search(
        self, query: str, k: int, passage_ids: Sequence[int] | None = None
    ) -> tuple[list[Passage], list[float]]:
        """BM25 search of passage text and context (see `keyword.keyword_search`).

        Returns:
            (passages, scores), best first; scores are BM25, higher is better, unbounded.
        """
        check_k(k)
        with self.snapshot() as conn:
            found = keyword_search(conn, query, k, passage_ids)
            by_id = {p.id: p for p in self._passages(conn, [i for i, _ in found])}
        return [by_id[i] for i, _ in found], [s for _, s in found]

    def matched_spans(self, query: str, ids: Sequence[int]) -> dict[int, list[tuple[int, int]]]:
        """Where the query's words occur in these passages (see `keyword.matched_spans`)."""
        with self.snapshot() as conn:
            return matched_spans(conn, query, ids)

    def passages(self, ids: Sequence[int]) -> list[Passage]:
        """The passages with these ids, in the same order.

        Raises:
            UnknownPassageError: an id is not in the index.
        """
        with self.snapshot() as conn:
            by_id = {p.id: p for p in self._passages(conn, ids)}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise UnknownPassageError(
                f"No passage with id {missing[0]} in index '{self.path}'; ids come from the "
                "passage_id field of search results."
            )
        return [by_id[i] for i in ids]

    def document_passages(self, document_id: str) -> list[Passage]:
        """All passages of one document, in order."""
        with self.snapshot() as conn:
            rows = conn.execute(
                f"{_PASSAGE_SELECT} WHERE document_id = ? ORDER BY ordinal", (document_id,)
            ).fetchall()
        return [_passage(r) for r in rows]

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The exact vectors of these passages, shape (len(ids), dimension), float32.

        They come from the embedding cache, not the vector index, whose codec may be lossy.

        Raises:
            UnknownPassageError: an id is not in the index.
        """
        if not len(ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        found: dict[int, np.ndarray] = {}
        with self.snapshot() as conn:
            key = self._vector_key(conn)
            # The runtime's own vectors first; then any other runtime's of the same model
            # (an index updated with another --precision). Both use the cache's primary key.
            for condition, params in (
                ("e.model = ?", [key]),
                ("(e.model = ? OR (e.model > ? AND e.model < ?))",
                 [self.model, self.model + "@", self.model + "A"]),
            ):  # fmt: skip
                wanted = [int(i) for i in ids if int(i) not in found]
                for begin in range(0, len(wanted), 500):
                    chunk = wanted[begin : begin + 500]
                    rows = conn.execute(
                        f"SELECT p.id, e.vector FROM passages p JOIN embeddings e ON {condition} "
                        f"AND e.text_hash = p.text_hash WHERE p.id IN ({','.join('?' * len(chunk))})",
                        [*params, *chunk],
                    ).fetchall()
                    for pid, blob in rows:
                        found.setdefault(int(pid), np.frombuffer(blob, dtype=np.float32))
                if len(found) == len(set(ids)):
                    break
        missing = [i for i in ids if int(i) not in found]
        if missing:
            self.passages(missing)  # names an unknown id
            raise IndexFormatError(
                f"Passage {missing[0]} of index '{self.path}' has no stored vector; re-index."
            )
        return np.vstack([found[int(i)] for i in ids]).astype(np.float32, copy=False)

    def _vector_key(self, conn: sqlite3.Connection) -> str:
        """The embedding cache key of the runtime that last wrote this index."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'runtime'").fetchone()
        runtime = row[0] if row else "torch-fp32"
        return self.model if runtime == "torch-fp32" else f"{self.model}@{runtime}"

    def documents(self) -> list[DocumentInfo]:
        """Every document, ordered by title."""
        with self.snapshot() as conn:
            rows = conn.execute(
                "SELECT id, path, title, date, content_hash, passages, indexed_at "
                "FROM documents ORDER BY title, path"
            ).fetchall()
        return [DocumentInfo(*r) for r in rows]

    def document_infos(self, document_ids: Iterable[str]) -> dict[str, DocumentInfo]:
        """The documents with these ids, by id; ids not in the index are left out."""
        wanted = list(document_ids)
        out: dict[str, DocumentInfo] = {}
        with self.snapshot() as conn:
            for begin in range(0, len(wanted), 500):
                chunk = wanted[begin : begin + 500]
                rows = conn.execute(
                    "SELECT id, path, title, date, content_hash, passages, indexed_at FROM "
                    f"documents WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
                out.update((r[0], DocumentInfo(*r)) for r in rows)
        return out

    def document_text(self, document_id: str) -> str:
        """The full extracted text of a document (what passage offsets index into)."""
        with self.snapshot() as conn:
            row = conn.execute("SELECT text FROM documents WHERE id = ?", (document_id,)).fetchone()
        if row is None:
            raise UnknownDocumentError(
                f"No document with id '{document_id}' in index '{self.path}'."
            )
        return str(row[0])

    def resolve_documents(self, names: Sequence[str]) -> list[str]:
        """Document ids for ids, paths, file names or file stems.

        Raises:
            UnknownDocumentError: a name matches no document; the message lists valid ids.
        """
        documents = self.documents()
        ids = []
        for name in names:
            matches = [
                d.id for d in documents
                if name in (d.id, d.path, Path(d.path).name, Path(d.path).stem)
                or os.path.abspath(name) == d.path
            ]  # fmt: skip
            if not matches:
                valid = ", ".join(f"{d.id} ({Path(d.path).name})" for d in documents[:8])
                raise UnknownDocumentError(
                    f"No document '{name}' in index '{self.path}'; give an id, path or file "
                    f"name, for example: {valid}."
                )
            ids.extend(matches)
        return ids

    def passage_ids(self, document_ids: Sequence[str]) -> list[int]:
        """Ids of every passage of these documents."""
        with self.snapshot() as conn:
            marks = ",".join("?" * len(document_ids))
            rows = conn.execute(
                f"SELECT id FROM passages WHERE document_id IN ({marks})", list(document_ids)
            ).fetchall()
        return [int(r[0]) for r in rows]

    def generation(self) -> int:
        """The number of the committed version of the index; it grows with every change."""
        with self.snapshot():
            return self._generation

    def first_passage_ids(self) -> list[int]:
        """Ids of the first passage (ordinal 0) of every document."""
        with self.snapshot() as conn:
            rows = conn.execute("SELECT id FROM passages WHERE ordinal = 0").fetchall()
        return [int(r[0]) for r in rows]

    def stats(self) -> dict[str, object]:
        """The manifest, with counts read from the database now."""
        manifest = read_manifest(self.path)
        with self.snapshot() as conn:
            manifest["documents"] = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
            manifest["passages"] = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
            manifest["cached_embeddings"] = conn.execute(
                "SELECT count(*) FROM embeddings WHERE model = ?", (self._vector_key(conn),)
            ).fetchone()[0]
            manifest["generation"] = self._generation
        manifest["path"] = str(self.path.resolve())
        return manifest

    @staticmethod
    def _passages(conn: sqlite3.Connection, ids: Sequence[int]) -> list[Passage]:
        out: list[Passage] = []
        for begin in range(0, len(ids), 500):
            chunk = [int(i) for i in ids[begin : begin + 500]]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(f"{_PASSAGE_SELECT} WHERE id IN ({marks})", chunk).fetchall()
            out.extend(_passage(r) for r in rows)
        return out


_PASSAGE_SELECT = 'SELECT id, document_id, ordinal, start, "end", text, context FROM passages'


def _passage(row: tuple) -> Passage:  # type: ignore[type-arg]
    return Passage(row[1], row[2], row[3], row[4], row[5], row[6], id=row[0])


def check_k(k: int) -> None:
    """Raise InvalidArgumentError unless 1 <= k <= 10,000."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise InvalidArgumentError(f"k must be an integer from 1 to {MAX_K}, got {k!r}.")
