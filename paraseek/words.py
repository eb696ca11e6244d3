"""Close words: query-word coverage that counts a word the passage says in another form or
with another word of the same sense.

A claim writes "tumour", "reduces" or "metastases" where the abstract that answers it writes
"tumor", "decreases" or "metastatic"; BM25 and the exact coverage see nothing in common. At
index time every distinct word of the collection (lower-cased, stop words aside; numbers only
match as written) is embedded on its own by the collection's model and stored at 4 bits a
dimension (`encode`: 200 bytes a word for 384 dimensions). At search time `coverage` gives each
candidate the IDF-weighted share of the query's words it holds, a word held as written counting
1 and one held only through its closest word of the passage counting by how close that word is.
Tuned on SciFact train and the golden questions (docs/quality.md, "Close words").
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import struct
import zlib
from collections.abc import Sequence

import numpy as np

from .embedder import Embedder
from .embedder.cache import cache_root

# A word of the passage whose cosine with a query word is CLOSE or less does not count; from
# there the query word counts linearly more, fully at cosine 1 (the word itself).
CLOSE = 0.4
_CRC = struct.Struct("<I")
# Embedded again with each run: a machine's cache of word vectors whose probe no longer embeds
# as it did (the model's weights changed under the same name) is emptied.
_PROBE = "paraseek"


def embeddable(word: str) -> bool:
    """Whether a word gets a vector: a number matches only as written."""
    return not word.isdigit()


def encode(vectors: np.ndarray) -> list[bytes]:
    """float32 rows -> one blob each: a float32 scale, the 4-bit codes (-7 to 7 times the
    scale, two a byte), and the CRC-32 of what precedes it."""
    matrix = np.asarray(vectors, dtype=np.float32)
    scales = np.abs(matrix).max(axis=1) / 7.0
    scales[scales == 0] = 1.0
    codes = (np.clip(np.rint(matrix / scales[:, None]), -7, 7) + 8).astype(np.uint8)
    if codes.shape[1] % 2:
        codes = np.hstack([codes, np.full((len(codes), 1), 8, np.uint8)])
    packed = (codes[:, 0::2] << 4) | codes[:, 1::2]
    out = []
    for scale, row in zip(scales.astype(np.float32), packed, strict=True):
        data = scale.tobytes() + row.tobytes()
        out.append(data + _CRC.pack(zlib.crc32(data)))
    return out


def sound(blob: bytes, dimension: int) -> bool:
    """Whether a blob is one `encode` wrote for `dimension` dimensions, checksum included."""
    size = 4 + (dimension + 1) // 2
    return len(blob) == size + _CRC.size and _CRC.unpack(blob[size:])[0] == zlib.crc32(blob[:size])


def decode(blobs: Sequence[bytes], dimension: int) -> np.ndarray:
    """The unit-length float32 rows (len(blobs), dimension) of sound blobs (see `sound`)."""
    if not blobs:
        return np.zeros((0, dimension), dtype=np.float32)
    raw = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), -1)
    scales = raw[:, :4].copy().view(np.float32)
    packed = raw[:, 4 : -_CRC.size]
    codes = np.empty((len(blobs), 2 * packed.shape[1]), dtype=np.float32)
    codes[:, 0::2], codes[:, 1::2] = packed >> 4, packed & 15
    matrix = (codes[:, :dimension] - 8) * scales
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)


def embedded(embedder: Embedder, key: str, wanted: Sequence[str]) -> list[bytes]:
    """The `encode`d vectors of `wanted` words: from this machine's cache of word vectors
    ($PARASEEK_CACHE/words/, one database per model key, shared by every index) where it has
    them, else embedded with `embedder` and added to it. Without a usable cache (unwritable,
    damaged) every word is embedded."""
    if not wanted:
        return []
    found: dict[str, bytes] = {}
    conn = _machine_cache(embedder, key)
    try:
        for start in range(0, len(wanted) if conn else 0, 500):
            chunk = list(wanted[start : start + 500])
            rows = conn.execute(  # type: ignore[union-attr]
                f"SELECT word, vector FROM words WHERE word IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            found |= {w: b for w, b in rows if sound(b, embedder.dimension)}
    except sqlite3.Error:
        conn = None
    missing = [w for w in wanted if w not in found]
    new = dict(
        zip(missing, encode(embedder.embed_queries(missing)) if missing else [], strict=True)
    )
    if conn is not None and new:
        try:
            with conn:
                conn.executemany("INSERT OR REPLACE INTO words VALUES (?, ?)", new.items())
        except sqlite3.Error:
            pass
    if conn is not None:
        conn.close()
    return [found.get(w) or new[w] for w in wanted]


def _machine_cache(embedder: Embedder, key: str) -> sqlite3.Connection | None:
    """This machine's word-vector database for the model `key`, checked against the probe
    word; None where it cannot be opened or written."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", key)[-80:]
    path = cache_root() / "words" / f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:8]}.db"
    probe = encode(embedder.embed_queries([_PROBE]))[0]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        with conn:
            conn.execute("CREATE TABLE IF NOT EXISTS words (word TEXT PRIMARY KEY, vector BLOB)")
            row = conn.execute("SELECT vector FROM words WHERE word = ?", (_PROBE,)).fetchone()
            same = (
                row is not None
                and sound(row[0], embedder.dimension)
                and _close(row[0], probe, embedder.dimension)
            )
            if not same:
                conn.execute("DELETE FROM words")
                conn.execute("INSERT INTO words VALUES (?, ?)", (_PROBE, probe))
        return conn
    except (OSError, sqlite3.Error):
        return None


def _close(a: bytes, b: bytes, dimension: int) -> bool:
    """Whether two word vectors are the same one, up to the last digits a batch moves."""
    x, y = decode([a, b], dimension)
    return float(x @ y) > 0.999


def coverage(
    idfs: np.ndarray, query_vectors: np.ndarray, exact: np.ndarray,
    rows: Sequence[np.ndarray], vectors: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Each passage's share of the query's words, by IDF, counting close words.

    Args:
        idfs: each query word's IDF, shape (m,).
        query_vectors: each query word's unit vector, (m, dimension); zeros for a word without
            one (a number).
        exact: (passages, m), 1 where the passage holds the query word as written.
        rows: per passage, the rows of `vectors` of its words.
        vectors: unit word vectors (n, dimension).

    Returns:
        per passage, 0 to 1: sum over the query's words of IDF x max(exact, (c - CLOSE) /
        (1 - CLOSE)), c the largest cosine of the word with the passage's words, over the
        summed IDFs.
    """
    held = np.array(exact, dtype=np.float64)
    counts = np.array([len(r) for r in rows])
    if len(idfs) and counts.sum():
        flat = np.concatenate([r for r in rows if len(r)])
        unique, at = np.unique(flat, return_inverse=True)
        cosines = (vectors[unique] @ query_vectors.T)[at]
        some = np.flatnonzero(counts)
        best = np.maximum.reduceat(cosines, np.cumsum([0, *counts[some][:-1]]), axis=0)
        held[some] = np.maximum(held[some], np.clip((best - CLOSE) / (1 - CLOSE), 0, 1))
    return held @ idfs / (float(np.sum(idfs)) or 1.0)
