"""Keyword search: BM25 from posting lists in the index database, scored as SQLite FTS5 does.

The scores are FTS5's bm25(text, context) with weights 1 and CONTEXT_WEIGHT, with its tokenizer
(tests/test_bm25.py checks them against FTS5), but cost grows with the postings read, not with
FTS5's 2.5 us for every matching row (60 ms at 100k passages).

Tables, written in the writer's transaction: keyword_lengths(id, tokens), and
keyword_postings(term, segment, ids int64, weights float32), a segment per write. A term with
more than MAX_SEGMENTS segments is merged into one, without the passages removed since; until
then queries skip every id that keyword_lengths lacks.
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TOKENIZE = "porter unicode61 remove_diacritics 2"
CONTEXT_WEIGHT = 0.5  # a match in the title or heading counts half a match in the passage
K1, B = 1.2, 0.75  # FTS5's bm25() constants
MAX_SEGMENTS = 8
_TOKENIZE_BATCH = 512  # passages per in-memory FTS5 table
_FLUSH_POSTINGS = 500_000  # postings held (as Python lists: ~40 MB) before a segment is written

# Words that carry no meaning on their own; BM25 would give them a near-zero weight anyway.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()
)
_WORD = re.compile(r"[^\W_]+")


def query_terms(query: str) -> list[str]:
    """The distinct words of `query` but stop words, lower-cased, in order."""
    words = [w for w in _WORD.findall(query.lower()) if w not in STOPWORDS]
    return list(dict.fromkeys(words))


def words(text: str) -> list[str]:
    """The words of `text` as written (case kept), stop words left out, in order."""
    return [w for w in _WORD.findall(text) if w.lower() not in STOPWORDS]


def word_set(text: str) -> frozenset[str]:
    """The distinct words of `text`, lower-cased, stop words left out (paraseek/words.py)."""
    return frozenset(_WORD.findall(text.lower())) - STOPWORDS


def keyword_search(
    query: str, k: int, passage_ids: Sequence[int] | None,
    scorer: Callable[[tuple[str, ...]], np.ndarray],
) -> list[tuple[int, float]]:  # fmt: skip
    """The k best passages for `query` as (passage id, -bm25()), best first; `scorer` gives
    every passage's BM25 for query tokens."""
    tokens = query_tokens(query_terms(query))
    if not tokens or (passage_ids is not None and not passage_ids):
        return []
    return best(scorer(tuple(tokens)), k, passage_ids)


_OPEN, _CLOSE = "\x02", "\x03"


def matched_spans(
    query: str, passages: Sequence[tuple[int, str]]
) -> dict[int, list[tuple[int, int]]]:
    """Passage id -> (start, end) spans of the query's terms (stemmed) in the passage text,
    for the (id, text) pairs that hold one."""
    terms = query_terms(query)
    if not terms or not passages:
        return {}
    expression = " OR ".join(f'"{t}"' for t in terms)
    rows = highlighted([(i, text, "") for i, text in passages], expression, _OPEN, _CLOSE)
    return {int(i): _spans(marked) for i, marked in rows if _OPEN in marked}


def _spans(marked: str) -> list[tuple[int, int]]:
    """Spans of the marked runs, as offsets into the text without markers."""
    spans = []
    plain = 0  # characters of text before `position`
    position = 0
    while (opened := marked.find(_OPEN, position)) >= 0:
        closed = marked.find(_CLOSE, opened)
        start = plain + opened - position
        spans.append((start, start + closed - opened - 1))
        plain = start + closed - opened - 1
        position = closed + 1
    return spans


def _scratch() -> sqlite3.Connection:
    """An in-memory FTS5 table with the index's tokenizer, and its instance vocabulary."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        f"CREATE VIRTUAL TABLE t USING fts5(text, context, tokenize = '{TOKENIZE}');"
        "CREATE VIRTUAL TABLE v USING fts5vocab(t, instance);"
    )
    return conn


def count_terms(
    rows: Sequence[tuple[int, str, str]],
) -> tuple[list[tuple[str, int, float]], list[tuple[int, int]]]:
    """Tokenize (id, text, context) rows as FTS5 does: (term, id, text count +
    CONTEXT_WEIGHT x context count) for each term of each row, and (id, token count)."""
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
    """This thread's scratch table (creating one costs ~0.4 ms), emptied after."""
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


def containing(units: Sequence[str], rows: Sequence[tuple[int, str, str]]) -> list[set[int]]:
    """For each unit (a word or a phrase), the ids of the (id, text, context) rows that hold it
    as FTS5 matches it: stemmed, a phrase's words in order."""
    out: list[set[int]] = []
    with _query_scratch() as conn:
        conn.executemany("INSERT INTO t (rowid, text, context) VALUES (?, ?, ?)", rows)
        for unit in units:
            words = _WORD.findall(unit.lower())
            if not words or not rows:
                out.append(set())
                continue
            found = conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (f'"{" ".join(words)}"',))
            out.append({int(r[0]) for r in found})
    return out


