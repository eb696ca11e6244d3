"""Sentence vectors: each passage's sentences, pooled out of the passage's own forward pass at
index time (`Embedder.embed_passages`), stored as int8 beside the embedding cache.

Keyed like the cache, by (model key, sha256 of the passage's embedded text): an unchanged
passage keeps them, a changed one gets new ones with its new vector. Only passages of two
sentences or more have a row; a one-sentence passage's sentence is the passage. A search reads
the rows of its top candidates and scores their sentences with one small product
(`paraseek.sentences`).

A row's blob: n float32 scales, n x dimension int8 codes (each vector over its own scale),
then the cache's trailer (a mark and the CRC-32 of what precedes it).
"""

from __future__ import annotations

import sqlite3
import struct
import zlib
from collections.abc import Callable, Sequence

import numpy as np

from ..corpus import embedded_text, normalise_space, sentence_spans

_TRAILER = struct.Struct("<4sI")
_MARK = b"snt1"


def spans(context: str, text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text` in its embedded text
    (`corpus.embedded_text(context, text)`); none for a text of fewer than two sentences."""
    found = sentence_spans(text)
    if len(found) < 2:
        return []
    embedded = embedded_text(context, text)
    cursor = len(normalise_space(context)) if context else 0
    out: list[tuple[int, int]] = []
    for a, b in found:
        sentence = normalise_space(text[a:b])
        start = embedded.find(sentence, cursor)
        if not sentence or start < 0:  # cannot happen for collapsed whitespace; kept safe
            return []
        out.append((start, start + len(sentence)))
        cursor = start + len(sentence)
    return out


def encode(vectors: np.ndarray) -> bytes:
    """float32 rows (n, dimension) -> the stored blob (see the module docstring)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    scales = np.abs(matrix).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    codes = np.rint(matrix / scales[:, None]).astype(np.int8)
    data = scales.astype(np.float32).tobytes() + codes.tobytes()
    return data + _TRAILER.pack(_MARK, zlib.crc32(data))


def decode(blob: bytes, dimension: int) -> np.ndarray | None:
    """The float32 vectors (n, dimension) of a blob written by `encode`; None if it fails its
    checksum or its size is not one of `dimension`-d vectors."""
    data = blob[: -_TRAILER.size]
    if len(blob) < _TRAILER.size or len(data) % (4 + dimension):
        return None
    mark, crc = _TRAILER.unpack_from(blob, len(data))
    if mark != _MARK or zlib.crc32(data) != crc:
        return None
    count = len(data) // (4 + dimension)
    scales = np.frombuffer(data, dtype=np.float32, count=count)
    codes = np.frombuffer(data, dtype=np.int8, offset=4 * count).reshape(count, dimension)
    return codes.astype(np.float32) * scales[:, None]


def store(conn: sqlite3.Connection, key: str, rows: dict[str, bytes]) -> None:
    """Write `rows` (text hash -> blob) inside the caller's transaction."""
    conn.executemany(
        "INSERT OR REPLACE INTO sentence_vectors (model, text_hash, vectors) VALUES (?, ?, ?)",
        [(key, h, blob) for h, blob in rows.items()],
    )


def passage_sentences(
    conn: sqlite3.Connection, key: str, dimension: int, ids: Sequence[int]
) -> dict[int, np.ndarray]:
    """The sentence vectors of these passages by id, float32 (sentences, dimension); passages
    with none (one sentence, or embedded where sentences are not pooled: a Ray worker, a
    repair) and rows failing their checksum are absent (those passages rank by their vector)."""
    found: dict[int, np.ndarray] = {}
    unique = sorted({int(i) for i in ids})
    for begin in range(0, len(unique), 500):
        chunk = unique[begin : begin + 500]
        marks = ",".join("?" * len(chunk))
        for pid, blob in conn.execute(
            "SELECT p.id, s.vectors FROM passages p JOIN sentence_vectors s ON s.model = ? "
            f"AND s.text_hash = p.text_hash WHERE p.id IN ({marks})",
            [key, *chunk],
        ):
            matrix = decode(blob, dimension)
            if matrix is not None:
                found[int(pid)] = matrix
    return found


def failing(conn: sqlite3.Connection, key: str, dimension: int) -> list[str]:
    """Text hashes of the index's passages whose sentence vectors fail their checksum."""
    rows = conn.execute(
        "SELECT DISTINCT s.text_hash, s.vectors FROM passages p JOIN sentence_vectors s "
        "ON s.model = ? AND s.text_hash = p.text_hash",
        (key,),
    )
    return sorted(h for h, blob in rows if decode(blob, dimension) is None)


def pool_again(
    conn: sqlite3.Connection, key: str, hashes: Sequence[str],
    embed: Callable[[list[str], list[list[tuple[int, int]]]], tuple[np.ndarray, list[np.ndarray]]],
) -> None:  # fmt: skip
    """Pool the sentence vectors of these text hashes again (`Embedder.embed_passages`) and
    store them in one transaction; the passages' cached vectors are left as they are."""
    found = conn.execute(
        f"SELECT text_hash, text, context FROM passages WHERE text_hash IN "
        f"({','.join('?' * len(hashes))}) GROUP BY text_hash",
        list(hashes),
    ).fetchall()
    wanted = [spans(context, text) for _, text, context in found]
    _, pooled = embed([embedded_text(c, t) for _, t, c in found], wanted)
    conn.execute("BEGIN IMMEDIATE")
    try:
        store(conn, key, {r[0]: encode(m) for r, m in zip(found, pooled, strict=True) if len(m)})
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
