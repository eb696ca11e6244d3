"""What `paraseek info` shows of an index: its manifest with counts read from the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from . import bm25, rows
from .backends import hybrid_label
from .cache import index_key
from .folder import read_manifest
from .snapshot import Reader


def stats(conn: sqlite3.Connection, path: Path, reader: Reader) -> dict[str, object]:
    """The manifest of the index at `path`, with counts read in `conn`, the snapshot `reader`
    holds open."""
    manifest = read_manifest(path)
    manifest["documents"] = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
    manifest["passages"] = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
    manifest["comments"] = len(rows.comment_ids(conn))  # see Hit.speaker
    manifest["cached_embeddings"] = conn.execute(
        "SELECT count(*) FROM embeddings WHERE model = ?", (index_key(conn),)
    ).fetchone()[0]
    manifest["generation"] = reader.generation
    store = reader.store
    manifest["store"] = reader.config.to_json() | {"description": store.describe()}
    manifest["hybrid"] = hybrid_label(store.keyword)
    manifest["keyword"] = (
        "bm25 postings (fts5 scores)" if bm25.ready(conn)
        else "sqlite fts5 bm25() (no postings yet: the next `paraseek index` adds them)"
    )  # fmt: skip
    manifest["path"] = str(path.resolve())
    return manifest