@lru_cache(maxsize=4096)
def term_tokens(word: str) -> tuple[str, ...]:
    """The FTS5 tokens of one query word, e.g. "Elections" -> ("elect",)."""
    with _query_scratch() as conn:
        conn.execute("INSERT INTO t (rowid, text, context) VALUES (1, ?, '')", (word,))
        return tuple(t for (t,) in conn.execute("SELECT term FROM v ORDER BY offset"))


def query_tokens(words: Iterable[str]) -> list[str]:
    """The FTS5 tokens of the query's words, in order (a word of several tokens gives each;
    FTS5 would match them as a phrase, whose positions the postings do not hold)."""
    return [token for word in words for token in term_tokens(word)]


@dataclass(frozen=True)
class Collection:
    """What BM25 needs of one version besides the postings: token counts and liveness
    indexed by passage id, the passage count and their mean token count."""

    lengths: np.ndarray
    live: np.ndarray
    count: int
    average: float


def collection(conn: sqlite3.Connection) -> Collection:
    rows = conn.execute("SELECT id, tokens FROM keyword_lengths").fetchall()
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    tokens = np.fromiter((r[1] for r in rows), np.float64, len(rows))
    size = int(ids.max()) + 1 if len(ids) else 1
    lengths, live = np.zeros(size), np.zeros(size, dtype=bool)
    lengths[ids], live[ids] = tokens, True
    average = float(tokens.sum() / len(ids)) if len(ids) else 0.0
    return Collection(lengths, live, len(ids), average)


def scores(
    conn: sqlite3.Connection, stats: Collection, tokens: Sequence[str],
    idfs: list[float] | None = None, held: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """-bm25() of every passage for these tokens (FTS5's OR-ed phrases), float64 indexed by
    passage id, 0 where none occurs; `idfs`, if given, gets each token's IDF, and `held`
    (float64, indexed by passage id, as long as the result), the IDF of each token at every
    passage that holds it, however often."""
    totals = np.zeros(len(stats.live))
    for token in tokens:
        ids, weights = postings(conn, token, stats.live)
        df = len(ids)
        idf = math.log((stats.count - df + 0.5) / (df + 0.5))
        idf = idf if idf > 0 else 1e-6  # as FTS5 does for terms in over half the rows
        if idfs is not None:
            idfs.append(idf)
        if not df:
            continue
        norm = K1 * (1 - B + B * stats.lengths[ids] / stats.average)
        totals[ids] += idf * weights * (K1 + 1) / (weights + norm)  # ids are distinct
        if held is not None:
            held[ids] += idf
    return totals


def rarest_idf(stats: Collection) -> float:
    """The IDF of a word that no passage holds, the largest there is."""
    return math.log((stats.count + 0.5) / 0.5)


def best(
    totals: np.ndarray, k: int, passage_ids: Sequence[int] | None = None
) -> list[tuple[int, float]]:
    """The k best passages with a score in `totals`, as (id, score); ties by id."""
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
    """Adds and removes passages inside the writer's transaction; `finish` before the commit."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._pending: list[tuple[int, str, str]] = []
        self._terms: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        self._held = 0
        self._touched: set[str] = set()

    def add(self, passage_id: int, text: str, context: str) -> None:
        self._pending.append((passage_id, text, context))
        if len(self._pending) >= _TOKENIZE_BATCH:
            self._tokenize()

    def remove(self, ids: Sequence[int]) -> None:
        self._conn.executemany("DELETE FROM keyword_lengths WHERE id = ?", [(i,) for i in ids])

    def finish(self) -> None:
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


def problems(
    conn: sqlite3.Connection, sample: int = 20, hashed: Callable[[str, str], str] | None = None
) -> list[str]:
    """How the postings differ from the passages, for `paraseek check`, [] if they agree: the
    passages listed, every row's sizes, and `sample` random passages tokenized again. With
    `hashed(context, text)`, a sampled passage whose text no longer has its stored hash is
    left to the text check (repair splits its document again, postings and all)."""
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
    rows = [
        (pid, text, context)
        for pid, text, context, stored in conn.execute(
            "SELECT id, text, context, text_hash FROM passages ORDER BY random() LIMIT ?",
            (sample,),
        )
        if hashed is None or hashed(context, text) == stored
    ]
    counted, lengths = count_terms(rows)
    found = []
    for pid, tokens in lengths:
        if stats.lengths[pid] != tokens:
            found.append(f"passage {pid} has {int(stats.lengths[pid])} tokens, not {tokens}")
    for term, pid, weight in counted:
        ids, weights = postings(conn, term, stats.live)
        held = weights[ids == pid]
        if len(held) != 1 or abs(float(held[0]) - weight) > 1e-6:
            found.append(f"term '{term}' of passage {pid} is missing or miscounted")
    return found
