"""Checking the postings against FTS5's own index, for `paraseek check`."""

from __future__ import annotations

import sqlite3

from .read import collection, postings
from .tokens import CONTEXT_WEIGHT


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
            ids, weights = postings(conn, term, stats.live)
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
