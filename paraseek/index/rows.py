"""Documents, passages and cached embeddings as rows of the index database.

Reads run inside a caller's snapshot; writes inside the writer's transaction. The embedding
cache is keyed by (model key, sha256 of the embedded text), so a text is never embedded twice;
the model key names the runtime too unless it is the fp32 reference (`model_key`).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..corpus import SPLITTING, Document, Passage, embedded_text, speaker
from ..embedder import Embedder
from ..errors import IndexFormatError, InvalidArgumentError, UnknownDocumentError
from .database import now
from .keyword import PostingsWriter

REFERENCE_RUNTIME = "torch-fp32"
# After each cached vector's float32 bytes: a mark and the CRC-32 of those bytes.
_TRAILER = struct.Struct("<4sI")
_MARK = b"PSV2"
_BATCH = 500  # ids per statement, well under SQLite's limit on variables
_COLUMNS = ("id", "document_id", "ordinal", "start", '"end"', "text", "context")  # of a Passage
_PASSAGE = f"SELECT {', '.join(_COLUMNS)} FROM passages"
_DOCUMENT = (
    "SELECT id, path, title, date, content_hash, passages, indexed_at, author FROM documents"
)


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
    author: str | None = None  # Document.author


def passages(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, Passage]:
    rows = _each(conn, f"{_PASSAGE} WHERE id IN (?)", (int(i) for i in ids))
    return {int(r[0]): _passage(r) for r in rows}


def present(conn: sqlite3.Connection, ids: Sequence[int]) -> set[int]:
    rows = _each(conn, "SELECT id FROM passages WHERE id IN (?)", (int(i) for i in ids))
    return {int(r[0]) for r in rows}


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """{"documents": n, "passages": n} now."""
    sql = "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM passages)"
    return dict(zip(("documents", "passages"), conn.execute(sql).fetchone(), strict=True))


def document_passages(conn: sqlite3.Connection, document_id: str) -> list[Passage]:
    rows = conn.execute(f"{_PASSAGE} WHERE document_id = ? ORDER BY ordinal", (document_id,))
    return [_passage(r) for r in rows]


def following(conn: sqlite3.Connection, passages: Sequence[Passage]) -> dict[int, Passage]:
    """The passage after each of `passages` in its document, by the given passage's id."""
    columns = ", ".join(f"n.{c}" for c in _COLUMNS)
    sql = (
        f"SELECT p.id, {columns} FROM passages p JOIN passages n ON n.document_id = "
        "p.document_id AND n.ordinal = p.ordinal + 1 WHERE p.id IN (?)"
    )
    return {int(r[0]): _passage(r[1:]) for r in _each(conn, sql, (p.id or 0 for p in passages))}


def passage_ids(conn: sqlite3.Connection, document_ids: Sequence[str]) -> list[int]:
    rows = _each(conn, "SELECT id FROM passages WHERE document_id IN (?)", document_ids)
    return [int(r[0]) for r in rows]


def comment_ids(conn: sqlite3.Connection) -> set[int]:
    """Ids of the passages someone other than the author says (corpus.speaker): comments."""
    rows = conn.execute("SELECT id, context FROM passages WHERE context LIKE '%said%'")
    return {int(r[0]) for r in rows if speaker(r[1])}


def first_passage_ids(conn: sqlite3.Connection) -> list[int]:
    return [int(r[0]) for r in conn.execute("SELECT id FROM passages WHERE ordinal = 0")]


def documents(conn: sqlite3.Connection) -> list[DocumentInfo]:
    return [DocumentInfo(*r) for r in conn.execute(f"{_DOCUMENT} ORDER BY title, path")]


def document_infos(
    conn: sqlite3.Connection, document_ids: Sequence[str]
) -> dict[str, DocumentInfo]:
    rows = _each(conn, f"{_DOCUMENT} WHERE id IN (?)", document_ids)
    return {r[0]: DocumentInfo(*r) for r in rows}


def document_text(conn: sqlite3.Connection, document_id: str) -> str | None:
    """What passage offsets index into; None if there is no such document."""
    row = conn.execute("SELECT text FROM documents WHERE id = ?", (document_id,)).fetchone()
    return None if row is None else str(row[0])


def _passage(row: tuple) -> Passage:  # type: ignore[type-arg]
    return Passage(row[1], row[2], row[3], row[4], row[5], row[6], id=row[0])


