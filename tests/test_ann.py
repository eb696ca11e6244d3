"""Tests of paraseek.index.ann: every kind against a NumPy brute-force oracle, deletes, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paraseek.errors import IndexFormatError, InvalidArgumentError, UnknownPassageError
from paraseek.index import ann
from paraseek.index.ann import (
    FLAT_LIMIT,
    KINDS,
    AnnSpec,
    Vectors,
    choose,
    needs_rebuild,
    training_size,
)

D = 384
N = 3000
K = 10
SPECS = {"flat": choose("flat", N), "hnsw": choose("hnsw", N), "ivf": choose("ivf", N)}


def unit(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clustered unit vectors, like text embeddings: (passages, their ids, held-out queries).

    60 centres in a random 32-d subspace plus small noise; ids are sparse like SQLite rowids
    after deletes.
    """
    rng = np.random.default_rng(7)
    basis = rng.standard_normal((32, D))
    centres = rng.standard_normal((60, 32))
    owner = rng.integers(0, 60, N + 50)
    points = (centres[owner] + 0.6 * rng.standard_normal((N + 50, 32))) @ basis
    points = unit(points + 2.0 * rng.standard_normal((N + 50, D)))
    ids = np.arange(N, dtype=np.int64) * 7 + 5
    return points[:N], ids, points[N:]


