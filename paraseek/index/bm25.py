"""BM25 from posting lists in the index database: FTS5's bm25() scores without its per-row cost.

FTS5's bm25() costs about 2.5 us for every row that matches any query term, and nothing prunes
that work, so the keyword side of a query grew with the collection (about 60 ms at 100k
passages). Here each query term's postings are read from the database as NumPy arrays and
scored in one pass. The scores are FTS5's bm25(passages_fts, 1.0, CONTEXT_WEIGHT): the same
tokenizer (an in-memory FTS5 table with the index's settings), the same formula, IDF and
lengths. Rankings are unchanged; tests/test_bm25.py checks that against FTS5 itself.

Tables (written in the writer's transaction, so always in step with the passages):
- keyword_lengths(id, tokens): each passage's token count, text and context together.
- keyword_postings(term, segment, ids, weights): a term's passage ids (int64) and weighted
  term frequencies (float32), one row per segment. Each write adds a segment for every term
  it touches; a term with more than MAX_SEGMENTS segments is merged into one, without the
  passages removed since. Until then a removed passage's postings stay, and queries skip
  every id that keyword_lengths lacks.
- meta "keyword_postings" = "1" once every passage is in them; an index written before they
  existed gets them the next time it is written to, and is read through FTS5 until then.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TOKENIZE = "porter unicode61 remove_diacritics 2"  # passages_fts's tokenizer (folder.SCHEMA)
CONTEXT_WEIGHT = 0.5  # a match in the title or heading counts half a match in the passage
K1, B = 1.2, 0.75  # FTS5's bm25() constants
READY = "keyword_postings"  # the meta key
MAX_SEGMENTS = 8
_TOKENIZE_BATCH = 512  # passages per in-memory FTS5 table
_FLUSH_POSTINGS = 500_000  # postings held (as Python lists: ~40 MB) before a segment is written

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


def _scratch() -> sqlite3.Connection:
    """An in-memory FTS5 table tokenizing like passages_fts, with its instance vocabulary."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        f"CREATE VIRTUAL TABLE t USING fts5(text, context, tokenize = '{TOKENIZE}');"
        "CREATE VIRTUAL TABLE v USING fts5vocab(t, instance);"
    )
    return conn


def count_terms(
    rows: Sequence[tuple[int, str, str]],
) -> tuple[list[tuple[str, int, float]], list[tuple[int, int]]]:
    """Tokenize passages (id, text, context) as FTS5 does.

    Returns:
        (postings, lengths): (term, id, text count + CONTEXT_WEIGHT x context count) for every
        term of every passage, and (id, token count) for every passage.
    """
    conn = _scratch()
    try:
        conn.executemany("INSERT INTO t (rowid, text, context) VALUES (?, ?, ?)", rows)
        postings = conn.execute(
            "SELECT term, doc, sum(CASE col WHEN 'text' THEN 1.0 ELSE ? END) FROM v "
            "GROUP BY term, doc",
            (CONTEXT_WEIGHT,),
        ).fetchall()
        counted = dict(conn.execute("SELECT doc, count(*) FROM v GROUP BY doc").fetchall())
    finally:
        conn.close()
    return postings, [(i, int(counted.get(i, 0))) for i, _, _ in rows]


_local = threading.local()


