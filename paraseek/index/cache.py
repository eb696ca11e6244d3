"""The embedding cache: vectors keyed by (model key, sha256 of the embedded text).

A text whose hash is already cached is never embedded again, whichever document it came
from. The model key names the model and, for anything but the fp32 reference, the runtime
that produced the vector, so switching `--precision` never mixes up vectors silently.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ..corpus import embedded_text
from ..embedder import Embedder

REFERENCE_RUNTIME = "torch-fp32"


def text_hash(text: str) -> str:
    """The cache key of an embedded text: sha256 hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_key(embedder: Embedder) -> str:
    """The cache's key for vectors made by `embedder`: the model id, plus @runtime if not fp32."""
    return _key(embedder.model_id, getattr(embedder, "runtime", REFERENCE_RUNTIME))


def index_key(conn: sqlite3.Connection) -> str:
    """The cache key of the runtime that last wrote the index of `conn` (its meta rows)."""
    meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('model', 'runtime')"))
    return _key(meta["model"], meta.get("runtime", REFERENCE_RUNTIME))


def _key(model: str, runtime: str) -> str:
    return model if runtime == REFERENCE_RUNTIME else f"{model}@{runtime}"


def lookup(conn: sqlite3.Connection, key: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
    """The cached vectors of these text hashes (missing ones are absent), float32 (dimension,)."""
    found: dict[str, np.ndarray] = {}
    for begin in range(0, len(hashes), 500):
        chunk = list(hashes[begin : begin + 500])
        rows = conn.execute(
            f"SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN "
            f"({','.join('?' * len(chunk))})",
            [key, *chunk],
        ).fetchall()
        found.update((h, np.frombuffer(v, dtype=np.float32)) for h, v in rows)
    return found


def store(conn: sqlite3.Connection, key: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
    """Cache `vectors` (shape (len(hashes), dimension), float32) inside the caller's transaction."""
    conn.executemany(
        "INSERT OR REPLACE INTO embeddings (model, text_hash, vector) VALUES (?, ?, ?)",
        [(key, h, np.ascontiguousarray(v, dtype=np.float32).tobytes())
         for h, v in zip(hashes, vectors, strict=True)],
    )  # fmt: skip


def passage_vectors(
    conn: sqlite3.Connection, model: str, ids: Sequence[int]
) -> dict[int, np.ndarray]:
    """The cached vectors of these passages by id (ids without one are absent), float32.

    The vectors of the runtime that last wrote the index first (`index_key`); then any other
    runtime's of the same model `model` (an index updated with another --precision). Both
    lookups use the cache's primary key.
    """
    found: dict[int, np.ndarray] = {}
    for condition, params in (
        ("e.model = ?", [index_key(conn)]),
        ("(e.model = ? OR (e.model > ? AND e.model < ?))", [model, model + "@", model + "A"]),
    ):
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
    return found


def stored_vectors(
    conn: sqlite3.Connection, key: str, dimension: int, first: int,
    embed: Callable[[list[str]], np.ndarray], batch: int,
) -> Iterator[tuple[np.ndarray, np.ndarray, list[str]]]:  # fmt: skip
    """(ids, vectors, embedded texts) of the passages with id >= `first`, `batch` at a time.

    Vectors come from the cache under `key`; a passage whose vector is missing there (its file
    changed between indexing's two passes, or another runtime embedded it) is embedded with
    `embed` and cached, inside the caller's transaction.

    Yields:
        int64 ids (n,), float32 vectors (n, dimension), and the n embedded texts, by id.
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
        missing = [i for i, r in enumerate(rows) if r[4] is None]
        for i, row in enumerate(rows):
            if row[4] is not None:
                matrix[i] = np.frombuffer(row[4], dtype=np.float32)
        texts = [embedded_text(r[2], r[1]) for r in rows]
        if missing:
            fresh = embed([texts[i] for i in missing])
            matrix[missing] = fresh
            store(conn, key, [rows[i][3] for i in missing], fresh)
        yield np.asarray([r[0] for r in rows], dtype=np.int64), matrix, texts


def training_sample(conn: sqlite3.Connection, key: str, size: int) -> np.ndarray:
    """Up to `size` cached vectors of the index's passages, drawn at random; (n, dimension)."""
    rows = conn.execute(
        "SELECT e.vector FROM passages p JOIN embeddings e ON e.model = ? AND "
        "e.text_hash = p.text_hash ORDER BY random() LIMIT ?",
        (key, size),
    ).fetchall()
    return np.vstack([np.frombuffer(r[0], dtype=np.float32) for r in rows])