def brute(
    passages: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The oracle: (scores, ids) of the k best inner products per query, best first."""
    scores = queries @ passages.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, 1), ids[order]


def build(kind: str, passages: np.ndarray, ids: np.ndarray) -> Vectors:
    spec = SPECS[kind]
    size = training_size(spec, len(passages))
    vectors = Vectors.create(spec, D, passages[:size] if size else None)
    for begin in range(0, len(passages), 1000):  # in batches, as the writer adds
        vectors.add(passages[begin : begin + 1000], ids[begin : begin + 1000])
    return vectors


IVF = pytest.param("ivf", marks=pytest.mark.slow)  # trains on every vector: seconds, not ms


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / truth.shape[1] for f, t in zip(found, truth, strict=True)])
    )


@pytest.fixture(scope="module", params=["flat", "hnsw", IVF])
def built(request: pytest.FixtureRequest, data: tuple) -> tuple[str, Vectors]:
    """One index of each kind over `data`; tests must not change it."""
    passages, ids, _ = data
    return request.param, build(request.param, passages, ids)


def check(
    kind: str, got: tuple, passages: np.ndarray, ids: np.ndarray, queries: np.ndarray
) -> None:
    """flat equals the oracle; an ANN index finds >= 90% of its top 10."""
    scores, found = got
    truth_scores, truth = brute(passages, ids, queries, K)
    assert found.shape == scores.shape == (len(queries), K)
    assert found.dtype == np.int64 and scores.dtype == np.float32
    if kind == "flat":
        assert (found == truth).mean() > 0.99  # exact up to float ties
        np.testing.assert_allclose(scores, truth_scores, atol=1e-5)
    else:
        assert recall(found, truth) >= 0.9


def test_search_matches_brute_force(built: tuple[str, Vectors], data: tuple) -> None:
    kind, vectors = built
    passages, ids, queries = data
    assert vectors.count == N and vectors.dimension == D and vectors.stale_fraction == 0
    check(kind, vectors.search(queries, K), passages, ids, queries)


def test_scores_are_true_inner_products(built: tuple[str, Vectors], data: tuple) -> None:
    kind, vectors = built
    passages, ids, queries = data
    scores, found = vectors.search(queries, K)
    row = {int(i): n for n, i in enumerate(ids)}
    true = np.array([[queries[q] @ passages[row[int(i)]] for i in r] for q, r in enumerate(found)])
    np.testing.assert_allclose(scores, true, atol=1e-5 if kind == "flat" else 2e-2)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["flat", "hnsw", IVF])
def test_remove_then_add(data: tuple, kind: str) -> None:
    passages, ids, queries = data
    vectors = build(kind, passages, ids)
    _, first = vectors.search(queries, K)
    gone = np.unique(np.concatenate([first[:, :3].ravel(), ids[::3]]))
    assert vectors.remove(np.concatenate([gone, [10**12]])) == len(gone)  # unknown ignored
    assert vectors.count == N - len(gone)
    assert (vectors.stale_fraction == 0) if kind == "flat" else (vectors.stale_fraction > 0.3)
    keep = ~np.isin(ids, gone)
    got = vectors.search(queries, K)
    assert not np.isin(got[1], gone).any(), kind
    check(kind, got, passages[keep], ids[keep], queries)
    # Add back a third of the removed passages under new ids, and one under its old id.
    back = np.flatnonzero(~keep)[::3]
    new_ids = ids[back] + 10**9
    new_ids[0] = ids[back[0]]
    vectors.add(passages[back], new_ids)
    now_ids = ids.copy()
    now_ids[back] = new_ids
    now = keep.copy()
    now[back] = True
    check(kind, vectors.search(queries, K), passages[now], now_ids[now], queries)
    _, top = vectors.search(passages[back[:20]], 1)
    assert (top[:, 0] == new_ids[:20]).mean() >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["flat", "hnsw", IVF])
def test_save_load_round_trip(tmp_path: Path, data: tuple, kind: str) -> None:
    passages, ids, queries = data
    vectors = build(kind, passages, ids)
    vectors.remove(ids[:100])
    file = tmp_path / f"vectors.{kind}.faiss"
    vectors.save(file)
    loaded = Vectors.load(file)
    assert loaded.spec == vectors.spec and loaded.count == vectors.count == N - 100
    assert loaded.stale_fraction == vectors.stale_fraction
    for a, b in zip(vectors.search(queries, K), loaded.search(queries, K), strict=True):
        np.testing.assert_array_equal(a, b)
    assert 0 < loaded.memory_bytes() <= file.stat().st_size * 1.2
    loaded.add(passages[:100], ids[:100])  # a loaded index can still change
    assert loaded.count == N


def test_allow_list_is_exact_over_the_allowed(built: tuple[str, Vectors], data: tuple) -> None:
    kind, vectors = built
    passages, ids, queries = data
    allowed = np.flatnonzero(np.arange(N) % 17 == 3)  # ~176 passages: the exact path
    allow = np.concatenate([ids[allowed], [-4, 10**12]])  # unknown ids are ignored
    scores, found = vectors.search(queries, K, allow=allow)
    truth_scores, truth = brute(passages[allowed], ids[allowed], queries, K)
    assert np.isin(found, ids[allowed]).all()
    if kind == "flat":
        np.testing.assert_array_equal(found, truth)
    else:  # the same ids up to the codec's error: each hit scores within it of the 10th best
        assert recall(found, truth) >= 0.95
        assert (truth_scores[:, -1:] - 0.01 <= scores).all()


def test_exact_search_in_blocks_gives_the_same_hits(
    built: tuple[str, Vectors], data: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Talking points search with every passage at once: the score matrix goes in blocks of
    # queries so that its memory stays bounded, with the same answer as in one piece.
    _, vectors = built
    _, ids, queries = data
    allow = ids[np.flatnonzero(np.arange(N) % 17 == 3)]
    whole = vectors.search(queries, K, allow=allow)
    monkeypatch.setattr(ann, "EXACT_BLOCK", 3 * len(allow))  # 3 queries per block
    blocked = vectors.search(queries, K, allow=allow)
    np.testing.assert_array_equal(blocked[1], whole[1])
    np.testing.assert_allclose(blocked[0], whole[0], atol=1e-5)  # BLAS sums in another order


def test_large_allow_list_filters_the_search(
    built: tuple[str, Vectors], data: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, vectors = built
    passages, ids, queries = data
    monkeypatch.setattr(ann, "EXACT_ALLOW", 100)
    half = np.flatnonzero(np.arange(N) % 2 == 0)
    _, found = vectors.search(queries, K, allow=ids[half])
    assert np.isin(found, ids[half]).all()
    assert recall(found, brute(passages[half], ids[half], queries, K)[1]) >= 0.85


def test_exclude_is_never_returned(built: tuple[str, Vectors], data: tuple) -> None:
    _, vectors = built
    _, ids, queries = data
    _, first = vectors.search(queries, K)
    excluded = first[:, :4].ravel()
    scores, found = vectors.search(queries, K, exclude=excluded)
    assert not np.isin(found, excluded).any() and (found >= 0).all()
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first
    allow = np.concatenate([first[0, :6], ids[:3]])
    _, found = vectors.search(queries[:1], K, allow=allow, exclude=first[0, :2])
    assert set(found[0][found[0] >= 0]) == set(allow) - set(first[0, :2])


def test_fewer_hits_than_k_are_padded(built: tuple[str, Vectors], data: tuple) -> None:
    _, vectors = built
    _, ids, queries = data
    scores, found = vectors.search(queries[:2], 5, allow=ids[:3], exclude=ids[:1])
    assert (found[:, 2:] == -1).all() and np.isneginf(scores[:, 2:]).all()
    assert set(found[0, :2]) == set(ids[1:3])


def test_vectors_decodes_stored_vectors(built: tuple[str, Vectors], data: tuple) -> None:
    kind, vectors = built
    passages, ids, _ = data
    got = vectors.vectors(ids[[5, 1, 5]])
    np.testing.assert_allclose(got, passages[[5, 1, 5]], atol=1e-6 if kind == "flat" else 2e-2)
    with pytest.raises(UnknownPassageError, match="id 4"):
        vectors.vectors([ids[0], 4])


def test_empty_index_finds_nothing(data: tuple) -> None:
    _, _, queries = data
    scores, found = Vectors.create(choose("auto", 0), D).search(queries[:2], 3)
    assert (found == -1).all() and np.isneginf(scores).all()


def test_bad_arguments_are_named(data: tuple) -> None:
    passages, ids, queries = data
    vectors = build("flat", passages[:10], ids[:10])
    with pytest.raises(InvalidArgumentError, match=r"expected \(n, 384\)"):
        vectors.search(queries[0], K)
    with pytest.raises(InvalidArgumentError, match="k must be a positive integer"):
        vectors.search(queries, 0)
    with pytest.raises(InvalidArgumentError, match=f"Passage id {ids[3]} is already"):
        vectors.add(passages[:1], ids[3:4])
    with pytest.raises(InvalidArgumentError, match="Passage id 9 is already"):
        vectors.add(passages[:2], [9, 9])
    with pytest.raises(InvalidArgumentError, match="2 vectors but 1 ids"):
        vectors.add(passages[:2], [10**9])
    with pytest.raises(InvalidArgumentError, match="training sample"):
        Vectors.create(SPECS["ivf"], D, None)


def test_choose_by_kind_and_count() -> None:
    assert choose("auto", 100) == choose("auto", FLAT_LIMIT - 1) == choose("flat", 10**6)
    assert choose("auto", 100).kind == "flat" and choose("auto", 100).codec == "fp32"
    big = choose("auto", 10**6)
    assert big.kind in ("hnsw", "ivf") and big.codec in ("fp16", "sq8")
    assert choose("hnsw", 50_000).kind == "hnsw" and choose("ivf", 50_000).kind == "ivf"
    assert choose("ivf", 10**6).nlist > choose("ivf", 50_000).nlist
    assert choose("hnsw", 10).kind == "flat"  # too few vectors for an approximate index
    with pytest.raises(InvalidArgumentError) as error:
        choose("annoy", 10)
    assert str(error.value) == (
        "Unknown --ann index kind 'annoy'; valid kinds: auto, flat, hnsw, ivf."
    )
    assert KINDS == ("auto", "flat", "hnsw", "ivf")


def test_needs_rebuild() -> None:
    hnsw, flat = choose("hnsw", 50_000), choose("flat", 50_000)
    assert needs_rebuild(flat, hnsw) and needs_rebuild(hnsw, flat)
    assert needs_rebuild(hnsw, choose("auto", 10**6))
    assert not needs_rebuild(choose("auto", 10**6), choose("ivf", 10**6))
    assert not needs_rebuild(hnsw, AnnSpec("hnsw", "sq8", hnsw.m, hnsw.ef_construction, 999))
    assert not needs_rebuild(choose("ivf", 100_000), choose("ivf", 150_000))
    assert needs_rebuild(choose("ivf", 20_000), choose("ivf", 10**6))


def test_spec_json_round_trip_and_description() -> None:
    for spec in (*SPECS.values(), choose("auto", 10**6)):
        assert AnnSpec.from_json(spec.to_json()) == spec
    assert set(SPECS["flat"].to_json()) == {"kind", "codec"}
    assert SPECS["hnsw"].describe().startswith(f"HNSW{SPECS['hnsw'].m},SQ8 efConstruction=")
    with pytest.raises(IndexFormatError, match="re-index"):
        AnnSpec.from_json({"kind": "hnsw", "codec": "sq8"})  # no m
    with pytest.raises(IndexFormatError, match="re-index"):
        AnnSpec.from_json(["flat"])
    with pytest.raises(InvalidArgumentError, match="codec 'int4'"):
        AnnSpec("flat", "int4")


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "missing"])
def test_damaged_file_names_it(tmp_path: Path, data: tuple, damage: str) -> None:
    passages, ids, _ = data
    file = tmp_path / "vectors.3.faiss"
    build("hnsw", passages[:1500], ids[:1500]).save(file)
    raw = file.read_bytes()
    if damage == "truncate":
        file.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":  # a byte after FAISS's part: the checksum catches it
        file.write_bytes(raw[:-100] + bytes([raw[-100] ^ 0xFF]) + raw[-99:])
    elif damage == "empty":
        file.write_bytes(b"")
    else:
        file.unlink()
    with pytest.raises(IndexFormatError) as error:
        Vectors.load(file)
    assert f"'{file}'" in str(error.value) and "paraseek repair --index" in str(error.value)
