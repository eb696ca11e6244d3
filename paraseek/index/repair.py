"""Damage to the index database that `paraseek check` finds and `paraseek repair` mends.

A full scan of every passage's text hash and cached vector (about 1.5 KB a passage), so it runs
on demand; an ordinary `paraseek index` verifies only what it loads.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..corpus import embedded_text
from . import rows
from .database import transaction
from .keyword import PostingsWriter

ORPHANS = (
    "SELECT document_id, count(*) FROM passages WHERE document_id NOT IN "
    "(SELECT id FROM documents) GROUP BY document_id"
)
MISCOUNTED = (
    "SELECT id, path FROM documents d WHERE passages != "
    "(SELECT count(*) FROM passages p WHERE p.document_id = d.id)"
)


@dataclass(frozen=True)
class Damage:
    """What a scan found; nothing when every field is empty or 0. `orphans` counts passages
    whose document row is gone by the id they name; `edited` has the paths of documents with a
    passage whose text no longer hashes to its key."""

    orphans: dict[str, int]
    miscounted: list[str]
    edited: list[str]
    lacking: int
    failing: int


def scan(conn: sqlite3.Connection, key: str) -> Damage:
    dimension = rows.dimension_of(conn)
    lacking = failing = 0
    edited: set[str] = set()
    passages = conn.execute(
        "SELECT d.path, p.text, p.context, p.text_hash, e.vector FROM passages p "
        "JOIN documents d ON d.id = p.document_id "
        "LEFT JOIN embeddings e ON e.model = ? AND e.text_hash = p.text_hash",
        (key,),
    )
    for path, text, context, hashed, blob in passages:
        if rows.text_hash(embedded_text(context, text)) != hashed:
            edited.add(path)
        elif blob is None:
            lacking += 1
        elif rows.decode(blob, dimension) is None:
            failing += 1
    orphans = dict(conn.execute(ORPHANS).fetchall())
    miscounted = sorted(r[1] for r in conn.execute(MISCOUNTED))
    return Damage(orphans, miscounted, sorted(edited), lacking, failing)


def mend(conn: sqlite3.Connection, damage: Damage) -> tuple[list[str], list[str]]:
    """Delete the orphaned passages; the rest is the writer's to mend at its commit.

    Returns:
        (one line for each repair, the paths of the documents to split again from their files)
    """
    repaired = []
    if damage.orphans:
        with transaction(conn):
            postings = PostingsWriter(conn)
            ids = rows.delete(conn, postings, list(damage.orphans))
            postings.finish()
            conn.executemany("INSERT OR IGNORE INTO retired (id) VALUES (?)", [(i,) for i in ids])
        repaired.append(f"deleted {len(ids)} passages whose document was gone")
    again = sorted(set(damage.edited) | set(damage.miscounted))
    if again:
        repaired.append(
            f"{len(again)} documents whose passages were edited or lost in the database were "
            "split again from their files"
        )
    if damage.lacking or damage.failing:
        repaired.append(
            f"embedded the cached vectors of {damage.lacking + damage.failing} passages again "
            f"({damage.failing} failed their checksum, {damage.lacking} were missing)"
        )
    return repaired, again
