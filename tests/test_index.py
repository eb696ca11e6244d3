"""The on-disk index: exact search, round trips, incremental updates, crash safety, errors."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from paraseek.corpus import Document, Passage, TokenSpans, read_documents, split_document
from paraseek.embedder import Embedder, bundled_model_path
from paraseek.errors import (
    IndexFormatError,
    IndexNotFoundError,
    ModelMismatchError,
    NoDocumentsError,
)
from paraseek.index import Index, Writer
from paraseek.index.executors import Splitter
from paraseek.index.rows import decode, text_hash
from paraseek.index.writer import Splits

from .conftest import INTERVIEW, SAMPLE, SCRIPT, copy_index


@pytest.fixture
def short_corpus(tmp_path: Path) -> Path:
    """A copy of the sample corpus without its long interview: four documents, a quarter of
    its passages, for tests of how documents are indexed rather than of how many."""
    folder = tmp_path / "short"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns(INTERVIEW.name))
    return folder


def _all_vectors(index: Index) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array(sorted(i for d in index.documents() for i in index.passage_ids([d.id])))
    return ids, index.vectors(list(ids))


def _consistent(path: Path) -> None:
    """Manifest, documents, passages, keyword lengths and vectors agree."""
    index = Index(path)
    stats = index.stats()
    conn = sqlite3.connect(path / "paraseek.db")
    passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
    assert conn.execute("SELECT count(*) FROM keyword_lengths").fetchone()[0] == passages
    assert (
        conn.execute(
            "SELECT count(*) FROM passages WHERE document_id NOT IN (SELECT id FROM documents)"
        ).fetchone()[0]
        == 0
    )
    assert conn.execute("SELECT sum(passages) FROM documents").fetchone()[0] == passages
    ids, vectors = _all_vectors(index)
    assert len(ids) == passages == stats["passages"] and vectors.shape == (passages, 384)


def test_search_equals_numpy_brute_force(sample_index: Path, embedder: Embedder) -> None:
    index = Index(sample_index)
    ids, matrix = _all_vectors(index)
    queries = embedder.embed_queries(
        ["Russia and the election", "communism and religion", "the press"]
    )
    found, scores = index.search(queries, 10)
    oracle = queries @ matrix.T
    for row, (passages, got) in enumerate(zip(found, scores, strict=True)):
        best = np.argsort(-oracle[row], kind="stable")[:10]
        assert [p.id for p in passages] == list(ids[best])
        np.testing.assert_allclose(got, oracle[row][best], atol=1e-5)
    # with an allow-list and an exclusion
    allowed = list(ids[::3])
    found, scores = index.search(queries[:1], 5, passage_ids=allowed, exclude=allowed[:2])
    pool = [i for i in allowed if i not in allowed[:2]]
    sub = oracle[0][np.searchsorted(ids, pool)]
    expected = [pool[j] for j in np.argsort(-sub, kind="stable")[:5]]
    assert [p.id for p in found[0]] == expected


@pytest.mark.slow
def test_stored_vectors_round_trip(sample_index: Path, embedder: Embedder) -> None:
    index = Index(sample_index)
    document = index.documents()[0]
    passages = index.document_passages(document.id)
    stored = index.vectors([p.id for p in passages])
    fresh = embedder.embed_documents([p.embedded_text for p in passages])
    # fp32 is exact; int8 varies a little with how texts are batched (padding)
    atol = 1e-5 if embedder.runtime == "torch-fp32" else 1e-2
    np.testing.assert_allclose(stored, fresh, atol=atol)
    assert (stored * fresh).sum(axis=1).min() > 0.999
    conn = sqlite3.connect(sample_index / "paraseek.db")
    cached = conn.execute(
        "SELECT vector FROM embeddings WHERE text_hash = ?", (text_hash(passages[0].embedded_text),)
    ).fetchone()[0]
    np.testing.assert_array_equal(decode(cached, index.dimension), stored[0])  # checksummed
    # a second reader opened from disk answers identically
    query = embedder.embed_queries(["foreign policy"])
    a, b = Index(sample_index).search(query, 7), index.search(query, 7)
    assert [p.id for p in a[0][0]] == [p.id for p in b[0][0]]


def test_manifest_records_how_the_index_was_built(sample_index: Path) -> None:
    manifest = json.loads((sample_index / "manifest.json").read_text())
    assert manifest["format_version"] == 5
    assert manifest["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["dimension"] == 384 and manifest["documents"] == 5
    assert manifest["passages"] == sum(d.passages for d in Index(sample_index).documents())
    assert manifest["paraseek_version"] and manifest["created"] and manifest["updated"]
    assert manifest["faiss_index"] == "Flat (exact scan)"  # small: exact whatever the setting
    assert manifest["ann"]["setting"] == "auto" and manifest["ann"]["kind"] == "flat"
    embedding = Embedder()
    assert manifest["embedding"]["runtime"] == embedding.runtime
    assert manifest["embedding"]["note"] == embedding.note
    _consistent(sample_index)


@pytest.mark.slow
def test_incremental_add_change_delete(
    tmp_path: Path, corpus_copy: Path, embedder: Embedder
) -> None:
    path = tmp_path / "index"
    with Writer(path, embedder) as writer:
        first = writer.update([corpus_copy])
    assert len(first.added) == 5 and first.embedded == first.passages
    index = Index(path)
    before = {d.path: [p.id for p in index.document_passages(d.id)] for d in index.documents()}

    changed = corpus_copy / "003_1416103580240b3d.txt"
    changed.write_text(
        changed.read_text() + "\n\nA brand new paragraph about lunar colonies and helium mining.\n"
    )
    (corpus_copy / "new.md").write_text(
        "# Fresh Note\n\nTidal energy turbines spin beneath the fjord.\n"
    )
    (corpus_copy / "001_85fcaa141348a3f3.txt").unlink()
    cached_before = (
        sqlite3.connect(path / "paraseek.db")
        .execute("SELECT count(*) FROM embeddings")
        .fetchone()[0]
    )
    with Writer(path, embedder) as writer:
        second = writer.update([corpus_copy])
    assert [Path(p).name for p in second.added] == ["new.md"]
    assert [Path(p).name for p in second.changed] == ["003_1416103580240b3d.txt"]
    assert [Path(p).name for p in second.removed] == ["001_85fcaa141348a3f3.txt"]
    assert len(second.unchanged) == 3
    # only the two new texts were embedded; the changed document's old paragraphs came from the cache
    assert second.embedded == 2 and second.reused > 0
    cached_after = (
        sqlite3.connect(path / "paraseek.db")
        .execute("SELECT count(*) FROM embeddings")
        .fetchone()[0]
    )
    assert cached_after == cached_before + 2
    # the reader opened before the update follows it without reopening
    after = {d.path: [p.id for p in index.document_passages(d.id)] for d in index.documents()}
    for name in (
        "000_eacbcdf2668e75b6.txt",
        "002_068334134ee8bc4f.txt",
        "004_04f89b89d737b294.txt",
    ):
        key = str(corpus_copy / name)
        assert after[key] == before[key]  # unchanged documents keep their passages
    assert str(corpus_copy / "001_85fcaa141348a3f3.txt") not in after
    query = embedder.embed_queries(["turbines under the fjord", "helium mining on the moon"])
    top = [hits[0].text for hits in index.search(query, 1)[0]]
    assert "Tidal energy" in top[0] and "lunar colonies" in top[1]
    assert second.passages == sum(len(v) for v in after.values())
    _consistent(path)
    # nothing changed: nothing is embedded and no new generation is written
    generation = json.loads((path / "manifest.json").read_text())["generation"]
    with Writer(path, embedder) as writer:
        third = writer.update([corpus_copy])
    assert third.embedded == 0 and len(third.unchanged) == 5
    assert json.loads((path / "manifest.json").read_text())["generation"] == generation


def test_identical_passages_are_embedded_once(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    same = "The same paragraph about river ferries, their timetables and their crews appears in both files."
    other = "And a second paragraph, different in each file, about the harbour master of town {}."
    (folder / "a.txt").write_text(f"Shared Title\n\n{same}\n\n{other.format('A')}")
    spaced = same.replace(" ", "  ").replace("their crews", "their\n crews")
    (folder / "b.txt").write_text(f"Shared Title\n\n{spaced}\n\n{other.format('B')}")
    with Writer(tmp_path / "index", embedder) as writer:
        report = writer.update([folder])
    assert report.passages == 4 and report.embedded == 3


@pytest.mark.slow  # indexes the sample corpus afresh: in make test, not make check
def test_documents_split_by_older_rules_are_split_again(
    tmp_path: Path, short_corpus: Path, embedder: Embedder
) -> None:
    corpus_copy = short_corpus
    index = tmp_path / "index"
    with Writer(index, embedder) as writer:
        writer.update([corpus_copy])
    before = {d.path: d.passages for d in Index(index).documents()}
    # As documents split by earlier rules (another corpus.SPLITTING).
    with sqlite3.connect(index / "paraseek.db") as conn:
        conn.execute("UPDATE documents SET splitting = splitting - 1")
    conn.close()
    with Writer(index, embedder) as writer:
        again = writer.update([corpus_copy])
        assert sorted(again.changed) == sorted(before) and not again.unchanged
        assert again.embedded == 0  # the same texts: every embedding comes from the cache
        assert not writer.update([corpus_copy]).changed  # split by today's rules now
    assert {d.path: d.passages for d in Index(index).documents()} == before
    _consistent(index)


@pytest.mark.slow
def test_remove_documents(tmp_path: Path, short_corpus: Path, embedder: Embedder) -> None:
    with Writer(tmp_path / "index", embedder) as writer:
        writer.update([short_corpus])
        index = Index(tmp_path / "index")
        target = index.documents()[0]
        assert writer.remove([target.id]) == 1
    assert target.id not in {d.id for d in index.documents()}
    _consistent(tmp_path / "index")


@pytest.mark.slow
def test_model_mismatch_is_refused_with_the_fix(sample_index: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ModelMismatchError,
        match=r"was built with sentence-transformers/all-MiniLM-L6-v2 \(384-d\) but the embedder is other/model; search it without --model",
    ):
        Index(sample_index, model="other/model")
    # Same weights, other id: must still be refused. In fp32, as precision auto would build
    # and check an int8 model of its own for this id (a folder is another model to the cache).
    other = Embedder(str(bundled_model_path()), precision="fp32")
    with pytest.raises(
        ModelMismatchError,
        match="index with --model sentence-transformers/all-MiniLM-L6-v2, or into a new --index",
    ):
        Writer(sample_index, other)
    Writer(sample_index, Embedder()).close()  # the lock was released by the failed attempt


def test_missing_and_damaged_indexes_give_clear_errors(
    tmp_path: Path, sample_index: Path, embedder: Embedder
) -> None:
    with pytest.raises(IndexNotFoundError, match=r"No index at .*paraseek index PATH --index"):
        Index(tmp_path / "nothing")
    copy = tmp_path / "copy"
    copy_index(sample_index, copy)
    vectors = max(copy.glob("vectors.*.faiss"), key=lambda p: int(p.name.split(".")[1]))
    data = vectors.read_bytes()
    vectors.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        IndexFormatError,
        match=f"Vector file '.*{vectors.name}' is missing or damaged .*; `paraseek repair",
    ):
        Index(copy).search(embedder.embed_queries(["x"]), 3)
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(IndexFormatError, match=r"manifest\.json' is unreadable .*re-index"):
        Index(copy)
    (copy / "manifest.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(IndexFormatError, match="format version 99"):
        Index(copy)
    database = (copy / "paraseek.db").read_bytes()
    with pytest.raises(IndexFormatError, match=r"format version 99.*re-index with: paraseek index"):
        Writer(copy, embedder)  # writing into it would be refused too, and change nothing
    assert (copy / "paraseek.db").read_bytes() == database


@pytest.mark.slow
def test_an_index_of_an_older_format_says_how_to_re_index(
    tmp_path: Path, sample_index: Path, embedder: Embedder
) -> None:
    """No migration: reading or writing an index of format 4 (without sentence vectors) fails
    on one line with the fix."""
    old = copy_index(sample_index, tmp_path / "old")
    manifest = json.loads((old / "manifest.json").read_text())
    (old / "manifest.json").write_text(json.dumps(manifest | {"format_version": 4}))
    fix = r"format version 4, this paraseek reads version 5; re-index with: paraseek index PATH"
    with pytest.raises(IndexFormatError, match=fix):
        Index(old)
    with pytest.raises(IndexFormatError, match=fix):
        Writer(old, embedder)
    result = subprocess.run(
        [str(SCRIPT), "search", "Russia", "--index", str(old)], capture_output=True, text=True
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "re-index with: paraseek index PATH --index NEW_FOLDER" in result.stderr


def test_no_documents_leaves_the_index_as_it_was(
    tmp_path: Path, sample_index: Path, embedder: Embedder
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.csv").write_text("a,b")
    before = (sample_index / "manifest.json").read_text()
    with (
        Writer(sample_index, embedder) as writer,
        pytest.raises(NoDocumentsError, match="No supported files"),
    ):
        writer.update([empty])
    assert (sample_index / "manifest.json").read_text() == before


def _make_big_corpus(folder: Path, documents: int) -> None:
    """Documents of 40 paragraphs each, every one a passage: the first 200 characters of one of
    the sample's (about 50 tokens where a whole one has 150, so a third of the embedding time),
    made unique so nothing is cached."""
    paragraphs = [
        p[:200]
        for f in sorted(SAMPLE.glob("*.txt"))
        for p in f.read_text().split("\n\n")
        if len(p) > 200
    ]
    rng = random.Random(7)
    folder.mkdir()
    for d in range(documents):
        chosen = rng.sample(paragraphs, 40)
        body = "\n\n".join(f"{p} (copy {d}-{i})" for i, p in enumerate(chosen))
        (folder / f"big{d:03}.txt").write_text(f"Big document {d}\n\n{body}\n")


@pytest.mark.slow
def test_sigkill_while_indexing_leaves_the_previous_index_whole(
    tmp_path: Path, embedder: Embedder, sample_index: Path
) -> None:
    index_dir = copy_index(sample_index, tmp_path / "index")  # the sample corpus, indexed
    query = embedder.embed_queries(["Why did Michael Flynn step down?"])
    before = [p.id for p in Index(index_dir).search(query, 10)[0][0]]
    big = tmp_path / "big"
    _make_big_corpus(big, 20)  # 800 passages to embed: about three cache batches (EMBED_BATCH)
    cached = sqlite3.connect(index_dir / "paraseek.db")
    baseline = cached.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    # First kill: as soon as the work starts. Second: once some vectors are committed to the
    # cache (polled, not timed, so a slow or loaded machine kills at the same stage).
    for wait_for_cache in (False, True):
        process = subprocess.Popen(
            [SCRIPT, "index", big, "--index", index_dir],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        assert process.stderr is not None
        line = (
            process.stderr.readline().decode()
        )  # "indexing N files into ... with RUNTIME": the model is loaded, work begins
        assert line.startswith("indexing "), line
        deadline = time.monotonic() + 600
        while (
            wait_for_cache
            and cached.execute("SELECT count(*) FROM embeddings").fetchone()[0] == baseline
        ):
            assert time.monotonic() < deadline, "no vectors were cached within 600 s"
            time.sleep(0.05)
        assert process.poll() is None, "the run finished before it could be killed; grow the corpus"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        index = Index(index_dir)
        assert [p.id for p in index.search(query, 10)[0][0]] == before
        assert len(index.documents()) == 5
        _consistent(index_dir)
    # the next run completes, reusing what the killed runs embedded
    result = subprocess.run(
        [SCRIPT, "index", big, "--index", index_dir], capture_output=True, text=True, check=True
    )
    assert "25 documents" in result.stdout
    reused = int(result.stdout.split(" from cache")[0].split(", ")[-1])
    assert reused > 0
    _consistent(index_dir)


@pytest.mark.slow  # indexes the sample corpus afresh: in make test, not make check
def test_update_removes_missing_files_only_under_its_sources(
    tmp_path: Path, short_corpus: Path, embedder: Embedder
) -> None:
    corpus_copy = short_corpus  # four documents
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text(
        "Other Note\n\nA paragraph about lighthouse keepers and their logbooks on the coast."
    )
    path = tmp_path / "index"
    with Writer(path, embedder) as writer:
        writer.update([corpus_copy])
        (corpus_copy / "001_85fcaa141348a3f3.txt").unlink()
        report = writer.update([other])  # the deleted file is not under this source
    assert report.removed == [] and report.documents == 5
    with Writer(path, embedder) as writer:
        report = writer.update([corpus_copy])
    assert [Path(p).name for p in report.removed] == ["001_85fcaa141348a3f3.txt"]
    assert report.documents == 4 and str((other / "note.txt").resolve()) in {
        d.path for d in Index(path).documents()
    }


@pytest.mark.slow  # indexes the sample corpus afresh: in make test, not make check
def test_progress_counts_passages_with_an_estimated_total(
    tmp_path: Path, corpus_copy: Path, embedder: Embedder
) -> None:
    calls: list[tuple[int, int]] = []
    with Writer(tmp_path / "index", embedder) as writer:
        report = writer.update([corpus_copy], progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (report.passages, report.passages)
    done = [d for d, _ in calls]
    assert done == sorted(done) and all(d <= t for d, t in calls)
    assert len(calls) > 2  # it reported during the run, not only at the end


@pytest.fixture(scope="module")
def big_corpus_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The sample corpus without its interview plus generated documents: about 1,080
    passages, enough for an ANN index (below 1,000 passages every kind is flat), indexed once
    with the default (flat)."""
    root = tmp_path_factory.mktemp("big")
    corpus = root / "corpus"
    shutil.copytree(SAMPLE, corpus, ignore=shutil.ignore_patterns(INTERVIEW.name))
    _make_big_corpus(corpus / "generated", 25)
    with Writer(root / "index", embedder) as writer:
        writer.update([corpus])
    return root


