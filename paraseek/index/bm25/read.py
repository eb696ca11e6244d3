"""Reading the postings: BM25 of every passage for a query's tokens, and the k best."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

K1, B = 1.2, 0.75  # FTS5's bm25() constants
READY = "keyword_postings"  # the meta key

SCHEMA = """
CREATE TABLE IF NOT EXISTS keyword_lengths (id INTEGER PRIMARY KEY, tokens INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS keyword_postings (
    term TEXT NOT NULL,
    segment INTEGER NOT NULL,
    ids BLOB NOT NULL,
    weights BLOB NOT NULL,
    PRIMARY KEY (term, segment)
);
"""


def ready(conn: sqlite3.Connection) -> bool:
    """Whether every passage is in the postings (False for an index written before them)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (READY,)).fetchone()
    return row is not None and row[0] == "1"


@dataclass(frozen=True)
class Collection:
    """What BM25 needs of one committed version besides the postings (see `collection`).

    Attributes:
        lengths: token count by passage id (float64, index = id), 0 for ids not live.
        live: whether each passage id is in this version.
        count: passages in this version.
        average: their mean token count.
    """

    lengths: np.ndarray
    live: np.ndarray
    count: int
    average: float


def collection(conn: sqlite3.Connection) -> Collection:
    """The passages' lengths and ids, read in the caller's snapshot; readers keep one per version."""
    rows = conn.execute("SELECT id, tokens FROM keyword_lengths").fetchall()
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    tokens = np.fromiter((r[1] for r in rows), np.float64, len(rows))
    size = int(ids.max()) + 1 if len(ids) else 1
    lengths, live = np.zeros(size), np.zeros(size, dtype=bool)
    lengths[ids], live[ids] = tokens, True
    average = float(tokens.sum() / len(ids)) if len(ids) else 0.0
    return Collection(lengths, live, len(ids), average)


def scores(conn: sqlite3.Connection, stats: Collection, tokens: Sequence[str]) -> np.ndarray:
    """BM25 of every passage for these tokens (each one of FTS5's OR-ed phrases).

    Returns:
        float64 scores indexed by passage id (`stats.live`'s length), 0 where no token occurs;
        a score equals -bm25() of FTS5 for the same query. A token given twice counts twice,
        as a repeated FTS5 phrase does.
    """
    totals = np.zeros(len(stats.live))
    for token in tokens:
        ids, weights = postings(conn, token, stats.live)
        if not len(ids):
            continue
        df = len(ids)
        idf = math.log((stats.count - df + 0.5) / (df + 0.5))
        idf = idf if idf > 0 else 1e-6  # as FTS5 does for terms in over half the rows
        norm = K1 * (1 - B + B * stats.lengths[ids] / stats.average)
        totals[ids] += idf * weights * (K1 + 1) / (weights + norm)  # ids are distinct
    return totals


def best(
    totals: np.ndarray, k: int, passage_ids: Sequence[int] | None = None
) -> list[tuple[int, float]]:
    """The k best of `scores`' result, only passages with a score, as (id, score); ties by id.

    Args:
        passage_ids: if given, only these passages (ids beyond `totals` have no score).
    """
    if passage_ids is None:
        matched = np.flatnonzero(totals)  # every posting scores above 0 (idf >= 1e-6)
    else:
        wanted = np.unique(np.asarray(passage_ids, dtype=np.int64))
        wanted = wanted[(wanted >= 0) & (wanted < len(totals))]
        matched = wanted[totals[wanted] > 0]
    found = totals[matched]
    if len(matched) > k:
        part = np.argpartition(-found, k - 1)[:k]
        matched, found = matched[part], found[part]
    order = np.lexsort((matched, -found))
    return [(int(matched[i]), float(found[i])) for i in order]


def postings(
    conn: sqlite3.Connection, token: str, live: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A token's live postings: passage ids (int64) and weighted counts (float64)."""
    rows = conn.execute(
        "SELECT ids, weights FROM keyword_postings WHERE term = ?", (token,)
    ).fetchall()
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0)
    if any(len(i) % 8 or len(i) != 2 * len(w) for i, w in rows):
        # As SQLite reports a damaged page: the reader turns it into IndexFormatError.
        raise sqlite3.DatabaseError(f"BM25 postings of term '{token}' are damaged")
    ids = np.concatenate([np.frombuffer(r[0], np.int64) for r in rows])
    weights = np.concatenate([np.frombuffer(r[1], np.float32) for r in rows]).astype(np.float64)
    if len(ids) and ids.min() < 0:
        raise sqlite3.DatabaseError(f"BM25 postings of term '{token}' are damaged")
    keep = ids < len(live)
    keep[keep] = live[ids[keep]]
    return ids[keep], weights[keep]
