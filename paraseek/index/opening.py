"""Opening an index for writing: the model check, the vector store that the request and the
index's settings call for, and the settings recorded in meta."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..embedder import Embedder
from ..errors import ModelMismatchError
from . import bm25, cache
from .ann import choose
from .backends import StoreConfig, VectorStore, Version, open_store, recorded, requested
from .folder import SCHEMA, now, transaction


@dataclass(frozen=True)
class Opened:
    """A writable index's vector store and the settings it was opened with.

    Attributes:
        store: the vector store, open for writing.
        config: where the vectors live, as meta records it (with the store's keyword setting).
        previous: the store the vectors move from at the next commit, or None.
    """

    store: VectorStore
    config: StoreConfig
    previous: StoreConfig | None


def open_for_writing(
    conn: sqlite3.Connection, path: Path, embedder: Embedder, ann: str | None,
    store: str | None, milvus_uri: str | None, milvus_bm25: bool,
    training_sample: Callable[[int], np.ndarray],
) -> Opened:  # fmt: skip
    """Check the model, open the vector store and record the settings, for a writer.

    The caller holds the index's lock. Arguments as for `Writer`; `training_sample(n)` gives
    up to n cached vectors, to train a new approximate index.

    Raises:
        ModelMismatchError: the index was built with another model.
        StoreUnavailableError, StoreLockedError: Milvus cannot be reached or opened.
    """
    conn.executescript(SCHEMA)  # idempotent; executescript commits, so it runs first
    columns = {row[1] for row in conn.execute("PRAGMA table_info(documents)")}
    if "splitting" not in columns:  # written before it was recorded: by the first rules
        conn.execute("ALTER TABLE documents ADD COLUMN splitting INTEGER NOT NULL DEFAULT 1")
    # Only a writer changes meta, and this one holds the lock: no transaction needed yet.
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if "model" in meta and meta["model"] != embedder.model_id:
        raise ModelMismatchError(
            f"Index '{path}' was built with {meta['model']} ({meta['dimension']}-d) "
            f"but the embedder is {embedder.model_id} ({embedder.dimension}-d); "
            f"index with --model {meta['model']}, or into a new --index folder."
        )
    new = "model" not in meta
    setting = ann or meta.get("ann", "auto")
    current = None if new else recorded(meta)
    config = requested(path, current, store, milvus_uri, setting)
    opened = open_store(
        path, embedder.dimension, config, ann=setting, writable=True,
        milvus_uri=milvus_uri, bm25=milvus_bm25,
    )  # fmt: skip
    try:
        settings = StoreConfig(
            config.kind, config.uri, config.collection, config.dense_index, opened.keyword
        )
        previous = None if current is None or current.same_place(config) else current
        if new:  # generation 0: an empty store, before the database names it
            opened.refresh(Version(0, 0, 0))
            opened.rebuild(0, training_sample)
            opened.save(0)
        with transaction(conn):
            rows: list[tuple[str, str]] = [
                ("precision", getattr(embedder, "precision", "fp32")),
                ("runtime", getattr(embedder, "runtime", cache.REFERENCE_RUNTIME)),
                ("runtime_note", getattr(embedder, "note", "")),
            ]
            if new:
                spec = opened.spec() or choose(setting, 0)
                rows += [("model", embedder.model_id),
                         ("dimension", str(embedder.dimension)), ("generation", "0"),
                         ("created", now()), ("updated", now()), ("ann", setting),
                         ("ann_spec", json.dumps(spec.to_json()))]  # fmt: skip
            elif ann is not None:
                rows.append(("ann", ann))
            if not bm25.ready(conn):  # new, or written before the postings existed
                bm25.backfill(conn)
            if new or previous is None:  # a move is recorded by its commit
                rows += [("store", config.kind), ("store_settings", settings.settings())]
            conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", rows)
        if new:
            opened.commit()
        return Opened(opened, settings, previous)
    except BaseException:
        opened.close()
        raise