def _each(
    conn: sqlite3.Connection, sql: str, values: Iterable[object], *params: object
) -> Iterator[tuple]:  # type: ignore[type-arg]
    """The rows of `sql` run on `values` _BATCH at a time, its `IN (?)` widened to each batch."""
    items = list(values)
    for begin in range(0, len(items), _BATCH):
        chunk = items[begin : begin + _BATCH]
        marks = ",".join("?" * len(chunk))
        yield from conn.execute(sql.replace("IN (?)", f"IN ({marks})"), [*params, *chunk])


# --- documents named by people: an id, a path, a file name or a file stem ---------------


def resolve(
    documents: Sequence[DocumentInfo], names_given: Sequence[str], index: Path
) -> list[str]:
    """Ids of the documents `names_given` name (an id, path, file name or stem), in order; a
    name may match several; UnknownDocumentError for one that matches none."""
    ids = []
    for name in names_given:
        matches = [
            d.id for d in documents
            if name in (d.id, d.path, Path(d.path).name, Path(d.path).stem)
            or os.path.abspath(name) == d.path
        ]  # fmt: skip
        if not matches:
            valid = ", ".join(f"{d.id} ({Path(d.path).name})" for d in documents[:8])
            raise UnknownDocumentError(
                f"No document '{name}' in index '{index}'; give an id, path or file "
                f"name, for example: {valid}."
            )
        ids.extend(matches)
    return ids


def resolve_one(documents: Sequence[DocumentInfo], name: str, index: Path) -> str:
    """The id of the one document `name` names; InvalidArgumentError if it names several."""
    found = resolve(documents, [name], index)
    if len(found) > 1:
        raise InvalidArgumentError(
            f"'{name}' names {len(found)} documents ({', '.join(found[:5])}); give one id."
        )
    return found[0]


# --- writes, inside the writer's transaction -----------------------------------------


def delete(
    conn: sqlite3.Connection, postings: PostingsWriter, document_ids: Sequence[str]
) -> list[int]:
    """Delete these documents and their passages (also those whose document row was lost);
    returns the passage ids deleted."""
    old_ids = passage_ids(conn, document_ids)
    postings.remove(old_ids)
    list(_each(conn, "DELETE FROM passages WHERE document_id IN (?)", document_ids))
    list(_each(conn, "DELETE FROM documents WHERE id IN (?)", document_ids))
    return old_ids


def insert(
    conn: sqlite3.Connection, postings: PostingsWriter, doc: Document,
    passages: list[Passage],
) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO documents (id, path, title, date, content_hash, text, passages, "
        "indexed_at, splitting, author) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (doc.id, doc.path, doc.title, doc.date, doc.content_hash, doc.text,
         len(passages), now(), SPLITTING, doc.author),
    )  # fmt: skip
    for p in passages:
        cursor = conn.execute(
            'INSERT INTO passages (document_id, ordinal, start, "end", text, context, '
            "text_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (doc.id, p.ordinal, p.start, p.end, p.text, p.context,
             text_hash(p.embedded_text)),
        )  # fmt: skip
        postings.add(int(cursor.lastrowid or 0), p.text, p.context)


# --- the embedding cache -------------------------------------------------------------


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_key(embedder: Embedder) -> str:
    """The model id, plus @runtime unless the runtime is the fp32 reference."""
    return _key(embedder.model_id, getattr(embedder, "runtime", REFERENCE_RUNTIME))


def index_key(conn: sqlite3.Connection) -> str:
    """The model key of the runtime that last wrote the index."""
    meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('model', 'runtime')"))
    return _key(meta["model"], meta.get("runtime", REFERENCE_RUNTIME))


def _key(model: str, runtime: str) -> str:
    return model if runtime == REFERENCE_RUNTIME else f"{model}@{runtime}"


def encode(vector: np.ndarray) -> bytes:
    """float32 bytes, then the mark and their CRC-32."""
    data = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
    return data + _TRAILER.pack(_MARK, zlib.crc32(data))


def decode(blob: bytes, dimension: int) -> np.ndarray | None:
    """float32 (dimension,); None if the blob fails its checksum."""
    size = 4 * dimension
    if len(blob) != size + _TRAILER.size:
        return None
    mark, crc = _TRAILER.unpack_from(blob, size)
    data = blob[:size]
    if mark != _MARK or zlib.crc32(data) != crc:
        return None
    return np.frombuffer(data, dtype=np.float32)


def dimension_of(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()[0])


