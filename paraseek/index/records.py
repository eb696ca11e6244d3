"""Writing documents and passages into the index database: their rows, FTS rows and postings.

Called inside the writer's transaction, so the three always change together.
"""

from __future__ import annotations

import sqlite3

from ..corpus import SPLITTING, Document, Passage
from . import bm25
from .cache import text_hash
from .folder import now


def delete(conn: sqlite3.Connection, postings: bm25.PostingsWriter, paths: list[str]) -> list[int]:
    """Delete the documents indexed from `paths` (unknown paths are skipped).

    Returns:
        The ids of the passages deleted.
    """
    old_ids: list[int] = []
    for path in paths:
        row = conn.execute("SELECT id FROM documents WHERE path = ?", (path,)).fetchone()
        if row is None:
            continue
        ids = [r[0] for r in conn.execute("SELECT id FROM passages WHERE document_id = ?", row)]
        conn.executemany("DELETE FROM passages_fts WHERE rowid = ?", [(i,) for i in ids])
        postings.remove(ids)
        conn.execute("DELETE FROM passages WHERE document_id = ?", row)
        conn.execute("DELETE FROM documents WHERE id = ?", row)
        old_ids.extend(ids)
    return old_ids


def insert(
    conn: sqlite3.Connection, postings: bm25.PostingsWriter, doc: Document,
    passages: list[Passage],
) -> None:  # fmt: skip
    """Insert a document and its passages; each passage gets the next id."""
    conn.execute(
        "INSERT INTO documents (id, path, title, date, content_hash, text, passages, "
        "indexed_at, splitting) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (doc.id, doc.path, doc.title, doc.date, doc.content_hash, doc.text,
         len(passages), now(), SPLITTING),
    )  # fmt: skip
    for p in passages:
        cursor = conn.execute(
            'INSERT INTO passages (document_id, ordinal, start, "end", text, context, '
            "text_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (doc.id, p.ordinal, p.start, p.end, p.text, p.context,
             text_hash(p.embedded_text)),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO passages_fts (rowid, text, context) VALUES (?, ?, ?)",
            (cursor.lastrowid, p.text, p.context),
        )
        postings.add(int(cursor.lastrowid or 0), p.text, p.context)
