"""The vector-store contract, run on both stores: FAISS files and Milvus (Milvus Lite here).

Both indexes are built from the same index of the sample corpus with an exact (flat) index, so
passage ids agree between them and every answer can be checked against NumPy brute force over
the exact vectors of the embedding cache. Milvus reads use Strong consistency (the default).
Keyword search always comes from the index's own database, so every mode answers the same.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from paraseek.embedder import Embedder
from paraseek.errors import (
    InvalidArgumentError,
    StoreMismatchError,
    StoreUnavailableError,
)
from paraseek.index import Index, Writer, grouped
from paraseek.index.stores import HYBRID
from paraseek.scale.milvus import MilvusStore, public_uri
from paraseek.search import Hit, Searcher

from .conftest import SAMPLE, copy_index, sample_cache, script
from .test_cli import assert_error
from .test_search import GOLDEN

STORES = ["faiss", "milvus"]
# Milvus Lite, and both stores built for the module: in `make test`, not in the fast lane.
pytestmark = pytest.mark.slow
QUERIES = ["Russia and the election", "communism and religion", "the press", "law school"]


def _open(path: Path) -> Index:
    return Index(path)


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, sample_index: Path, embedder: Embedder
) -> dict[str, Path]:
    """The sample corpus indexed once per store (flat: exact): each a copy of the session's
    sample index, updated with its store and flat, so the Milvus one has every vector moved
    into Milvus Lite from the embedding cache (a fresh Milvus build: `small`, the CLI test)."""
    root = tmp_path_factory.mktemp("indexes")
    paths = {}
    for store in STORES:
        copy_index(sample_index, root / store)
        with Writer(root / store, embedder, ann="flat", store=store) as writer:
            assert writer.update([SAMPLE]).embedded == 0
        paths[store] = root / store
    return paths


@pytest.fixture(scope="module")
def indexes(built: dict[str, Path]) -> Iterator[dict[str, Index]]:
    opened = {name: _open(path) for name, path in built.items()}
    yield opened
    for index in opened.values():
        index.close()  # stops the in-process Milvus Lite servers


@pytest.fixture(params=STORES)
def index(request: pytest.FixtureRequest, indexes: dict[str, Index]) -> Index:
    return indexes[request.param]


def _oracle(index: Index) -> tuple[np.ndarray, np.ndarray]:
    """Every passage id, sorted, and its exact vector from the embedding cache."""
    ids = np.array(sorted(i for d in index.documents() for i in index.passage_ids([d.id])))
    return ids, index.vectors(list(ids))


def _brute_force(query: np.ndarray, ids: np.ndarray, matrix: np.ndarray, k: int) -> list[int]:
    scores = matrix @ query
    return [int(ids[j]) for j in np.argsort(-scores, kind="stable")[:k]]


# --- dense search ------------------------------------------------------------------------


def test_exact_search_equals_brute_force(index: Index, embedder: Embedder) -> None:
    ids, matrix = _oracle(index)
    queries = embedder.embed_queries(QUERIES)
    found, scores = index.search(queries, 10)
    for query, passages, got in zip(queries, found, scores, strict=True):
        expected = _brute_force(query, ids, matrix, 10)
        assert [p.id for p in passages] == expected
        np.testing.assert_allclose(got, np.sort(matrix @ query)[::-1][:10], atol=1e-4)
    # an allow-list with exclusions, and k larger than the allow-list
    allowed = [int(i) for i in ids[::4]]
    found, _ = index.search(queries[:1], 500, passage_ids=allowed, exclude=allowed[:3])
    pool = np.array(allowed[3:])
    assert [p.id for p in found[0]] == _brute_force(
        queries[0], pool, matrix[np.searchsorted(ids, pool)], 500
    )


def test_both_stores_return_the_same_top_k(indexes: dict[str, Index], embedder: Embedder) -> None:
    queries = embedder.embed_queries(QUERIES)
    faiss_found, faiss_scores = indexes["faiss"].search(queries, 20)
    milvus_found, milvus_scores = indexes["milvus"].search(queries, 20)
    for a, b in zip(faiss_found, milvus_found, strict=True):
        assert [p.id for p in a] == [p.id for p in b] and len(a) == 20
    np.testing.assert_allclose(faiss_scores, milvus_scores, atol=1e-4)


def test_document_filter(index: Index, embedder: Embedder) -> None:
    searcher = Searcher(index, embedder)
    ids, matrix = _oracle(index)
    for document in index.documents()[:3]:
        hits = searcher.search("What is this about?", 5, documents=[document.id], mode="dense")
        allowed = np.array(sorted(index.passage_ids([document.id])))
        expected = _brute_force(
            embedder.embed_queries(["What is this about?"])[0], allowed,
            matrix[np.searchsorted(ids, allowed)], 5,
        )  # fmt: skip
        assert [h.passage_id for h in hits] == expected
        assert {h.document_id for h in hits} == {document.id}


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("in_memory", [True, False], ids=["cached", "streamed"])
def test_compare_finds_each_documents_best_passages(
    built: dict[str, Path], store: str, in_memory: bool, embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Compare's one scan of the cached vectors gives, for every document, brute force over
    its own passages; the same whether the vectors stay in memory or are read in blocks."""
    if not in_memory:  # an index too large to keep: read in blocks of 7 passages at each scan
        monkeypatch.setattr(grouped, "CACHE_BYTES", 0)
        monkeypatch.setattr(grouped, "BLOCK", 7)
    index = _open(built[store])
    ids, matrix = _oracle(index)
    queries = embedder.embed_queries(QUERIES)
    found = index.best_per_document(queries, 3)
    some = [d.id for d in index.documents()[:2]]
    only = index.best_per_document(queries[:1], 2, documents=set(some))[0]
    for query, per_document in zip(queries, found, strict=True):
        assert sorted(d for d, _, _ in per_document) == sorted(d.id for d in index.documents())
        for document, got, scores in per_document:
            own = np.array(sorted(index.passage_ids([document])))
            expected = _brute_force(query, own, matrix[np.searchsorted(ids, own)], 3)
            assert got == expected
            np.testing.assert_allclose(
                scores, matrix[np.searchsorted(ids, expected)] @ query, atol=1e-5
            )
    assert [(d, got) for d, got, _ in only] == [(d, got[:2]) for d, got, _ in found[0] if d in some]
    index.close()


