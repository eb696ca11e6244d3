"""Vector indexes with FAISS: exact (flat) and approximate (HNSW, IVF) inner-product search.

`choose` picks an `AnnSpec` from the requested kind and the passage count; `Vectors` maps FAISS
positions to passage ids. A flat index removes deleted vectors; HNSW and IVF cannot, so they
keep them as tombstones, skipped with an IDSelectorBitmap, until `stale_fraction` asks for a
rebuild. Parameters were chosen by measurement: benchmarks/ann.py.
"""

from __future__ import annotations

import errno
import json
import os
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import faiss
import numpy as np

from ..errors import IndexFormatError, InvalidArgumentError, UnknownPassageError

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

    kind is "flat" (exact scan), "hnsw" (graph) or "ivf" (lists scanned with 4-bit PQ fast-scan
    codes, the best k * k_factor candidates re-scored with the codec). codec is "fp32", "fp16"
    or "sq8" (8-bit ranges trained on a sample). The other fields are FAISS's parameters of
    that kind (pq: sub-quantizers of 4 bits each), and 0 for the other kinds.
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
        return {"kind": self.kind, "codec": self.codec} | {
            name: getattr(self, name) for name in _PARAMS[self.kind]
        }

    @classmethod
    def from_json(cls, data: object) -> AnnSpec:
        """The inverse of `to_json`; IndexFormatError for an entry it does not write."""
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
    """The index to build for `count` passages when `kind` (checked) is asked.

    auto is flat below FLAT_LIMIT passages and ivf from there; every kind is flat below MIN_ANN.
    Measured at 1M passages on a loaded 2-core Xeon (benchmarks/ann.py): ivf finds 96.7% of the
    exact top 10 in 0.87 ms p50 with 509 bytes a passage; hnsw 90.6% in 0.64 ms, 665 bytes.
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
    """Whether the build parameters differ, or an IVF index's lists are off by more than 2x;
    search parameters (ef_search, nprobe, k_factor) alone never need a rebuild."""
    if current.kind == wanted.kind == "ivf" and (current.codec, current.pq) == (
        wanted.codec, wanted.pq
    ):  # fmt: skip
        return not current.nlist / 2 <= wanted.nlist <= current.nlist * 2
    return (current.kind, current.codec, current.m, current.ef_construction, current.pq) != (
        wanted.kind, wanted.codec, wanted.m, wanted.ef_construction, wanted.pq
    )  # fmt: skip


def training_size(spec: AnnSpec, count: int) -> int:
    """The size of the random sample `Vectors.create` trains `spec` on (0: none needed)."""
    if spec.kind == "ivf":
        return min(count, max(40 * spec.nlist, SQ_TRAINING))
    if spec.codec == "sq8":
        return min(count, SQ_TRAINING)
    return 0


# --- the FAISS index with passage ids ------------------------------------------------------


_faiss: Any = faiss  # its type stubs lack the bitmap selector and some search parameters
_NONE = np.zeros(0, np.int64)
EXACT_BLOCK = 1 << 24  # scores computed at once by an exact search: 64 MB of float32


class Vectors:
    """A FAISS index of unit vectors keyed by passage id (any distinct int64s), with deletes.

    Searching is thread-safe; `add` and `remove` must not run while another thread searches.
    """

    def __init__(self, spec: AnnSpec, index: Any, ids: np.ndarray, live: np.ndarray) -> None:
        self.spec = spec
        self.dimension = int(index.d)
        self._index: Any = index
        self._ids = ids  # int64 (positions,): the passage id at each position
        self._live = live  # bool (positions,): False for a deleted (tombstoned) position
        self._count = int(live.sum())
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}

    @classmethod
    def create(cls, spec: AnnSpec, dimension: int, training: np.ndarray | None = None) -> Vectors:
        """An empty index; `training` is float32 (training_size(spec, count), dimension)."""
        if spec.pq and dimension % spec.pq:
            raise InvalidArgumentError(
                f"Index {spec.describe()} splits vectors into {spec.pq} parts, which does not "
                f"divide their dimension {dimension}; use the spec choose() gives for it."
            )
        index: Any = faiss.index_factory(dimension, spec.factory(), faiss.METRIC_INNER_PRODUCT)
        if spec.kind == "hnsw":
            index.hnsw.efConstruction = spec.ef_construction
            index.hnsw.efSearch = spec.ef_search
        elif spec.kind == "ivf":
            # Unit vectors: centroids on the sphere suit inner product.
            _faiss.extract_index_ivf(index).cp.spherical = True
        if spec.codec == "sq8":
            _codes(index, spec.kind).sq.rangestat_arg = SQ_MARGIN
        if not index.is_trained:
            if training is None or len(training) < max(1, spec.nlist):
                raise InvalidArgumentError(
                    f"Index {spec.describe()} needs a training sample of at least "
                    f"{max(1, spec.nlist)} vectors (training_size() says how many); "
                    f"got {0 if training is None else len(training)}."
                )
            index.train(_matrix(training, dimension, "Training vectors"))
        return cls(spec, index, np.zeros(0, np.int64), np.zeros(0, bool))

    @property
    def count(self) -> int:
        return self._count

    @property
    def stale_fraction(self) -> float:
        """Share of stored vectors that are deleted but still take space (0 for flat)."""
        return 1.0 - self.count / len(self._live) if len(self._live) else 0.0

    def memory_bytes(self) -> int:
        """Approximate resident bytes: codes, graph or lists, and the id maps."""
        index, n = self._index, len(self._ids)
        own = self._ids.nbytes + self._live.nbytes
        if self.spec.kind == "hnsw":
            hnsw = index.hnsw
            graph = hnsw.neighbors.size() * 4 + hnsw.levels.size() * 4 + hnsw.offsets.size() * 8
            return int(n * _codes(index, "hnsw").code_size + graph + own)
        if self.spec.kind == "ivf":
            ivf = _faiss.extract_index_ivf(index)
            blocks = sum(-(-ivf.invlists.list_size(i) // 32) for i in range(ivf.nlist))
            lists = blocks * 32 * ivf.code_size + n * 8 + ivf.nlist * self.dimension * 4
            return int(lists + n * _codes(index, "ivf").code_size + own)
        return int(n * index.code_size + own)

    def add(self, vectors: np.ndarray, ids: np.ndarray | Sequence[int]) -> None:
        """Add float32 (n, dimension) unit vectors with n new, distinct passage ids."""
        matrix = _matrix(vectors, self.dimension, "Vectors to add")
        new = np.asarray(ids, dtype=np.int64).ravel()
        if len(new) != len(matrix):
            raise InvalidArgumentError(f"Got {len(matrix)} vectors but {len(new)} ids to add.")
        if not len(new):
            return
        values, counts = np.unique(new, return_counts=True)
        twice = values[counts > 1]
        if not len(twice) and self._maybe_present(new):
            twice = self._lookup(new)[0]
        if len(twice):
            raise InvalidArgumentError(
                f"Passage id {int(twice[0])} is already in the vector index (or given twice); remove "
                "it before adding it again."
            )
        self._index.add(matrix)
        self._ids = np.concatenate([self._ids, new])
        self._live = np.concatenate([self._live, np.ones(len(new), bool)])
        self._count += len(new)
        self._cache = {}

    def remove(self, ids: np.ndarray | Sequence[int]) -> int:
        """Remove these passages (ids not in the index are ignored); returns how many were."""
        _, positions = self._lookup(np.asarray(ids, dtype=np.int64).ravel())
        if not len(positions):
            return 0
        if self.spec.kind == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(positions))  # keeps the order
            keep = np.ones(len(self._ids), bool)
            keep[positions] = False
            self._ids, self._live = self._ids[keep], self._live[keep]
        else:
            live = self._live.copy()
            live[positions] = False
            self._live = live
        self._count -= len(positions)
        self._cache = {}
        return len(positions)

    def live_ids(self) -> np.ndarray:
        """Sorted, int64."""
        return self._sorted()[0].copy()

    def vectors(self, ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """float32 (len(ids), dimension), decoded from the codec; UnknownPassageError if absent."""
        wanted = np.asarray(ids, dtype=np.int64).ravel()
        found, positions = self._lookup(wanted, keep_order=True)
        if len(found) != len(wanted):
            missing = wanted[~np.isin(wanted, found)][0]
            raise UnknownPassageError(f"No passage with id {int(missing)} in the vector index.")
        return self._decode(positions)

    def search(
        self, queries: np.ndarray, k: int, allow: np.ndarray | Sequence[int] | None = None,
        exclude: np.ndarray | Sequence[int] = (),
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The k passages of highest inner product with each of the (n, dimension) queries.

        An allow-list of at most EXACT_ALLOW passages (or 5% of the index) is searched exactly
        over just those vectors, since graph and list search lose recall when few vectors pass
        a filter; a larger one filters the ANN search, which then looks at more candidates.

        Returns:
            (scores, ids): float32 and int64 (n, k), best first, padded with -inf and id -1.
        """
        matrix = _matrix(queries, self.dimension, "Query vectors")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidArgumentError(f"k must be a positive integer, got {k!r}.")
        excluded = np.unique(np.asarray(exclude, dtype=np.int64)) if len(exclude) else _NONE
        if not self.count:
            return _pad(
                np.zeros((len(matrix), 0), np.float32), np.zeros((len(matrix), 0), np.int64), k
            )
        fraction = 1.0
        bitmap: np.ndarray | None = None
        if allow is not None:
            _, positions = self._lookup(np.asarray(allow, dtype=np.int64).ravel())
            positions = positions[~np.isin(self._ids[positions], excluded)]
            if len(positions) <= max(EXACT_ALLOW, self.count // 20):
                return _pad(*self._exact(matrix, k, positions), k)
            fraction = len(positions) / max(self.count, 1)
            bitmap = _bits(positions, len(self._ids))
        elif self.count < len(self._live):
            # Dead HNSW nodes take places in the candidate list; dead IVF entries are spread
            # over the lists, so probing the same lists finds the same live neighbours.
            fraction = 1.0 - self.stale_fraction if self.spec.kind == "hnsw" else 1.0
            bitmap = self._cached("live_bits", lambda: np.packbits(self._live, bitorder="little"))
        wanted = min(k + len(excluded), len(self._ids))
        if bitmap is None:  # the common case: parameters are only read, so share them
            params = self._cached(f"params{wanted}", lambda: self._params(wanted, 1.0, None))
        else:
            params = self._params(wanted, fraction, _faiss.IDSelectorBitmap(bitmap))
        with _threads(1 if len(matrix) < 20 else 0):
            scores, labels = self._index.search(matrix, wanted, params=params)
        found = np.where(labels >= 0, self._ids[np.maximum(labels, 0)], -1)
        if len(excluded):
            found[np.isin(found, excluded)] = -1
        return _pad(scores, found, k)

    def save(self, file: Path) -> None:
        """Write one file (see `_write_file`); the caller fsyncs and renames it."""
        _write_file(file, self._index, self._ids, self._live, self.spec)

    @classmethod
    def load(cls, file: Path) -> Vectors:
        """Read a file `save` wrote; IndexFormatError if it is missing or damaged."""
        spec, index, ids, live = _read_file(file)
        return cls(spec, index, ids, live)

    def _cached(self, key: str, make: Any) -> Any:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]

    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted live ids, their positions), built once per change."""

        def make() -> tuple[np.ndarray, np.ndarray]:
            positions = np.flatnonzero(self._live)
            keys = self._ids[positions]
            if len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1])):
                order = np.argsort(keys, kind="stable")
                keys, positions = keys[order], positions[order]
            return keys, positions

        return self._cached("sorted", make)  # type: ignore[no-any-return]

    def _maybe_present(self, ids: np.ndarray) -> bool:
        # Fast path for the usual case: new SQLite rowids are larger than every stored one.
        return bool(len(self._ids)) and int(ids.min()) <= int(self._ids.max())

    def _lookup(self, ids: np.ndarray, keep_order: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(ids found live, their positions): in the given order if keep_order, else sorted."""
        keys, positions = self._sorted()
        if not keep_order:
            ids = np.unique(ids)
        if not len(keys):
            return ids[:0], np.zeros(0, np.int64)
        at = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
        hit = keys[at] == ids
        return ids[hit], positions[at[hit]]

    def _decode(self, positions: np.ndarray) -> np.ndarray:
        if not len(positions):
            return np.zeros((0, self.dimension), np.float32)
        return np.asarray(self._index.reconstruct_batch(positions), dtype=np.float32)

    def _exact(
        self, queries: np.ndarray, k: int, positions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over the vectors at `positions`, EXACT_BLOCK scores at a time at most."""
        vectors = self._decode(positions)
        top = min(k, len(positions))
        if top == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        rows = max(1, EXACT_BLOCK // max(len(positions), 1))
        found, found_scores = [], []
        for begin in range(0, len(queries), rows):
            scores = queries[begin : begin + rows] @ vectors.T
            best = np.argpartition(-scores, top - 1, axis=1)[:, :top]
            best_scores = np.take_along_axis(scores, best, 1)
            order = np.argsort(-best_scores, axis=1, kind="stable")
            found.append(np.take_along_axis(best, order, 1))
            found_scores.append(np.take_along_axis(best_scores, order, 1))
        best = np.concatenate(found)
        return np.concatenate(found_scores), self._ids[positions[best]]

    def _params(self, k: int, fraction: float, selector: Any) -> Any:
        """Per-query search parameters; ef and nprobe grow when a filter passes `fraction`."""
        boost = 1.0 / max(fraction, 1e-3)
        params: Any
        if self.spec.kind == "hnsw":
            params = _faiss.SearchParametersHNSW()
            params.efSearch = max(k, min(int(self.spec.ef_search * boost), 4096))
        elif self.spec.kind == "ivf":
            ivf: Any = faiss.SearchParametersIVF()
            ivf.nprobe = min(self.spec.nlist, int(np.ceil(self.spec.nprobe * boost)))
            if selector is not None:
                ivf.sel = selector
            params = _faiss.IndexRefineSearchParameters()
            params.k_factor = self.spec.k_factor
            params.base_index_params = ivf
            return params
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
        return params


@contextmanager
def _threads(count: int) -> Iterator[None]:
    """Run FAISS on `count` OpenMP threads (0: unchanged) in this thread only.

    On a loaded 2-core machine a parallel region waiting for a busy core stalls for a scheduler
    tick: one query to a 10k flat index took 16 ms instead of 0.8 ms.
    """
    if not count:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _codes(index: Any, kind: str) -> Any:
    if kind == "hnsw":
        return _faiss.downcast_index(index.storage)
    if kind == "ivf":
        return _faiss.downcast_index(index.refine_index)
    return index


def _matrix(vectors: np.ndarray, dimension: int, what: str) -> np.ndarray:
    array = np.asarray(vectors)
    if array.ndim != 2 or array.shape[1] != dimension:
        raise InvalidArgumentError(f"{what} have shape {array.shape}; expected (n, {dimension}).")
    return np.ascontiguousarray(array, dtype=np.float32)


def _bits(positions: np.ndarray, size: int) -> np.ndarray:
    mask = np.zeros(size, bool)
    mask[positions] = True
    return np.packbits(mask, bitorder="little")


def _pad(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows compacted to their hits (ids >= 0) in order, cut or padded to k with -1 / -inf."""
    if ids.shape[1] >= k and bool((ids[:, :k] >= 0).all()):  # nothing to compact or pad
        return np.ascontiguousarray(scores[:, :k]), np.ascontiguousarray(ids[:, :k])
    n = len(ids)
    out_ids = np.full((n, k), -1, np.int64)
    out_scores = np.full((n, k), -np.inf, np.float32)
    valid = ids >= 0
    order = np.argsort(~valid, axis=1, kind="stable")[:, :k]
    width = order.shape[1]
    picked = np.take_along_axis(valid, order, 1)
    out_ids[:, :width] = np.where(picked, np.take_along_axis(ids, order, 1), -1)
    out_scores[:, :width] = np.where(picked, np.take_along_axis(scores, order, 1), -np.inf)
    return out_scores, out_ids


# --- the vector file -----------------------------------------------------------------------


_MAGIC = b"PSANN\x00v2"
# magic, faiss bytes, positions, spec bytes, CRC-32 of the payload, CRC-32 of the faiss bytes
_FOOTER = struct.Struct("<8sQQQII")
_CHUNK = 1 << 24  # bytes checksummed at a time


def _write_file(file: Path, index: Any, ids: np.ndarray, live: np.ndarray, spec: AnnSpec) -> None:
    """Layout: FAISS's own serialization (faiss.read_index ignores what follows), the
    position -> id map (int64 little-endian), the live bitmap (little bit order), the spec as
    JSON, and a 40-byte footer: magic, their lengths, a CRC-32 of them and one of FAISS's bytes.
    """
    try:
        faiss.write_index(index, str(file))
    except RuntimeError as exc:  # faiss reports a failed write as a RuntimeError
        raise _os_error(exc, file) from exc
    encoded = json.dumps(spec.to_json(), sort_keys=True).encode()
    payload = ids.astype("<i8").tobytes() + np.packbits(live, bitorder="little").tobytes() + encoded
    with open(file, "r+b") as f:
        faiss_bytes = f.seek(0, 2)
        vectors_crc = _crc(f, faiss_bytes)  # read back from the page cache, as written
        f.seek(faiss_bytes)
        f.write(payload)
        footer = (_MAGIC, faiss_bytes, len(ids), len(encoded), zlib.crc32(payload), vectors_crc)
        f.write(_FOOTER.pack(*footer))


def _crc(f: BinaryIO, size: int) -> int:
    f.seek(0)
    crc = 0
    while size > 0:
        chunk = f.read(min(_CHUNK, size))
        if not chunk:
            raise ValueError("shorter than its footer says")
        crc = zlib.crc32(chunk, crc)
        size -= len(chunk)
    return crc


def _os_error(exc: RuntimeError, file: Path) -> OSError:
    """The OSError behind a faiss write error, from the strerror it quotes (EIO if none)."""
    message = str(exc)
    code = next(
        (c for c in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EFBIG)
         if f"({os.strerror(c)})" in message),
        errno.EIO,
    )  # fmt: skip
    return OSError(code, os.strerror(code), str(file))


