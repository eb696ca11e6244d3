"""Index types and their parameters: `AnnSpec`, and `choose`, which picks one for a passage count."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import IndexFormatError, InvalidArgumentError

KINDS = ("auto", "flat", "hnsw", "ivf")
CODECS = ("fp32", "fp16", "sq8")
# auto: exact search below FLAT_LIMIT passages (an fp32 scan takes 0.55 ms at 10k and ~1.1 ms
# at 20k on one core), IVF with fast-scan codes from there (see `choose`).
FLAT_LIMIT = 20_000
# Below MIN_ANN passages every kind is flat: exact and as fast, and nothing to train on.
MIN_ANN = 1_000
# The writer rebuilds an HNSW or IVF index once this share of its vectors is deleted.
MAX_STALE_FRACTION = 0.2
# An allow-list of at most this many passages (or 5% of them) is searched exactly.
EXACT_ALLOW = 20_000
SQ_TRAINING = 20_000  # vectors sampled to train the 8-bit scalar quantizer's ranges
# Each sq8 range is widened by this share on both sides, so vectors added long after training
# are rarely clipped (it costs ~0.3 points of recall@10 at 100k).
SQ_MARGIN = 0.1

_FACTORY_CODEC = {"fp32": "Flat", "fp16": "SQfp16", "sq8": "SQ8"}
_PARAMS = {
    "flat": (),
    "hnsw": ("m", "ef_construction", "ef_search"),
    "ivf": ("nlist", "nprobe", "pq", "k_factor"),
}


@dataclass(frozen=True)
class AnnSpec:
    """What vector index to build and how to search it; recorded in the index manifest.

    Attributes:
        kind: "flat" (exact scan), "hnsw" (graph) or "ivf" (inverted lists scanned with 4-bit
            PQ fast-scan codes, the best candidates re-scored with the codec's vectors).
        codec: how a vector is stored: "fp32" (4 bytes a dimension), "fp16" (2) or "sq8"
            (1: per-dimension 8-bit ranges trained on a sample).
        m: HNSW neighbours per node (2 * m on the base layer); 0 unless hnsw.
        ef_construction: HNSW candidates kept while inserting; 0 unless hnsw.
        ef_search: HNSW candidates kept while searching (at least k is used); 0 unless hnsw.
        nlist: IVF inverted lists (k-means centroids); 0 unless ivf.
        nprobe: IVF lists scanned per query; 0 unless ivf.
        pq: IVF fast-scan sub-quantizers, 4 bits each (pq / 2 bytes a vector); 0 unless ivf.
        k_factor: IVF re-scores k * k_factor candidates with the codec; 0 unless ivf.
    """

    kind: str
    codec: str
    m: int = 0
    ef_construction: int = 0
    ef_search: int = 0
    nlist: int = 0
    nprobe: int = 0
    pq: int = 0
    k_factor: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _PARAMS:
            raise InvalidArgumentError(
                f"Unknown index kind {self.kind!r} in an AnnSpec; valid: flat, hnsw, ivf."
            )
        if self.codec not in CODECS:
            raise InvalidArgumentError(
                f"Unknown vector codec {self.codec!r}; valid: {', '.join(CODECS)}."
            )
        for name in ("m", "ef_construction", "ef_search", "nlist", "nprobe", "pq", "k_factor"):
            value = getattr(self, name)
            wanted = name in _PARAMS[self.kind]
            if not isinstance(value, int) or isinstance(value, bool) or (value > 0) != wanted:
                rule = "a positive integer" if wanted else "0"
                raise InvalidArgumentError(
                    f"AnnSpec {name}={value!r} for kind {self.kind!r}; it must be {rule}."
                )

    def factory(self) -> str:
        """The faiss.index_factory string, e.g. "HNSW32,SQ8" or "IVF2048,PQ96x4fs,Refine(SQ8)"."""
        codec = _FACTORY_CODEC[self.codec]
        if self.kind == "hnsw":
            return f"HNSW{self.m},{codec}"
        if self.kind == "ivf":
            return f"IVF{self.nlist},PQ{self.pq}x4fs,Refine({codec})"
        return codec

    def describe(self) -> str:
        """One line for people, e.g. "HNSW32,SQ8 efConstruction=40 efSearch=64"."""
        if self.kind == "hnsw":
            return (
                f"{self.factory()} efConstruction={self.ef_construction} efSearch={self.ef_search}"
            )
        if self.kind == "ivf":
            return f"{self.factory()} nprobe={self.nprobe} k_factor={self.k_factor}"
        return f"{self.factory()} (exact scan)"

    def to_json(self) -> dict[str, object]:
        """The manifest entry: kind, codec and the parameters of that kind."""
        return {"kind": self.kind, "codec": self.codec} | {
            name: getattr(self, name) for name in _PARAMS[self.kind]
        }

    @classmethod
    def from_json(cls, data: object) -> AnnSpec:
        """The spec a manifest entry describes (the inverse of `to_json`).

        Raises:
            IndexFormatError: the entry is not one `to_json` writes.
        """
        try:
            if not isinstance(data, dict):
                raise TypeError("not an object")
            return cls(**data)
        except (TypeError, InvalidArgumentError) as exc:
            raise IndexFormatError(
                f"The index's vector spec {data!r} is invalid ({exc}); re-index to rebuild it."
            ) from exc


FLAT = AnnSpec("flat", "fp32")
HNSW = AnnSpec("hnsw", "sq8", m=32, ef_construction=200, ef_search=128)


def check_kind(kind: str) -> None:
    """Raise InvalidArgumentError unless `kind` is one of KINDS."""
    if kind not in KINDS:
        raise InvalidArgumentError(
            f"Unknown --ann index kind {kind!r}; valid kinds: {', '.join(KINDS)}."
        )


def ivf_lists(count: int) -> int:
    """IVF lists for `count` vectors: the power of two nearest 4 * sqrt(count), >= 39 each.

    Finer lists measured better at 1M: 4,096 lists and 96 probed find 97% of the top 10 in
    0.76 ms where 2,048 lists and 64 probed find 95% in the same time.
    """
    nlist = 1 << max(0, round(float(np.log2(4 * max(count, 1) ** 0.5))))
    return max(1, min(nlist, count // 39))


def choose(kind: str, count: int, dimension: int = 384) -> AnnSpec:
    """The index to build for `count` passages of `dimension`-d when `kind` is asked.

    auto is exact (flat fp32) below FLAT_LIMIT passages and ivf from there. Every kind is flat
    below MIN_ANN passages, where an exact scan is as fast and a quantizer has too little to
    train on; the caller keeps the requested kind and asks again as the collection grows
    (`needs_rebuild`). Measured at 1M passages on a loaded 2-core Xeon (benchmarks/ann.py,
    data shaped like MiniLM embeddings): ivf finds 96.7% of the exact top 10 in 0.87 ms p50 with
    509 bytes a passage and builds in 7 min; hnsw 90.6% in 0.64 ms, 665 bytes, 10.5 min.

    Raises:
        InvalidArgumentError: unknown kind; the message names the valid ones.
    """
    check_kind(kind)
    if kind == "flat" or count < MIN_ANN or (kind == "auto" and count < FLAT_LIMIT):
        return FLAT
    if kind == "hnsw":
        return HNSW
    nlist = ivf_lists(count)
    pq = next(m for m in (dimension // 2, dimension) if m and dimension % m == 0)
    return AnnSpec("ivf", "sq8", nlist=nlist, nprobe=min(nlist, max(16, nlist // 40)), pq=pq,
                   k_factor=16)  # fmt: skip


def needs_rebuild(current: AnnSpec, wanted: AnnSpec) -> bool:
    """Whether vectors built as `current` must be rebuilt as `wanted` (both from `choose`).

    True when the index type, codec or build parameters differ, or when an IVF index's lists
    are off by more than 2x for the current count; search parameters (ef_search, nprobe,
    k_factor) alone never need a rebuild. Deletes are separate: rebuild once
    `Vectors.stale_fraction` passes MAX_STALE_FRACTION.
    """
    if current.kind == wanted.kind == "ivf" and (current.codec, current.pq) == (
        wanted.codec, wanted.pq
    ):  # fmt: skip
        return not current.nlist / 2 <= wanted.nlist <= current.nlist * 2
    return (current.kind, current.codec, current.m, current.ef_construction, current.pq) != (
        wanted.kind, wanted.codec, wanted.m, wanted.ef_construction, wanted.pq
    )  # fmt: skip


def training_size(spec: AnnSpec, count: int) -> int:
    """How many vectors `Vectors.create` needs to train `spec` for `count` passages (0: none).

    Pass a uniform random sample of that size (all vectors when fewer exist).
    """
    if spec.kind == "ivf":
        return min(count, max(40 * spec.nlist, SQ_TRAINING))
    if spec.codec == "sq8":
        return min(count, SQ_TRAINING)
    return 0
