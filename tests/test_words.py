"""Close words (paraseek/words.py): every word of the collection has a 4-bit vector, kept in
step with the passages, and the coverage of hybrid search counts a word held in another form."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from paraseek import words
from paraseek.embedder import Embedder
from paraseek.index import Index, Writer, keyword
from paraseek.search import Searcher

from .conftest import SAMPLE, copy_index


def vocabulary(index: Path) -> set[str]:
    """What the index should hold vectors for: the words of every passage and its context."""
    with sqlite3.connect(index / "paraseek.db") as conn:
        rows = conn.execute("SELECT text, context FROM passages").fetchall()
    return {w.lower() for t, c in rows for w in keyword.words(f"{t} {c}") if words.embeddable(w)}


def test_four_bit_word_vectors_keep_their_cosines(embedder: Embedder) -> None:
    terms = ["tumour", "tumor", "decreases", "reduces", "metastatic", "communism", "bread"]
    axes = words.basis(embedder, "test")
    assert axes.shape == (words.DIMENSIONS, embedder.dimension)
    exact = words.project(embedder.embed_queries(terms), axes)
    stored = words.decode(b"".join(words.rows(embedder.embed_queries(terms), axes)), len(axes))
    assert np.all(np.sum(exact * stored, axis=1) >= 0.95)
    close = stored @ stored.T
    assert close[0, 1] > 0.8 > close[0, 6]  # "tumour" is "tumor", not "bread"
    assert close[2, 3] > close[2, 6]


def test_a_damaged_block_fails_its_checksum(embedder: Embedder) -> None:
    blob = words.block(
        words.rows(embedder.embed_queries(["tumour"]), words.basis(embedder, "test"))
    )
    assert words.unblock(blob) is not None
    assert words.unblock(blob[:10] + bytes([blob[10] ^ 1]) + blob[11:]) is None
    assert words.unblock(blob[1:]) is None


def test_every_word_of_the_passages_has_a_vector(sample_index: Path) -> None:
    known, matrix, axes = Index(sample_index).word_vectors()
    assert set(known) == vocabulary(sample_index)
    assert axes is not None and matrix.shape == (len(known), len(axes))
    assert "1917" not in known and "revolution" in known  # numbers match as written only


def test_an_older_index_gets_word_vectors_on_its_next_run(
    sample_index: Path, tmp_path: Path, embedder: Embedder
) -> None:
    index = copy_index(sample_index, tmp_path / "old")
    with sqlite3.connect(index / "paraseek.db") as conn:  # as written before word vectors
        conn.execute("DROP TABLE word_blocks")
        conn.execute("DELETE FROM meta WHERE key LIKE 'words_%'")
    conn.close()
    old = Index(index)
    assert old.word_vectors()[0] == {} and old.word_vectors()[2] is None
    query = "Did Moscow help get the Democrats' stolen messages out?"
    assert Searcher(old, embedder).search(query, k=3)  # exact coverage meanwhile
    with Writer(index, embedder) as writer:
        report = writer.update([SAMPLE])
    assert report.embedded == 0 and report.unchanged  # only the words were embedded
    assert set(Index(index).word_vectors()[0]) == vocabulary(sample_index)


def test_new_words_are_embedded_and_a_damaged_vector_is_left_out(
    sample_index: Path, tmp_path: Path, embedder: Embedder
) -> None:
    index = copy_index(sample_index, tmp_path / "index")
    corpus = tmp_path / "more"
    corpus.mkdir()
    (corpus / "glorp.txt").write_text("Zorblatt glorpification of tumours.\n\nA second line.\n")
    with Writer(index, embedder) as writer:
        writer.update([SAMPLE, corpus])
    known = Index(index).word_vectors()[0]
    assert {"zorblatt", "glorpification", "tumours"} <= set(known)
    assert set(known) == vocabulary(index)
    with sqlite3.connect(index / "paraseek.db") as conn:  # the block of the run's new words
        conn.execute(
            "UPDATE word_blocks SET vectors = substr(vectors, 2) WHERE words LIKE '%zorblatt%'"
        )
    conn.close()
    fresh = Index(index)
    known = fresh.word_vectors()[0]
    assert "zorblatt" not in known and "glorpification" not in known and "revolution" in known
    hits = Searcher(fresh, embedder).search("zorblatt glorpification tumour", k=1)
    assert hits[0].text.startswith("Zorblatt")


@pytest.mark.parametrize("close", [True, False])
def test_a_question_in_other_words_gets_its_answer_first(searcher: Searcher, close: bool) -> None:
    # The answer says "Russia", "hacked emails" and "Democratic National Committee": of the
    # question's words only "Democrats" as written (stemmed); "Russia" is close to "Moscow",
    # "hacked" to "stolen", "emails" to "messages", which lifts it over passages sharing more.
    question = "Did Moscow help get the Democrats' stolen messages out?"
    answer = "Russia has been accused of meddling"
    default = searcher.close_words
    try:
        searcher.close_words = close
        hits = searcher.search(question, k=3)
    finally:
        searcher.close_words = default
    assert (answer in hits[0].text) == close, [h.text[:80] for h in hits]


def test_word_vectors_come_from_the_machines_cache_while_the_model_embeds_as_it_did(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARASEEK_CACHE", str(tmp_path / "cache"))
    key, axes = "a model@a runtime", words.basis(embedder, "test")
    first = words.embedded(embedder, key, axes, ["harbour", "keeper"])
    assert first == words.rows(embedder.embed_queries(["harbour", "keeper"]), axes)
    (cache,) = (tmp_path / "cache" / "words").glob("*.db")
    with sqlite3.connect(cache) as conn:  # what the cache holds is what is used
        conn.execute("UPDATE words SET row = ? WHERE word = 'keeper'", (words.block([first[0]]),))
    conn.close()
    assert words.embedded(embedder, key, axes, ["keeper", "lighthouse"])[0] == first[0]
    with sqlite3.connect(cache) as conn:  # as if the model's weights changed under its name
        conn.execute("UPDATE words SET row = ? WHERE word = 'paraseek'", (words.block([first[1]]),))
    conn.close()
    again = words.embedded(embedder, key, axes, ["keeper"])  # embedded afresh
    cache.write_bytes(b"not a database" * 100)  # a damaged cache: words are embedded
    harbour = words.embedded(embedder, key, axes, ["harbour"])
    for got, want in ((again[0], first[1]), (harbour[0], first[0])):  # to a batch's last digits
        assert float(np.prod(words.decode(got + want, len(axes)), axis=0).sum()) > 0.99


def test_the_axes_are_computed_once_per_model_on_a_machine(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARASEEK_CACHE", str(tmp_path))
    first = words.basis(embedder, "a model")
    (kept,) = (tmp_path / "words").glob("*.axes")
    stamp = kept.stat().st_mtime_ns
    assert np.array_equal(words.basis(embedder, "a model"), first)
    assert kept.stat().st_mtime_ns == stamp  # read, not computed again
    kept.write_bytes(b"damaged")
    assert np.array_equal(words.basis(embedder, "a model"), first)  # computed again, the same
    assert words.unblock(kept.read_bytes()) is not None


def test_check_finds_a_damaged_block_of_word_vectors_and_repair_embeds_the_words_again(
    sample_index: Path, tmp_path: Path, embedder: Embedder
) -> None:
    from paraseek.index.check import check

    path = copy_index(sample_index, tmp_path / "index")
    assert not [f for f in check(path) if f.level == "error"]
    with sqlite3.connect(path / "paraseek.db") as conn:
        conn.execute("UPDATE word_blocks SET vectors = substr(vectors, 2) WHERE block = 1")
    conn.close()
    errors = [f.message for f in check(path) if f.level == "error"]
    assert len(errors) == 1 and "1 blocks of word vectors" in errors[0], errors
    assert "revolution" not in Index(path).word_vectors()[0]  # left out, not answered from
    with Writer(path, embedder) as writer:
        report = writer.repair()
    assert report.repaired == ["embedded the words again (1 blocks failed their checksum)"]
    assert not [f for f in check(path) if f.level == "error"]
    assert set(Index(path).word_vectors()[0]) == vocabulary(sample_index)
