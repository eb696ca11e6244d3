"""Writing the postings inside the writer's transaction, in segments; merging; backfilling."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from .read import READY, collection
from .tokens import count_terms

MAX_SEGMENTS = 8
_TOKENIZE_BATCH = 512  # passages per in-memory FTS5 table
_FLUSH_POSTINGS = 500_000  # postings held (as Python lists: ~40 MB) before a segment is written


class PostingsWriter:
    """Adds passages to the postings inside the writer's transaction; memory stays bounded.

    Call `add` with each new passage, `remove` with removed ids, and `finish` before commit.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._pending: list[tuple[int, str, str]] = []
        self._terms: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        self._held = 0
        self._touched: set[str] = set()

    def add(self, passage_id: int, text: str, context: str) -> None:
        """Queue one passage; it is tokenized with others in batches."""
        self._pending.append((passage_id, text, context))
        if len(self._pending) >= _TOKENIZE_BATCH:
            self._tokenize()

    def remove(self, ids: Sequence[int]) -> None:
        """Drop these passages (their postings are skipped, then merged away)."""
        self._conn.executemany("DELETE FROM keyword_lengths WHERE id = ?", [(i,) for i in ids])

    def finish(self) -> None:
        """Write what is held as a segment and merge terms with too many segments."""
        self._tokenize()
        self._flush()
        live: np.ndarray | None = None
        for term in sorted(self._touched):
            (segments,) = self._conn.execute(
                "SELECT count(*) FROM keyword_postings WHERE term = ?", (term,)
            ).fetchone()
            if segments > MAX_SEGMENTS:
                live = collection(self._conn).live if live is None else live
                self._merge(term, live)
        self._touched.clear()

    def _tokenize(self) -> None:
        if not self._pending:
            return
        postings, lengths = count_terms(self._pending)
        self._pending = []
        self._conn.executemany("INSERT INTO keyword_lengths (id, tokens) VALUES (?, ?)", lengths)
        for term, passage_id, weight in postings:
            ids, weights = self._terms[term]
            ids.append(passage_id)
            weights.append(weight)
        self._held += len(postings)
        if self._held >= _FLUSH_POSTINGS:
            self._flush()

    def _flush(self) -> None:
        if not self._terms:
            return
        segment = self._next_segment()
        self._conn.executemany(
            "INSERT INTO keyword_postings (term, segment, ids, weights) VALUES (?, ?, ?, ?)",
            (
                (term, segment, _ids_blob(ids), np.asarray(weights, np.float32).tobytes())
                for term, (ids, weights) in self._terms.items()
            ),
        )
        self._touched.update(self._terms)
        self._terms.clear()
        self._held = 0

    def _next_segment(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'keyword_segment'").fetchone()
        segment = int(row[0]) + 1 if row else 1
        self._conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('keyword_segment', ?)",
            (str(segment),),
        )
        return segment

    def _merge(self, term: str, live: np.ndarray) -> None:
        """Rewrite a term's segments as one, without the passages removed since."""
        rows = self._conn.execute(
            "SELECT segment, ids, weights FROM keyword_postings WHERE term = ? ORDER BY segment",
            (term,),
        ).fetchall()
        ids = np.concatenate([np.frombuffer(r[1], np.int64) for r in rows])
        weights = np.concatenate([np.frombuffer(r[2], np.float32) for r in rows])
        keep = ids < len(live)
        keep[keep] = live[ids[keep]]
        self._conn.execute("DELETE FROM keyword_postings WHERE term = ?", (term,))
        if keep.any():
            self._conn.execute(
                "INSERT INTO keyword_postings (term, segment, ids, weights) VALUES (?, ?, ?, ?)",
                (term, rows[-1][0], ids[keep].tobytes(), weights[keep].tobytes()),
            )


def _ids_blob(ids: list[int]) -> bytes:
    return np.asarray(ids, np.int64).tobytes()


def backfill(conn: sqlite3.Connection) -> None:
    """Inside a write transaction: build the postings of every passage, then mark them ready."""
    conn.execute("DELETE FROM keyword_lengths")
    conn.execute("DELETE FROM keyword_postings")
    writer = PostingsWriter(conn)
    last = 0
    while True:
        rows = conn.execute(
            "SELECT id, text, context FROM passages WHERE id > ? ORDER BY id LIMIT 4096", (last,)
        ).fetchall()
        if not rows:
            break
        for row in rows:
            writer.add(*row)
        last = rows[-1][0]
    writer.finish()
    mark_ready(conn)


def mark_ready(conn: sqlite3.Connection) -> None:
    """Record that every passage is in the postings."""
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')", (READY,))
