"""Vector stores behind one interface (`VectorStore`): FAISS files (default) or Milvus.

`StoreConfig` says which store an index uses and how to reach it; it is recorded in the
database (`meta` rows `store` and `store_settings`) and the manifest, and is sticky like --ann:
a writer keeps it unless asked for another, then moves the vectors there from the embedding
cache (nothing is embedded again); readers follow it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ...errors import IndexFormatError, InvalidArgumentError, StoreMismatchError
from .base import (
    DEFAULT_STORE,
    KEYWORD_FTS,
    KEYWORD_MILVUS,
    STORES,
    Sample,
    VectorStore,
    Version,
    hybrid_label,
)
from .faiss import FaissStore, vectors_file

__all__ = [
    "KEYWORD_FTS",
    "KEYWORD_MILVUS",
    "STORES",
    "FaissStore",
    "Sample",
    "StoreConfig",
    "VectorStore",
    "Version",
    "check_reader",
    "check_store",
    "hybrid_label",
    "open_store",
    "recorded",
    "requested",
    "vectors_file",
]


@dataclass(frozen=True)
class StoreConfig:
    """Which store holds an index's vectors, and where.

    Attributes:
        kind: "faiss" or "milvus".
        uri: Milvus only: a server URI or a Milvus Lite file (relative: to the index folder).
        collection: Milvus only: the collection's name.
        dense_index: Milvus only: "FLAT" (exact, for --ann flat) or "AUTOINDEX".
        keyword: what serves BM25: "sqlite fts5" or "milvus bm25".
    """

    kind: str = DEFAULT_STORE
    uri: str = ""
    collection: str = ""
    dense_index: str = ""
    keyword: str = KEYWORD_FTS

    def to_json(self) -> dict[str, object]:
        """The manifest's `store` entry; never a secret (a URI is recorded without them)."""
        if self.kind == "faiss":
            return {"kind": "faiss", "keyword": self.keyword}
        return {"kind": self.kind, "uri": self.uri, "collection": self.collection,
                "index": self.dense_index, "keyword": self.keyword}  # fmt: skip

    def settings(self) -> str:
        """The `store_settings` meta row (JSON)."""
        return json.dumps(self.to_json(), sort_keys=True)

    def same_place(self, other: StoreConfig) -> bool:
        """Whether both name the same vectors (a new URI for the same collection does)."""
        return (self.kind, self.collection) == (other.kind, other.collection)


def check_store(kind: str) -> str:
    """`kind` if it names a store, else InvalidArgumentError naming the valid ones."""
    if kind not in STORES:
        raise InvalidArgumentError(f"Unknown --store {kind!r}; valid stores: {', '.join(STORES)}.")
    return kind


def recorded(meta: dict[str, str]) -> StoreConfig:
    """The store an index's `meta` rows name (faiss for an index from before stores)."""
    kind = meta.get("store", DEFAULT_STORE)
    if kind == "faiss":
        return StoreConfig()
    try:
        data = json.loads(meta.get("store_settings", "{}"))
        return StoreConfig(kind, str(data["uri"]), str(data["collection"]), str(data["index"]),
                           str(data.get("keyword", KEYWORD_FTS)))  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexFormatError(
            f"The index's store settings {meta.get('store_settings')!r} are unreadable; "
            "re-index into a new folder."
        ) from exc


def requested(
    path: Path, current: StoreConfig | None, store: str | None, milvus_uri: str | None,
    ann: str,
) -> StoreConfig:  # fmt: skip
    """The store a writer should use: `store` (else $PARASEEK_STORE, else the index's own, else
    faiss), at `milvus_uri` (else $PARASEEK_MILVUS_URI, else the recorded one, else a Milvus
    Lite file milvus.db in the index folder).

    Args:
        path: the index folder.
        current: the store the index records, None for a new index.
        store, milvus_uri: the caller's choice (a flag), if any.
        ann: the --ann setting: "flat" makes a Milvus index FLAT (exact), others AUTOINDEX.

    Raises:
        InvalidArgumentError: an unknown store, or a Milvus URI for the faiss store.
    """
    kind = check_store(
        store or os.environ.get("PARASEEK_STORE") or (current.kind if current else DEFAULT_STORE)
    )
    if kind == "faiss":
        if milvus_uri:
            raise InvalidArgumentError(
                f"--milvus-uri {milvus_uri} is for the milvus store; add --store milvus."
            )
        return StoreConfig()
    from .lite import LITE_FILE, is_lite
    from .milvus import collection_name, public_uri

    uri = milvus_uri or os.environ.get("PARASEEK_MILVUS_URI") or ""
    if uri:
        uri = public_uri(os.path.abspath(uri) if is_lite(uri) else uri, path)
    elif current is not None and current.kind == "milvus":
        uri = current.uri
    else:
        uri = LITE_FILE
    dense_index = "FLAT" if ann == "flat" else "AUTOINDEX"
    if current is not None and current.kind == "milvus" and current.dense_index == dense_index:
        name = current.collection
    else:
        name = collection_name(path, dense_index)
    return StoreConfig("milvus", uri, name, dense_index)


def open_store(
    path: Path, dimension: int, config: StoreConfig, *, ann: str = "auto",
    writable: bool = False, milvus_uri: str | None = None, consistency: str | None = None,
    bm25: bool = True,
) -> VectorStore:  # fmt: skip
    """Open the store `config` names for the index at `path`.

    Args:
        path: the index folder.
        dimension: the embedding dimension.
        config: the store (see `recorded`, `requested`).
        ann: FAISS: the --ann setting a writer builds for.
        writable: opened by the index's writer.
        milvus_uri: Milvus: reach the collection here instead of at the recorded URI (the
            same server seen from elsewhere, or a Lite file now served by `milvus-lite server`).
        consistency: Milvus: the consistency level of every read (else
            $PARASEEK_MILVUS_CONSISTENCY, else Strong).
        bm25: Milvus: create a new collection with the BM25 function where the server has it.

    Raises:
        StoreUnavailableError, StoreLockedError, IndexFormatError.
    """
    if config.kind == "faiss":
        return FaissStore(path, dimension, ann=ann, writable=writable)
    from .lite import is_lite
    from .milvus import DEFAULT_CONSISTENCY, MilvusStore

    level = consistency or os.environ.get("PARASEEK_MILVUS_CONSISTENCY") or DEFAULT_CONSISTENCY
    uri = milvus_uri or os.environ.get("PARASEEK_MILVUS_URI") or ""
    if uri:
        uri = os.path.abspath(uri) if is_lite(uri) else uri  # a Lite path given here: from the cwd
    return MilvusStore(
        path, dimension, uri or config.uri, config.collection, config.dense_index, bm25=bm25,
        consistency=level, writable=writable,
    )  # fmt: skip


def check_reader(path: Path, config: StoreConfig, store: str | None) -> None:
    """Raise StoreMismatchError when a reader asks for another store than the index's."""
    wanted = store or os.environ.get("PARASEEK_STORE")
    if wanted is None:
        return
    check_store(wanted)
    if wanted != config.kind:
        raise StoreMismatchError(
            f"Index '{path}' keeps its vectors in the {config.kind} store, not {wanted}; search "
            f"it with --store {config.kind} (or without --store), or move it with: paraseek "
            f"index PATH --index {path} --store {wanted}"
        )