@pytest.mark.slow  # about 1,080 passages indexed, then an ANN index of each kind
@pytest.mark.parametrize("kind", ["hnsw", "ivf", "flat"])
def test_every_vector_index_kind_searches_updates_and_deletes(
    tmp_path: Path, big_corpus_index: Path, embedder: Embedder, kind: str
) -> None:
    # A copy whose documents move to a new folder (ids come from paths): the old ones are
    # removed, the moved ones added, and every vector comes from the cache.
    corpus, path = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(big_corpus_index / "corpus", corpus)
    copy_index(big_corpus_index / "index", path)
    with Writer(path, embedder, ann=kind) as writer:
        writer.remove([d.id for d in Index(path).documents()])
        report = writer.update([corpus])
    assert report.embedded == 0 and report.passages > 1000
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["ann"]["setting"] == kind and manifest["ann"]["kind"] == kind
    assert manifest["faiss_index"] == report.ann and report.ann.lower().startswith(kind)
    index = Index(path)
    questions = ["Russia and the election", "religion and communism", "Why did Flynn resign?"]
    queries = embedder.embed_queries(questions)
    ids, matrix = _all_vectors(index)
    for row, passages in enumerate(index.search(queries, 10)[0]):
        exact = set(ids[np.argsort(-(queries[row] @ matrix.T))[:10]])
        assert len(exact & {p.id for p in passages}) >= 9  # recall@10 against brute force
    # an update and a delete: removed passages never come back, new ones are found
    (removed,) = index.resolve_documents([str(corpus / "001_85fcaa141348a3f3.txt")])
    gone = {p.id for p in index.document_passages(removed)}
    (corpus / "001_85fcaa141348a3f3.txt").unlink()
    changed = corpus / "003_1416103580240b3d.txt"
    changed.write_text(changed.read_text() + "\n\nLunar colonies will mine helium for fusion.\n")
    with Writer(path, embedder) as writer:  # no ann given: the index keeps its kind
        report = writer.update([corpus])
    assert report.embedded == 1 and report.ann.lower().startswith(kind)
    everything = index.search(queries, 1000)[0]
    assert all(p.id not in gone for hits in everything for p in hits)
    # the new passage is in the vector index: its own vector finds it first
    (new,) = [p for p in index.document_passages(index.resolve_documents([str(changed)])[0])
              if "Lunar colonies" in p.text]  # fmt: skip
    top = index.search(index.vectors([int(new.id or 0)]), 1)[0][0]
    assert top[0].id == new.id
    _consistent(path)


