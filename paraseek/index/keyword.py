"""Keyword search: BM25 over passage text and context, as SQLite FTS5 scores it.

Scoring reads the postings of `bm25` (fast, the same scores); FTS5 itself serves an index
written before those existed, queries with a word FTS5 splits into several tokens, and the
highlighting of matched words.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence

import numpy as np

from . import bm25
from .bm25 import CONTEXT_WEIGHT

# Words that carry no meaning on their own; dropping them from queries keeps FTS5 from
# scanning the longest posting lists. BM25 would give them a near-zero weight anyway.
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
    """The distinct words of `query` that are worth matching, lower-cased, in order."""
    words = [w for w in _WORD.findall(query.lower()) if w not in STOPWORDS]
    return list(dict.fromkeys(words))


def words(text: str) -> list[str]:
    """The words of `text` as written (case kept), stop words left out, in order."""
    return [w for w in _WORD.findall(text) if w.lower() not in STOPWORDS]


def fts_expression(query: str) -> str | None:
    """An FTS5 MATCH expression: any of the query's terms, each quoted; None if none is left."""
    terms = query_terms(query)
    return " OR ".join(f'"{t}"' for t in terms) if terms else None


def keyword_search(
    conn: sqlite3.Connection, query: str, k: int, passage_ids: Sequence[int] | None = None,
    scorer: Callable[[tuple[str, ...]], np.ndarray] | None = None,
) -> list[tuple[int, float]]:  # fmt: skip
    """The k best passages for `query` by BM25, as (passage id, score), best first.

    Scores are FTS5's bm25() negated, so higher is better; they are not bounded and are only
    comparable within one query. No term left after stop words means no hits.

    Args:
        scorer: BM25 of every passage for query tokens (see `bm25.scores`), when the index's
            postings are ready; None asks FTS5.
    """
    expression = fts_expression(query)
    if expression is None or (passage_ids is not None and not passage_ids):
        return []
    tokens = None if scorer is None else bm25.query_tokens(query_terms(query))
    if scorer is not None and tokens is not None:
        return bm25.best(scorer(tuple(tokens)), k, passage_ids)
    sql = (
        f"SELECT rowid, -bm25(passages_fts, 1.0, {CONTEXT_WEIGHT}) AS score FROM passages_fts "
        "WHERE passages_fts MATCH ?"
    )
    args: list[object] = [expression]
    if passage_ids is not None:
        sql += f" AND rowid IN ({','.join('?' * len(passage_ids))})"
        args.extend(int(i) for i in passage_ids)
    sql += " ORDER BY score DESC LIMIT ?"
    args.append(k)
    return [(int(i), float(s)) for i, s in conn.execute(sql, args).fetchall()]


_OPEN, _CLOSE = "\x02", "\x03"


def matched_spans(
    query: str, passages: Sequence[tuple[int, str]]
) -> dict[int, list[tuple[int, int]]]:
    """Where the query's terms occur in each passage's text, by FTS5's own tokenizer.

    Args:
        passages: (passage id, passage text) pairs.

    Returns:
        passage id -> (start, end) character spans in the passage text, in order; passages
        with no matching term are absent. Stemming applies: "elections" marks "election".
    """
    expression = fts_expression(query)
    if expression is None or not passages:
        return {}
    # A table of just these passages, tokenized like passages_fts: the same matches, found
    # without walking the whole index's postings of every query term.
    rows = bm25.highlighted([(i, text, "") for i, text in passages], expression, _OPEN, _CLOSE)
    return {int(i): _spans(marked) for i, marked in rows if _OPEN in marked}


def _spans(marked: str) -> list[tuple[int, int]]:
    """Spans of the marked runs in `marked`, as offsets into the text without markers."""
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
