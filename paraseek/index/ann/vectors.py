"""`Vectors`: a FAISS index with passage ids, deletes (tombstones) and search; saved by `file`."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from ...errors import InvalidArgumentError, UnknownPassageError
from .file import read, write
from .spec import EXACT_ALLOW, SQ_MARGIN, AnnSpec

_faiss: Any = faiss  # its type stubs lack the bitmap selector and some search parameters
_NONE = np.zeros(0, np.int64)
EXACT_BLOCK = 1 << 24  # scores computed at once by an exact search: 64 MB of float32


class Vectors:
    """A FAISS index of unit vectors keyed by passage id, with deletes; see the module docstring.

    Searching is thread-safe (per-query parameters, no shared state is changed); `add` and
    `remove` must not run while another thread searches the same object.
    """

    def __init__(self, spec: AnnSpec, index: Any, ids: np.ndarray, live: np.ndarray) -> None:
        """Wrap a FAISS index whose labels are positions; use `create` or `load` instead."""
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
        """An empty index of `dimension`-d vectors.

        Args:
            spec: what to build.
            dimension: vector size.
            training: float32 (n, dimension) sample, n = `training_size(spec, count)`; needed
                when that is > 0 (scalar quantizer ranges, IVF centroids), ignored otherwise.

        Raises:
            InvalidArgumentError: training vectors missing or of the wrong shape.
        """
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

    # --- size -----------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Live (searchable) vectors."""
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

    # --- changes --------------------------------------------------------------------------

    def add(self, vectors: np.ndarray, ids: np.ndarray | Sequence[int]) -> None:
        """Add vectors with their passage ids.

        Args:
            vectors: float32 (n, dimension), unit rows.
            ids: int64 (n,), distinct and not already in the index (a removed id may return).

        Raises:
            InvalidArgumentError: wrong shapes, or an id given twice or already present.
        """
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

    # --- reads ----------------------------------------------------------------------------

    def live_ids(self) -> np.ndarray:
        """The ids of every live (searchable) vector, sorted, int64."""
        return self._sorted()[0].copy()

    def vectors(self, ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """The stored vectors of these passages, decoded from the codec (exact for fp32).

        Returns:
            float32 (len(ids), dimension), in the order of `ids`.

        Raises:
            UnknownPassageError: an id is not in the index.
        """
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
        """The k passages of highest inner product with each query.

        flat is exact. HNSW and IVF are approximate (see `choose` for measured recall) and score
        with the codec's decoded vectors. An allow-list of at most EXACT_ALLOW passages (or 5%
        of the index) is searched exactly over just those vectors, decoded from the codec: the
        same ids as brute force over them, up to the codec's error (about 1e-3 for sq8), since
        graph and list search lose recall when few vectors pass a filter; a larger allow-list
        filters the ANN search, which then looks at proportionally more candidates.

        Args:
            queries: float32 (n, dimension), unit rows.
            k: neighbours per query, >= 1.
            allow: if given, only these passage ids may be returned (unknown ids are ignored).
            exclude: passage ids never returned.

        Returns:
            (scores, ids): float32 (n, k) best first, and int64 (n, k) passage ids; a row holds
            fewer than k hits when fewer passages qualify, padded with id -1 and score -inf.
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

    # --- files ----------------------------------------------------------------------------

    def save(self, file: Path) -> None:
        """Write everything to the one file `file` (the caller fsyncs and renames it); see
        `file.write`."""
        write(file, self._index, self._ids, self._live, self.spec)

    @classmethod
    def load(cls, file: Path) -> Vectors:
        """Read an index written by `save`, whole into memory (see `file.read`).

        Raises:
            IndexFormatError: the file is missing, truncated or damaged; the message names it.
        """
        spec, index, ids, live = read(file)
        return cls(spec, index, ids, live)

    # --- internals ------------------------------------------------------------------------

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
        """Brute force over the decoded vectors at `positions`: (scores, ids), best first.

        Queries go in blocks, so the score matrix stays under EXACT_BLOCK scores however many
        queries there are (talking points search with every passage of the collection).
        """
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
        """Per-query search parameters (FAISS keeps the objects set on them alive).

        ef and nprobe grow when a filter passes only `fraction` of the vectors.
        """
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

    A few queries run faster on one thread, and a parallel region whose second thread waits
    for a busy core stalls for a scheduler tick (16 ms instead of 0.8 ms measured for one query
    to a 10k flat index on a loaded 2-core machine). OpenMP's setting is per thread, so other
    threads' searches and builds are unaffected.
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
    """The part of a `kind` index that stores each vector with the codec."""
    if kind == "hnsw":
        return _faiss.downcast_index(index.storage)
    if kind == "ivf":
        return _faiss.downcast_index(index.refine_index)
    return index


def _matrix(vectors: np.ndarray, dimension: int, what: str) -> np.ndarray:
    """`vectors` as C-contiguous float32 (n, dimension), or InvalidArgumentError."""
    array = np.asarray(vectors)
    if array.ndim != 2 or array.shape[1] != dimension:
        raise InvalidArgumentError(f"{what} have shape {array.shape}; expected (n, {dimension}).")
    return np.ascontiguousarray(array, dtype=np.float32)


def _bits(positions: np.ndarray, size: int) -> np.ndarray:
    """A little-endian bitmap of `size` bits with `positions` set (for IDSelectorBitmap)."""
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