def test_more_like_this_excludes_the_passage(index: Index, embedder: Embedder) -> None:
    searcher = Searcher(index, embedder)
    first = index.first_passage_ids()[0]
    hits = searcher.similar(first, 5, other_documents_only=True)
    own = index.passages([first])[0].document_id
    assert len(hits) == 5 and all(h.document_id != own for h in hits)


# --- hybrid ------------------------------------------------------------------------------


def test_every_store_gives_the_same_answers_in_every_mode(
    indexes: dict[str, Index], embedder: Embedder
) -> None:
    """search in each mode, compare and similar: the same ids, scores within float tolerance."""
    faiss, milvus = Searcher(indexes["faiss"], embedder), Searcher(indexes["milvus"], embedder)
    assert indexes["milvus"].stats()["hybrid"] == indexes["faiss"].stats()["hybrid"] == HYBRID

    def same(a: list[Hit], b: list[Hit], what: str) -> None:
        assert [h.passage_id for h in a] == [h.passage_id for h in b] and a, what
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-4), what

    for question, _ in GOLDEN:
        for mode in ("dense", "keyword", "hybrid"):
            same(faiss.search(question, 10, mode=mode), milvus.search(question, 10, mode=mode),
                 f"{mode}: {question}")  # fmt: skip
        same(faiss.compare(question, 2), milvus.compare(question, 2), f"compare: {question}")
    for passage in indexes["faiss"].first_passage_ids()[:3]:
        same(faiss.similar(passage, 8), milvus.similar(passage, 8), f"similar: {passage}")


# --- writes: deletes and updates -----------------------------------------------------------


