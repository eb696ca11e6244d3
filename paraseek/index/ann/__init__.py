"""Vector indexes: exact (flat) and approximate (HNSW, IVF) inner-product search, with deletes.

The one module that knows index types. `choose` picks an `AnnSpec` (recorded in the manifest
with `AnnSpec.to_json`) from the requested kind and the passage count; `Vectors` holds the FAISS
index and what deletes need. FAISS labels are positions (0, 1, ... in order of `add`); `Vectors`
maps them to passage ids, which are any distinct int64s.

Kinds: flat scans every fp32 vector (exact). hnsw walks a graph over 8-bit (sq8) vectors. ivf
scans the lists nearest the query with 4-bit PQ fast-scan codes, then re-scores the best
k * k_factor candidates with their sq8 vectors (IVF,PQ..x4fs,Refine(SQ8)).

Deletes: a flat index removes the vectors (`remove_ids`, exact and compact). HNSW cannot remove
nodes, and removing from IVF's lists would desynchronise them from the re-scoring codes, so both
mark deleted vectors dead (a tombstone) and skip them at search time with an IDSelectorBitmap;
`stale_fraction` tells the writer when to rebuild from the exact vectors it keeps.

Parameters were chosen by measurement: benchmarks/ann.py.
"""

from __future__ import annotations

from .spec import (
    CODECS,
    EXACT_ALLOW,
    FLAT,
    FLAT_LIMIT,
    HNSW,
    KINDS,
    MAX_STALE_FRACTION,
    MIN_ANN,
    SQ_MARGIN,
    SQ_TRAINING,
    AnnSpec,
    check_kind,
    choose,
    ivf_lists,
    needs_rebuild,
    training_size,
)
from .vectors import Vectors

__all__ = [
    "CODECS",
    "EXACT_ALLOW",
    "FLAT",
    "FLAT_LIMIT",
    "HNSW",
    "KINDS",
    "MAX_STALE_FRACTION",
    "MIN_ANN",
    "SQ_MARGIN",
    "SQ_TRAINING",
    "AnnSpec",
    "Vectors",
    "check_kind",
    "choose",
    "ivf_lists",
    "needs_rebuild",
    "training_size",
]
