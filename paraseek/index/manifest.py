"""manifest.json, written from the index database's meta rows after every commit."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .. import __version__
from .ann import AnnSpec
from .backends import hybrid_label, recorded
from .cache import REFERENCE_RUNTIME
from .folder import FORMAT_VERSION, write_manifest


def write_index_manifest(path: Path, conn: sqlite3.Connection) -> None:
    """Write `path`/manifest.json from what the database `conn` records (see folder.read_manifest)."""
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    config = recorded(meta)  # what the database names, even while a move is pending
    ann: dict[str, object] = {"setting": meta.get("ann", "auto")}
    vectors: dict[str, object] = {
        "store": config.to_json(),
        "hybrid": hybrid_label(config.keyword),
    }
    if config.kind == "faiss":
        spec = AnnSpec.from_json(json.loads(meta["ann_spec"]))
        ann |= spec.to_json()
        vectors["faiss_index"] = spec.describe()
    else:
        ann["index"] = config.dense_index
    write_manifest(
        path,
        {
            "format_version": FORMAT_VERSION,
            "paraseek_version": __version__,
            "model": meta["model"],
            "dimension": int(meta["dimension"]),
            "embedding": {
                "precision": meta.get("precision", "fp32"),
                "runtime": meta.get("runtime", REFERENCE_RUNTIME),
                "note": meta.get("runtime_note", ""),
            },
            "ann": ann,
            **vectors,
            "generation": int(meta["generation"]),
            "documents": conn.execute("SELECT count(*) FROM documents").fetchone()[0],
            "passages": conn.execute("SELECT count(*) FROM passages").fetchone()[0],
            "created": meta["created"],
            "updated": meta["updated"],
        },
    )