@pytest.fixture(params=STORES)
def small(request: pytest.FixtureRequest, tmp_path: Path, embedder: Embedder) -> Iterator[Path]:
    """A private index of three sample documents in `request.param`'s store."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for file in sorted(SAMPLE.iterdir())[:3]:
        shutil.copy(file, folder / file.name)
    path = tmp_path / "index"
    with Writer(path, embedder, ann="flat", store=request.param) as writer:
        writer.update([folder])
    yield path


def _all_hits(index: Index, embedder: Embedder, query: str) -> list[int]:
    found, _ = index.search(embedder.embed_queries([query]), 10_000)
    return [int(p.id or 0) for p in found[0]]


def test_a_removed_document_never_comes_back(small: Path, embedder: Embedder) -> None:
    index = _open(small)
    victim = index.documents()[0]
    gone = set(index.passage_ids([victim.id]))
    with Writer(small, embedder) as writer:
        assert writer.remove([victim.id]) == 1
    passages = index.stats()["passages"]
    found = _all_hits(index, embedder, victim.title)
    assert len(found) == passages and not gone & set(found)
    assert index.store.count == passages  # Milvus deleted the rows after the commit
    searcher = Searcher(index, embedder)
    for mode in ("dense", "keyword", "hybrid"):
        assert victim.id not in {
            h.document_id for h in searcher.search(victim.title, 50, mode=mode)
        }
    index.close()


def test_a_changed_file_replaces_its_passages(small: Path, embedder: Embedder) -> None:
    index = _open(small)
    searcher = Searcher(index, embedder)
    document = index.documents()[0]
    before = set(index.passage_ids([document.id]))
    question = "When does the zeppelin ferry to Reykjavik leave?"
    assert searcher.compare(question, documents=[document.id])[0].passage_id in before
    Path(document.path).write_text(
        "The zeppelin ferry to Reykjavik leaves at dawn.\n\nAardvarks dislike the cold.\n",
        encoding="utf-8",
    )
    with Writer(small, embedder) as writer:
        report = writer.update([Path(document.path).parent])
    assert report.changed == [document.path]
    after = set(index.passage_ids([document.id]))
    assert after and not before & after
    for mode in ("dense", "keyword", "hybrid"):
        hits = searcher.search(question, 3, mode=mode)
        assert "zeppelin ferry" in hits[0].text, mode
    answer = searcher.compare(question)  # compare's scan follows the new version too
    assert "zeppelin ferry" in answer[0].text and answer[0].document_id == document.id
    assert {h.passage_id for h in answer} <= set(_all_hits(index, embedder, question))
    found = set(_all_hits(index, embedder, "zeppelin"))
    assert not before & found and after <= found
    assert index.store.count == index.stats()["passages"]
    index.close()


# --- Milvus: no shared transaction, so the order of writes keeps readers right -------------


def test_milvus_orphans_are_never_returned_and_the_next_writer_removes_them(
    tmp_path: Path, embedder: Embedder
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for file in sorted(SAMPLE.iterdir())[1:3]:
        shutil.copy(file, folder / file.name)
    path = tmp_path / "index"
    with Writer(path, embedder, ann="flat", store="milvus") as writer:
        writer.update([folder])
    index = _open(path)
    victim = index.documents()[0].id
    removed = index.passage_ids([victim])
    with Writer(path, embedder) as writer:
        writer.remove([victim])
    query = embedder.embed_queries(["Russia and the election"])
    ids, matrix = _oracle(index)
    expected = _brute_force(query[0], ids, matrix, 5)
    passages = int(index.stats()["passages"])  # type: ignore[call-overload]
    store = index.store
    assert isinstance(store, MilvusStore)
    # What a crash leaves, closer to the query than any real passage: rows of a commit that
    # never happened (ids above the last committed one), and rows whose deletion was
    # committed (the `retired` table) but not applied to Milvus yet.
    uncommitted = [max(removed) + 1_000, 10_000_000]
    rows = [{"id": i, "vector": query[0]} for i in uncommitted + removed]
    store._client.upsert(store.collection, rows)
    with sqlite3.connect(path / "paraseek.db") as conn:
        conn.executemany("INSERT INTO retired (id) VALUES (?)", [(i,) for i in removed])
    conn.close()
    assert set(removed) <= set(store.search(query, len(removed))[1][0].tolist())  # Milvus has them
    found, _ = index.search(query, 5)  # the index drops them, and asks for more
    assert [p.id for p in found[0]] == expected
    hybrid = Searcher(index, embedder).search("Russia and the election", 5)
    assert len(hybrid) == 5 and {h.passage_id for h in hybrid} <= set(ids.tolist())
    assert store.count == passages + len(removed)  # readers do not see ids above the last
    index.close()
    with Writer(path, embedder):  # purges what a failed commit left, finishes the deletes
        pass
    index = _open(path)
    assert index.store.count == passages
    assert [p.id for p in index.search(query, 5)[0][0]] == expected
    index.close()


# --- which store, and moving between them ----------------------------------------------------


def test_the_store_is_sticky_and_moves_without_embedding_again(
    small: Path, embedder: Embedder
) -> None:
    index = _open(small)
    kind = index.store.kind
    other = "milvus" if kind == "faiss" else "faiss"
    query = embedder.embed_queries(["Russia and the election"])
    before = [p.id for p in index.search(query, 10)[0][0]]
    with pytest.raises(StoreMismatchError, match=f"--store {kind}"):
        Index(small, store=other)
    with Writer(small, embedder) as writer:  # no --store: keeps the index's
        assert writer.update([Path(index.documents()[0].path).parent]).moved == ""
    with Writer(small, embedder, store=other) as writer:
        report = writer.update([Path(index.documents()[0].path).parent])
    assert report.moved == kind and report.embedded == 0
    manifest = json.loads((small / "manifest.json").read_text())
    assert manifest["store"]["kind"] == other and index.store.kind == other
    assert [p.id for p in index.search(query, 10)[0][0]] == before
    files = list(small.glob("vectors.*.faiss"))
    assert (not files) if other == "milvus" else len(files) >= 1
    index.close()


def test_store_arguments_are_checked(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidArgumentError, match="valid stores: faiss, milvus"):
        Writer(tmp_path / "a", embedder, store="qdrant")
    monkeypatch.setenv("PARASEEK_MILVUS_URI", "http://127.0.0.1:19530")
    with pytest.raises(InvalidArgumentError, match="add --store milvus"):
        Writer(tmp_path / "b", embedder, store="faiss")
    monkeypatch.setenv("PARASEEK_MILVUS_URI", "http://user:secret@127.0.0.1:1")
    with pytest.raises(
        StoreUnavailableError, match=r"Could not connect to Milvus at http://127\.0\.0\.1:1 "
    ):
        Writer(tmp_path / "c", embedder, store="milvus")


def test_the_manifest_records_no_secret() -> None:
    folder = Path("/data/idx")
    assert public_uri("https://user:pa55@milvus.example:19530/db", folder) == (
        "https://milvus.example:19530/db"
    )
    assert public_uri("/data/idx/milvus.db", folder) == "milvus.db"  # moves with the folder


def test_a_lite_file_elsewhere_is_recorded_by_its_full_path(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    lite = tmp_path / "elsewhere.db"
    monkeypatch.setenv("PARASEEK_MILVUS_URI", str(lite))
    with Writer(tmp_path / "index", embedder, store="milvus"):
        pass
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["store"]["uri"] == str(lite.resolve())
    assert manifest["store"]["collection"].startswith("paraseek_index_")


# --- the command line ----------------------------------------------------------------------


def test_cli_indexes_and_searches_with_milvus(
    tmp_path: Path, sample_index: Path, embedder: Embedder
) -> None:
    # An index without documents, whose cache holds the sample's vectors: the run inserts
    # every passage into Milvus Lite without embedding it again.
    path = sample_cache(sample_index, tmp_path / "index", embedder)
    result = script("index", SAMPLE, "--index", path, "--store", "milvus")
    assert result.returncode == 0, result.stderr
    assert "5 added" in result.stdout and "268 from cache" in result.stdout
    assert "Milvus AUTOINDEX" in result.stdout and (path / "milvus.db").is_dir()
    env = {"PARASEEK_MILVUS_CONSISTENCY": "Strong"}
    result = script("search", "Why did Michael Flynn step down?", "--index", path, "--json", "-k", "3",
                    env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(hits) == 3 and "Flynn" in " ".join(h["text"] for h in hits)
    info = json.loads(script("info", "--index", path, "--json").stdout)
    assert info["store"]["kind"] == "milvus" and info["hybrid"] == HYBRID
    assert_error(script("search", "x", "--index", path, "--store", "faiss"), "milvus store")
    check = script("check", "--index", path)
    assert check.returncode == 0, check.stdout
    assert "256 sampled passages found by their own vectors" in check.stdout
    # Milvus Lite allows one process per file: while this one has it open, the CLI cannot.
    index = _open(path)
    assert index.store.kind == "milvus"  # the first read opens the store
    try:
        result = script("search", "x", "--index", path)
        assert_error(result, "is open in another process")
        assert "milvus-lite server" in result.stderr
    finally:
        index.close()
    assert script("search", "x", "--index", path, "-k", "1").returncode == 0


def test_each_documents_best_passages_come_best_first_ties_to_the_lower_id() -> None:
    """grouped.best on a table made by hand: documents apart, scores falling, and equal scores
    (duplicate passages) in the order of their ids, however many there are."""
    ids = np.arange(10, 310, 2)  # 150 passages, ids ascending as the table keeps them
    documents = np.array([0] * 100 + [1] * 50)[::-1].copy()  # document 1 holds the lowest ids
    column = np.full(150, 0.5, np.float32)  # every passage of document 0 scores the same
    column[:50] = np.linspace(-0.9, 0.9, 50, dtype=np.float32)  # document 1, rising with id
    table = grouped.Table(ids, documents, ("zero", "one"), None)
    found = grouped.best(table, column, np.ones(150, bool), 3)
    assert (
        [(d, got) for d, got, _ in found]
        == [
            ("zero", [int(i) for i in ids[50:53]]),  # tied: the three lowest ids
            ("one", [int(i) for i in ids[49:46:-1]]),  # the three best, best first
        ]
    )
    assert found[1][2] == pytest.approx([0.9, 0.8632653, 0.8265306])
    skip_two = np.ones(150, bool)
    skip_two[[50, 49]] = False
    assert [got for _, got, _ in grouped.best(table, column, skip_two, 2)] == [
        [int(i) for i in ids[51:53]],
        [int(i) for i in ids[48:46:-1]],
    ]
