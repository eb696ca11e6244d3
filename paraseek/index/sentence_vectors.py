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
    found = decode_many([blob], dimension)
    return found[0] if found else None


def decode_many(blobs: Sequence[bytes], dimension: int) -> dict[int, np.ndarray]:
    """`decode` of many blobs at once (one conversion for all): position in `blobs` -> float32
    (n, dimension); blobs failing their checksum are absent."""
    sound = [(n, b, c) for n, b in enumerate(blobs) if (c := _sentences(b, dimension))]
    if not sound:
        return {}
    scales = np.frombuffer(b"".join(b[: 4 * c] for _, b, c in sound), dtype=np.float32)
    codes = np.frombuffer(b"".join(b[4 * c : -_TRAILER.size] for _, b, c in sound), np.int8)
    matrix = codes.reshape(-1, dimension).astype(np.float32) * scales[:, None]
    bounds = np.cumsum([0, *(c for _, _, c in sound)])
    return {n: matrix[bounds[i] : bounds[i + 1]] for i, (n, _, _) in enumerate(sound)}


def _sentences(blob: bytes, dimension: int) -> int:
    """How many vectors a blob holds; 0 if it fails its checksum or has not their size."""
    size = len(blob) - _TRAILER.size
    if size <= 0 or size % (4 + dimension):
        return 0
    mark, crc = _TRAILER.unpack_from(blob, size)
    return size // (4 + dimension) if mark == _MARK and zlib.crc32(blob[:size]) == crc else 0


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
    with none (one sentence, or a vector embedded again without its sentences by pass 2 or a
    repair) and rows failing their checksum are absent (those passages rank by their vector)."""
    rows: list[tuple[int, bytes]] = []
    unique = sorted({int(i) for i in ids})
    for begin in range(0, len(unique), 500):
        chunk = unique[begin : begin + 500]
        rows += conn.execute(
            "SELECT p.id, s.vectors FROM passages p JOIN sentence_vectors s ON s.model = ? "
            f"AND s.text_hash = p.text_hash WHERE p.id IN ({','.join('?' * len(chunk))})",
            [key, *chunk],
        ).fetchall()
    found = decode_many([blob for _, blob in rows], dimension)
    return {int(rows[n][0]): matrix for n, matrix in found.items()}


def failing(conn: sqlite3.Connection, key: str, dimension: int) -> list[str]:
    """Text hashes of the index's passages whose sentence vectors fail their checksum."""
    rows = conn.execute(
        "SELECT DISTINCT s.text_hash, s.vectors FROM passages p JOIN sentence_vectors s "
        "ON s.model = ? AND s.text_hash = p.text_hash",
        (key,),
    )
    return sorted(h for h, blob in rows if not _sentences(blob, dimension))


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
