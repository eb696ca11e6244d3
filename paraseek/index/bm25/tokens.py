"""Tokens as FTS5 makes them: an in-memory FTS5 table with the index's tokenizer settings."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache

TOKENIZE = "porter unicode61 remove_diacritics 2"  # passages_fts's tokenizer (folder.SCHEMA)
CONTEXT_WEIGHT = 0.5  # a match in the title or heading counts half a match in the passage


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