def damaged(conn: sqlite3.Connection, passage: int) -> IndexFormatError:
    database = Path(conn.execute("PRAGMA database_list").fetchone()[2])
    return IndexFormatError(
        f"The cached vector of passage {passage} in '{database}' fails its checksum; `paraseek "
        f"repair --index {database.parent}` embeds it again."
    )


def lookup(conn: sqlite3.Connection, key: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
    """The cached vectors of these text hashes; those missing or failing their checksum are
    absent (the writer embeds them again)."""
    dimension = dimension_of(conn) if hashes else 0
    sql = "SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN (?)"
    rows = _each(conn, sql, hashes, key)
    return {h: v for h, blob in rows if (v := decode(blob, dimension)) is not None}


def store(conn: sqlite3.Connection, key: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO embeddings (model, text_hash, vector) VALUES (?, ?, ?)",
        [(key, h, encode(v)) for h, v in zip(hashes, vectors, strict=True)],
    )  # fmt: skip


def passage_vectors(
    conn: sqlite3.Connection, model: str, ids: Sequence[int]
) -> dict[int, np.ndarray]:
    """The cached vectors of these passages by id (ids without one are absent): those of the
    runtime that last wrote the index, else any other runtime's of `model`.

    Raises:
        IndexFormatError: a vector fails its checksum (the message names the fix).
    """
    found: dict[int, np.ndarray] = {}
    dimension = dimension_of(conn) if len(ids) else 0
    for condition, params in (
        ("e.model = ?", [index_key(conn)]),
        ("(e.model = ? OR (e.model > ? AND e.model < ?))", [model, model + "@", model + "A"]),
    ):
        sql = (
            f"SELECT p.id, e.vector FROM passages p JOIN embeddings e ON {condition} "
            "AND e.text_hash = p.text_hash WHERE p.id IN (?)"
        )
        wanted = [int(i) for i in ids if int(i) not in found]
        for pid, blob in list(_each(conn, sql, wanted, *params)):
            if int(pid) in found:
                continue
            vector = decode(blob, dimension)
            if vector is None:
                raise damaged(conn, int(pid))
            found[int(pid)] = vector
        if len(found) == len(set(ids)):
            break
    return found


def stored_vectors(
    conn: sqlite3.Connection, key: str, dimension: int, first: int,
    embed: Callable[[list[str]], np.ndarray], batch: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """(int64 ids, float32 vectors) of the passages with id >= `first`, `batch` at a time.

    A vector missing from the cache under `key` or failing its checksum is embedded with
    `embed` and cached, inside the caller's transaction.
    """
    after = first - 1
    while True:
        rows = conn.execute(
            "SELECT p.id, p.text, p.context, p.text_hash, e.vector FROM passages p "
            "LEFT JOIN embeddings e ON e.model = ? AND e.text_hash = p.text_hash "
            "WHERE p.id > ? ORDER BY p.id LIMIT ?",
            (key, after, batch),
        ).fetchall()
        if not rows:
            return
        after = rows[-1][0]
        matrix = np.zeros((len(rows), dimension), dtype=np.float32)
        cached = [None if r[4] is None else decode(r[4], dimension) for r in rows]
        missing = [i for i, v in enumerate(cached) if v is None]  # or failing its checksum
        for i, vector in enumerate(cached):
            if vector is not None:
                matrix[i] = vector
        if missing:
            fresh = embed([embedded_text(rows[i][2], rows[i][1]) for i in missing])
            matrix[missing] = fresh
            store(conn, key, [rows[i][3] for i in missing], fresh)
        yield np.asarray([r[0] for r in rows], dtype=np.int64), matrix


def sample(
    conn: sqlite3.Connection, key: str, size: int
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Up to `size` random passages with a cached vector under `key` that passes its checksum:
    (int64 ids, text hashes, float32 vectors)."""
    found = conn.execute(
        "SELECT p.id, p.text_hash, e.vector FROM passages p JOIN embeddings e ON e.model = ? AND "
        "e.text_hash = p.text_hash ORDER BY random() LIMIT ?",
        (key, size),
    ).fetchall()
    dimension = dimension_of(conn)
    kept = [(i, h, v) for i, h, blob in found if (v := decode(blob, dimension)) is not None]
    vectors = np.vstack([v for *_, v in kept]) if kept else np.zeros((0, dimension), np.float32)
    return np.array([k[0] for k in kept], np.int64), [k[1] for k in kept], vectors