@pytest.mark.slow  # indexes the sample corpus afresh: in make test, not make check
def test_a_small_collection_stays_exact_whatever_the_kind(
    tmp_path: Path, short_corpus: Path, embedder: Embedder
) -> None:
    with Writer(tmp_path / "index", embedder, ann="hnsw") as writer:
        report = writer.update([short_corpus])
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert report.passages < 1000 and manifest["ann"]["kind"] == "flat"
    assert manifest["ann"]["setting"] == "hnsw"  # kept: HNSW once the collection grows


def _split_counted(calls: list[str]) -> Splitter:
    def split(document: Document, token_spans: TokenSpans, max_tokens: int) -> list[Passage]:
        calls.append(document.path)
        return split_document(document, token_spans, max_tokens)

    return split


@pytest.mark.slow  # indexes the sample corpus afresh: in make test, not make check
def test_each_document_is_split_once_and_indexed_as_split(
    tmp_path: Path, short_corpus: Path, embedder: Embedder
) -> None:
    """Pass 2 inserts the passages pass 1 split and embedded, without splitting again."""
    documents = [d for d in read_documents([short_corpus]) if isinstance(d, Document)]
    calls: list[str] = []
    with Writer(tmp_path / "idx", embedder) as writer:
        writer.add(documents, splitter=_split_counted(calls))
    assert sorted(calls) == sorted(d.path for d in documents)  # once each, not twice
    conn = sqlite3.connect(tmp_path / "idx" / "paraseek.db")
    for document in documents:
        stored = conn.execute(
            'SELECT ordinal, start, "end", text, context FROM passages WHERE document_id = ? '
            "ORDER BY ordinal",
            (document.id,),
        ).fetchall()
        split = split_document(document, embedder.token_spans, embedder.max_tokens)
        assert stored == [(p.ordinal, p.start, p.end, p.text, p.context) for p in split]


