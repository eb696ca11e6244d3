"""Keyword search: BM25 over the SQLite FTS5 table of passage text and context."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

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
CONTEXT_WEIGHT = 0.5  # a match in the title or heading counts half a match in the passage


def query_terms(query: str) -> list[str]:
    """The distinct words of `query` that are worth matching, lower-cased, in order."""
    words = [w for w in _WORD.findall(query.lower()) if w not in STOPWORDS]
    return list(dict.fromkeys(words))


def fts_expression(query: str) -> str | None:
    """An FTS5 MATCH expression: any of the query's terms, each quoted; None if none is left."""
    terms = query_terms(query)
    return " OR ".join(f'"{t}"' for t in terms) if terms else None


def keyword_search(
    conn: sqlite3.Connection, query: str, k: int, passage_ids: Sequence[int] | None = None
) -> list[tuple[int, float]]:
    """The k best passages for `query` by BM25, as (passage id, score), best first.

    Scores are FTS5's bm25() negated, so higher is better; they are not bounded and are only
    comparable within one query. No term left after stop words means no hits.
    """
    expression = fts_expression(query)
    if expression is None or (passage_ids is not None and not passage_ids):
        return []
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
    conn: sqlite3.Connection, query: str, passage_ids: Sequence[int]
) -> dict[int, list[tuple[int, int]]]:
    """Where the query's terms occur in each passage's text, by FTS5's own tokenizer.

    Returns:
        passage id -> (start, end) character spans in the passage text, in order; passages
        with no matching term are absent. Stemming applies: "elections" marks "election".
    """
    expression = fts_expression(query)
    if expression is None or not passage_ids:
        return {}
    rows = conn.execute(
        f"SELECT rowid, highlight(passages_fts, 0, '{_OPEN}', '{_CLOSE}') FROM passages_fts "
        f"WHERE passages_fts MATCH ? AND rowid IN ({','.join('?' * len(passage_ids))})",
        [expression, *(int(i) for i in passage_ids)],
    ).fetchall()
    return {int(i): _spans(marked) for i, marked in rows if _OPEN in marked}


def _spans(marked: str) -> list[tuple[int, int]]:
    """Spans of the marked runs in `marked`, as offsets into the text without markers."""
    spans = []
    plain = 0
    start = 0
    for ch in marked:
        if ch == _OPEN:
            start = plain
        elif ch == _CLOSE:
            spans.append((start, plain))
        else:
            plain += 1
    return spans
