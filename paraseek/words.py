"""Close words: query-word coverage that counts a word the passage says in another form or
with another word of the same sense.

A claim writes "tumour", "reduces" or "metastases" where the abstract that answers it writes
"tumor", "decreases" or "metastatic"; BM25 and the exact coverage see nothing in common. At
index time every distinct word of the collection (lower-cased, stop words aside; numbers only
match as written) is embedded on its own by the collection's model, projected on the model's
first DIMENSIONS principal axes of word meaning (`basis`) and stored at 4 bits a dimension
(`rows`, `block`: 66 bytes a word). At search time `coverage` gives each candidate the
IDF-weighted share of the query's words it holds, a word held as written counting 1 and one
held only through its closest word of the passage counting by how close that word is. Tuned on
SciFact train and the golden questions (docs/quality.md, "Close words").
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .embedder import Embedder
from .embedder.auto import calibration_words
from .embedder.cache import cache_root

# A word of the passage whose cosine with a query word is CLOSE or less does not count; from
# there the query word counts linearly more, fully at cosine 1 (the word itself).
CLOSE = 0.4
# Word vectors keep this many principal axes: on SciFact train 128 score as the model's 384
# (docs/quality.md), at a third of the bytes.
DIMENSIONS = 128
_CRC = struct.Struct("<I")
# Embedded again with each run: a machine's cache of word vectors whose probe no longer embeds
# as it did (the model's weights changed under the same name) is emptied.
_PROBE = "paraseek"


def embeddable(word: str) -> bool:
    """Whether a word gets a vector: a number matches only as written."""
    return not word.isdigit()


def basis(embedder: Embedder, key: str) -> np.ndarray:
    """The model's first DIMENSIONS principal axes of word meaning, (axes, dimension) float32:
    those of its vectors of the words of the int8 calibration text (uncentred), each signed so
    that its largest component is positive (the same axes on every machine); the identity
    for a model of at most DIMENSIONS dimensions. Computed once per model key on this machine
    and kept in its cache ($PARASEEK_CACHE/words/), checked against the probe word."""
    dimension = embedder.dimension
    if dimension <= DIMENSIONS:
        return np.eye(dimension, dtype=np.float32)
    probe = embedder.embed_queries([_PROBE])[0].astype(np.float32)
    path = _cache_path(key, "axes")
    try:
        kept = unblock(path.read_bytes())
    except OSError:
        kept = None
    if kept is not None and len(kept) == 4 * dimension + 2 * DIMENSIONS * dimension:
        if float(np.frombuffer(kept[: 4 * dimension], np.float32) @ probe) > 0.999:
            return (
                np.frombuffer(kept[4 * dimension :], np.float16)
                .reshape(-1, dimension)
                .astype(np.float32)
            )
    vectors = embedder.embed_queries(calibration_words())
    axes = np.linalg.svd(vectors.astype(np.float64), full_matrices=False)[2][:DIMENSIONS]
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    stored = axes.astype(np.float16)
    try:  # written whole, then renamed: another process reads the old file or the new one
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(block([probe.tobytes(), stored.tobytes()]))
        os.replace(temporary, path)
    except OSError:
        pass
    return stored.astype(np.float32)


def _cache_path(key: str, suffix: str) -> Path:
    """Where this machine keeps something of the model `key` for close words."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", key)[-60:]
    return (
        cache_root() / "words" / f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:8]}.{suffix}"
    )


def rows(vectors: np.ndarray, axes: np.ndarray) -> list[bytes]:
    """float32 vectors -> each one's stored row: its projection on `axes`, a float16 scale and
    4-bit codes (-7 to 7 times the scale, two a byte)."""
    projected = np.asarray(vectors, dtype=np.float32) @ axes.T
    scales = (np.abs(projected).max(axis=1) / 7.0).astype(np.float16)
    scales[scales == 0] = 1.0
    codes = (np.clip(np.rint(projected / scales[:, None]), -7, 7) + 8).astype(np.uint8)
    if codes.shape[1] % 2:
        codes = np.hstack([codes, np.full((len(codes), 1), 8, np.uint8)])
    packed = (codes[:, 0::2] << 4) | codes[:, 1::2]
    return [s.tobytes() + p.tobytes() for s, p in zip(scales, packed, strict=True)]


def block(parts: Sequence[bytes]) -> bytes:
    """Rows (or any bytes) joined, with the CRC-32 of them at the end."""
    data = b"".join(parts)
    return data + _CRC.pack(zlib.crc32(data))


def unblock(blob: bytes) -> bytes | None:
    """What `block` joined, or None if it fails its checksum."""
    data = blob[: -_CRC.size]
    if len(blob) < _CRC.size or _CRC.unpack(blob[-_CRC.size :])[0] != zlib.crc32(data):
        return None
    return data


def decode(data: bytes, axes: int) -> np.ndarray:
    """Joined rows of `axes` dimensions -> unit float32 vectors (n, axes)."""
    width = 2 + (axes + 1) // 2
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, width)
    scales = raw[:, :2].copy().view(np.float16).astype(np.float32)
    packed = raw[:, 2:]
    codes = np.empty((len(raw), 2 * packed.shape[1]), dtype=np.float32)
    codes[:, 0::2], codes[:, 1::2] = packed >> 4, packed & 15
    matrix = (codes[:, :axes] - 8) * scales
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)