def _read_file(file: Path) -> tuple[AnnSpec, Any, np.ndarray, np.ndarray]:
    """(spec, FAISS index, ids, live flags), whole into memory, every byte checked first.

    At 1M passages this takes 0.3 s for ivf, 0.5 s for hnsw, 0.9 s for flat (benchmarks/ann.py,
    warm page cache); benchmarks/checksums.py measures the checksums' share.
    """
    try:
        with open(file, "rb") as f:
            size = f.seek(0, 2)
            if size < _FOOTER.size:
                raise ValueError("shorter than its footer")
            f.seek(size - _FOOTER.size)
            magic, faiss_bytes, n, spec_bytes, crc, vectors_crc = _FOOTER.unpack(
                f.read(_FOOTER.size)
            )
            payload_bytes = 8 * n + (n + 7) // 8 + spec_bytes
            if magic != _MAGIC or (faiss_bytes + payload_bytes + _FOOTER.size != size):
                raise ValueError("truncated, or not written by paraseek")
            f.seek(faiss_bytes)
            payload = f.read(payload_bytes)
            if zlib.crc32(payload) != crc:
                raise ValueError("checksum mismatch in its ids")
            if _crc(f, faiss_bytes) != vectors_crc:
                raise ValueError("checksum mismatch in its vectors")
        ids = np.frombuffer(payload, "<i8", n).astype(np.int64)
        live = np.unpackbits(np.frombuffer(payload, np.uint8, (n + 7) // 8, 8 * n),
                             count=n, bitorder="little").astype(bool)  # fmt: skip
        spec = AnnSpec.from_json(json.loads(payload[payload_bytes - spec_bytes :]))
        index = faiss.read_index(str(file))
        if index.ntotal != n:
            raise ValueError(f"{index.ntotal} vectors for {n} ids")
    except (OSError, ValueError, RuntimeError, IndexFormatError) as exc:
        raise IndexFormatError(
            f"Vector file '{file}' is missing or damaged ({exc}); `paraseek repair --index "
            f"{file.parent}` rebuilds it from the embedding cache."
        ) from exc
    return spec, index, ids, live