def test_kept_splits_are_handed_out_once_for_the_same_content_and_within_the_bound(
    embedder: Embedder,
) -> None:
    document = next(d for d in read_documents([SAMPLE]) if isinstance(d, Document))
    edited = dataclasses.replace(document, text=document.text + "\n\nA new paragraph.",
                                 content_hash="edited")  # fmt: skip
    spans, budget = embedder.token_spans, embedder.max_tokens
    calls: list[str] = []
    splits = Splits(_split_counted(calls))
    first = splits(document, spans, budget)
    assert splits(document, spans, budget) == first and len(calls) == 1  # kept, handed out
    assert splits(document, spans, budget) == first and len(calls) == 2  # then forgotten
    again = splits(edited, spans, budget)  # same path, new content: split afresh
    assert len(calls) == 3 and again == split_document(edited, spans, budget) != first
    nothing_kept = Splits(_split_counted(calls), keep=0)
    assert nothing_kept(document, spans, budget) == nothing_kept(document, spans, budget) == first
    assert len(calls) == 5


@pytest.mark.slow  # indexes the sample corpus afresh: in make test, not make check
def test_indexing_files_splits_each_once_and_indexes_them_as_split(
    tmp_path: Path, short_corpus: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`update` too: pass 1 reads and splits each file, pass 2 reads it again, not splitting."""
    calls: list[str] = []
    monkeypatch.setattr("paraseek.index.writer.split_document", _split_counted(calls))
    with Writer(tmp_path / "idx", embedder) as writer:
        writer.update([short_corpus])
    documents = [d for d in read_documents([short_corpus]) if isinstance(d, Document)]
    assert sorted(calls) == sorted(d.path for d in documents)
    conn = sqlite3.connect(tmp_path / "idx" / "paraseek.db")
    stored = conn.execute('SELECT count(*), sum("end" - start) FROM passages').fetchone()
    split = [
        p for d in documents for p in split_document(d, embedder.token_spans, embedder.max_tokens)
    ]
    assert stored == (len(split), sum(p.end - p.start for p in split))