def project(vectors: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Unit vectors of the model -> unit vectors on `axes` (a query's words)."""
    projected = np.asarray(vectors, dtype=np.float32) @ axes.T
    return projected / np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-9)


def embedded(embedder: Embedder, key: str, axes: np.ndarray, wanted: Sequence[str]) -> list[bytes]:
    """The `rows` of `wanted` words: from this machine's cache of word vectors
    ($PARASEEK_CACHE/words/, one database per model key and axes, shared by every index)
    where it has them, else embedded with `embedder` and added to it. Without a usable cache
    (unwritable, damaged) every word is embedded."""
    if not wanted:
        return []
    found: dict[str, bytes] = {}
    conn = _machine_cache(embedder, key, axes)
    try:
        for start in range(0, len(wanted) if conn else 0, 500):
            chunk = list(wanted[start : start + 500])
            marks = ",".join("?" * len(chunk))
            got = conn.execute(f"SELECT word, row FROM words WHERE word IN ({marks})", chunk)  # type: ignore[union-attr]
            found |= {w: row for w, b in got if (row := unblock(b)) is not None}
    except sqlite3.Error:
        conn = None
    missing = [w for w in wanted if w not in found]
    new = dict(
        zip(missing, rows(embedder.embed_queries(missing), axes) if missing else [], strict=True)
    )
    if conn is not None and new:
        try:
            with conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO words VALUES (?, ?)",
                    ((w, block([row])) for w, row in new.items()),
                )
        except sqlite3.Error:
            pass
    if conn is not None:
        conn.close()
    return [found.get(w) or new[w] for w in wanted]


def _machine_cache(embedder: Embedder, key: str, axes: np.ndarray) -> sqlite3.Connection | None:
    """This machine's word-vector database for the model `key` and these axes, checked
    against the probe word; None where it cannot be opened or written."""
    name = hashlib.sha256(axes.astype(np.float16).tobytes()).hexdigest()[:8]
    path = _cache_path(key, f"{name}.db")
    probe = rows(embedder.embed_queries([_PROBE]), axes)[0]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        with conn:
            conn.execute("CREATE TABLE IF NOT EXISTS words (word TEXT PRIMARY KEY, row BLOB)")
            got = conn.execute("SELECT row FROM words WHERE word = ?", (_PROBE,)).fetchone()
            kept = unblock(got[0]) if got else None
            width = len(axes)
            if kept is None or float(decode(kept, width)[0] @ decode(probe, width)[0]) < 0.999:
                conn.execute("DELETE FROM words")
                conn.execute("INSERT INTO words VALUES (?, ?)", (_PROBE, block([probe])))
        return conn
    except (OSError, sqlite3.Error):
        return None


def failing(conn: sqlite3.Connection) -> list[int]:
    """The numbers of an index's word blocks that fail their checksum (none in an index older
    than word vectors)."""
    try:
        found = conn.execute("SELECT block, vectors FROM word_blocks").fetchall()
    except sqlite3.OperationalError:
        return []
    return [number for number, blob in found if unblock(blob) is None]


def load(
    blocks: Sequence[tuple[int, str, bytes]], dimension: int
) -> tuple[dict[str, int], np.ndarray, np.ndarray | None]:
    """An index's word blocks (number, words joined by newlines, `block` of their rows; block 0
    holds the axes as float16) -> (word -> row, unit vectors (n, axes), axes); a block failing
    its checksum is left out, and all of them if the axes fail theirs (axes None)."""
    axes, names, parts = None, [], []
    for number, text, blob in blocks:
        data = unblock(blob)
        if data is not None and number == 0 and len(data) % (2 * dimension) == 0:
            axes = np.frombuffer(data, np.float16).reshape(-1, dimension).astype(np.float32)
        elif data is not None and number > 0:
            names.append(text.split("\n"))
            parts.append(data)
    if axes is None:
        return {}, np.zeros((0, 1), dtype=np.float32), None
    width = 2 + (len(axes) + 1) // 2
    sound = [(n, d) for n, d in zip(names, parts, strict=True) if len(d) == width * len(n)]
    every = [w for n, _ in sound for w in n]
    matrix = decode(b"".join(d for _, d in sound), len(axes))
    return {w: i for i, w in enumerate(every)}, matrix, axes


def coverage(
    idfs: np.ndarray, query_vectors: np.ndarray, exact: np.ndarray,
    members: Sequence[np.ndarray], vectors: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Each passage's share of the query's words, by IDF, counting close words.

    Args:
        idfs: each query word's IDF, shape (m,).
        query_vectors: each query word's unit vector on the axes, (m, axes); zeros for a word
            without one (a number).
        exact: (passages, m), 1 where the passage holds the query word as written.
        members: per passage, the rows of `vectors` of its words.
        vectors: unit word vectors (n, axes).

    Returns:
        per passage, 0 to 1: sum over the query's words of IDF x max(exact, (c - CLOSE) /
        (1 - CLOSE)), c the largest cosine of the word with the passage's words, over the
        summed IDFs.
    """
    held = np.array(exact, dtype=np.float64)
    counts = np.array([len(r) for r in members])
    if len(idfs) and counts.sum():
        flat = np.concatenate([r for r in members if len(r)])
        unique, at = np.unique(flat, return_inverse=True)
        cosines = (vectors[unique] @ query_vectors.T)[at]
        some = np.flatnonzero(counts)
        best = np.maximum.reduceat(cosines, np.cumsum([0, *counts[some][:-1]]), axis=0)
        held[some] = np.maximum(held[some], np.clip((best - CLOSE) / (1 - CLOSE), 0, 1))
    return held @ idfs / (float(np.sum(idfs)) or 1.0)