@contextmanager
def _query_scratch() -> Iterator[sqlite3.Connection]:
    """This thread's scratch table for a query's few rows (creating one costs ~0.4 ms), emptied after."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = _scratch()
    try:
        yield conn
    finally:
        conn.execute("DELETE FROM t")


def highlighted(
    rows: Sequence[tuple[int, str, str]], expression: str, open_mark: str, close_mark: str
) -> list[tuple[int, str]]:
    """(id, text with each match of the FTS5 `expression` marked) for the passages that match."""
    with _query_scratch() as conn:
        conn.executemany("INSERT INTO t (rowid, text, context) VALUES (?, ?, ?)", rows)
        return conn.execute(
            "SELECT rowid, highlight(t, 0, ?, ?) FROM t WHERE t MATCH ?",
            (open_mark, close_mark, expression),
        ).fetchall()


@lru_cache(maxsize=4096)
def term_tokens(word: str) -> tuple[str, ...]:
    """The FTS5 tokens of one query word, e.g. "Elections" -> ("elect",)."""
    with _query_scratch() as conn:
        conn.execute("INSERT INTO t (rowid, text, context) VALUES (1, ?, '')", (word,))
        return tuple(t for (t,) in conn.execute("SELECT term FROM v ORDER BY offset"))


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


def query_tokens(words: Iterable[str]) -> list[str] | None:
    """One token per query word, in order; None if a word is not exactly one token.

    FTS5 treats a word of several tokens (rare: e.g. one joined by a mark that unicode61
    splits on) as a phrase, whose positions these postings do not hold; the caller asks FTS5.
    """
    out = []
    for word in words:
        tokens = term_tokens(word)
        if len(tokens) != 1:
            return None
        out.append(tokens[0])
    return out


def scores(conn: sqlite3.Connection, stats: Collection, tokens: Sequence[str]) -> np.ndarray:
    """BM25 of every passage for these tokens (each one of FTS5's OR-ed phrases).

    Returns:
        float64 scores indexed by passage id (`stats.live`'s length), 0 where no token occurs;
        a score equals -bm25() of FTS5 for the same query. A token given twice counts twice,
        as a repeated FTS5 phrase does.
    """
    totals = np.zeros(len(stats.live))
    for token in tokens:
        ids, weights = _postings(conn, token, stats.live)
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


def _postings(
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


def problems(conn: sqlite3.Connection, sample: int = 20) -> list[str]:
    """How the postings differ from FTS5's own index, for `paraseek check`; [] if they agree.

    Compares the passages listed and every row's sizes, then for `sample` random terms the passages holding each
    term and the weighted count of its occurrences, against FTS5's vocabulary tables.
    """
    (unlisted,) = conn.execute(
        "SELECT (SELECT count(*) FROM passages WHERE id NOT IN (SELECT id FROM keyword_lengths))"
        " + (SELECT count(*) FROM keyword_lengths WHERE id NOT IN (SELECT id FROM passages))"
    ).fetchone()
    if unlisted:
        return [
            f"{unlisted} passage{'s' if unlisted > 1 else ''} missing from or extra in the lengths"
        ]
    torn = conn.execute(
        "SELECT term FROM keyword_postings WHERE length(ids) % 8 OR length(ids) != 2 * "
        "length(weights) LIMIT 1"
    ).fetchone()
    if torn:  # every row's sizes (SQLite reads them without the blobs)
        return [f"the postings of term '{torn[0]}' are damaged"]
    stats = collection(conn)
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.check_rows USING fts5vocab(main, passages_fts, row)"
    )
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.check_cols USING fts5vocab(main, passages_fts, col)"
    )
    try:
        terms = conn.execute(
            "SELECT term FROM (SELECT DISTINCT term FROM keyword_postings) ORDER BY random() LIMIT ?",
            (sample,),
        ).fetchall()
        found = []
        for (term,) in terms:
            ids, weights = _postings(conn, term, stats.live)
            row = conn.execute("SELECT doc FROM temp.check_rows WHERE term = ?", (term,)).fetchone()
            counts = dict(
                conn.execute("SELECT col, cnt FROM temp.check_cols WHERE term = ?", (term,))
            )
            expected = counts.get("text", 0) + CONTEXT_WEIGHT * counts.get("context", 0)
            if len(ids) != (row[0] if row else 0) or abs(float(weights.sum()) - expected) > 1e-6:
                found.append(
                    f"term '{term}' is in {len(ids)} passages (FTS5: {row[0] if row else 0})"
                )
        return found
    finally:
        conn.execute("DROP TABLE temp.check_rows")
        conn.execute("DROP TABLE temp.check_cols")
