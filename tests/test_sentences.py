"""Sentence-level evidence: sentence vectors pooled at index time, stored int8, following
updates, checked by `paraseek check`, and a long paragraph ranking by its answering sentence."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from paraseek.corpus import embedded_text
from paraseek.embedder import Embedder
from paraseek.index import Index, Writer
from paraseek.index.check import check
from paraseek.index.sentence_vectors import decode, encode, spans
from paraseek.search import Searcher
from paraseek.sentences import best_sentence_cosines

# One sentence of a long paragraph about a town answers the question; the other document is
# about lighthouses throughout but never says how a keeper was paid.
DOCUMENTS = {
    "harbour.txt": (
        "The Old Harbour Town\n\nThe old harbour town grew up around a fishing quay in the "
        "twelfth century. Its market square was paved with granite from the hills to the north, "
        "and the church tower was rebuilt twice after storms. Merchants traded wool, salt and "
        "timber along the coast, and the town council met in a hall above the customs house. In "
        "the eighteenth century a canal linked the harbour to the river, and the weavers' "
        "cottages along it still stand. The lighthouse keeper was paid in salted herring and "
        "peat rather than in coins until 1902. Today the town is known for its summer regatta, "
        "its bakeries and a museum of ship models. The railway station, opened in 1871, closed "
        "in 1964, and buses now run to the city twice an hour."
    ),
    "lighthouses.txt": (
        "Lighthouses of the Coast\n\nLighthouses have warned ships off the rocky coast since "
        "Roman times. The early towers burned wood or coal in an open brazier, later ones oil "
        "lamps behind a Fresnel lens that could be seen twenty miles out to sea. A keeper "
        "tended the light through the night, and each tower had its own pattern of flashes so "
        "that sailors could tell them apart. The tallest tower on the coast stands sixty metres "
        "high on a granite reef, and its light was first lit in 1858. Most towers were "
        "automated in the twentieth century, and several are now museums open to visitors in "
        "summer."
    ),
    "bread.txt": (
        "Baking Bread\n\nSourdough bread rises with wild yeast and lactic bacteria kept in a "
        "starter. The dough is mixed, folded several times, shaped and left to rise slowly "
        "overnight in a cool room before it is baked in a hot oven."
    ),
    "football.txt": (
        "The Football Club\n\nThe club was founded by railway workers in 1889 and won the "
        "regional cup three times before the war. Its stadium holds twelve thousand people, and "
        "the youth academy has produced several international players."
    ),
    "volcano.txt": (
        "Volcanoes\n\nA volcano forms where molten rock reaches the surface through a vent in "
        "the crust. Eruptions can be explosive, throwing ash high into the air, or quiet, with "
        "lava flowing slowly down the slopes."
    ),
}
QUESTION = "How much did a lighthouse keeper earn?"
ANSWER = "The lighthouse keeper was paid in salted herring and peat"


def _write(folder: Path, documents: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in documents.items():
        (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def towns(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Searcher:
    folder = tmp_path_factory.mktemp("towns") / "docs"
    _write(folder, DOCUMENTS)
    path = folder.parent / "index"
    with Writer(path, embedder) as writer:
        writer.update([folder])
    return Searcher(Index(path), embedder)


def test_a_long_paragraph_ranks_by_the_sentence_that_answers(towns: Searcher) -> None:
    hits = towns.search(QUESTION, 3)  # the default mode, hybrid
    assert ANSWER in hits[0].text, [h.title for h in hits]
    assert hits[1].title == "Lighthouses of the Coast"
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_passage_scores_alone_put_the_general_paragraph_first(towns: Searcher) -> None:
    """What the sentence evidence changes: without it (and without close words, which also
    see "paid" in "earn"), the mean vectors decide."""
    alone = Searcher(towns.index, towns.embedder, sentence_weight=0.0, close_words=False)
    assert alone.search(QUESTION, 1)[0].title == "Lighthouses of the Coast"


def _ids(index: Index, title: str | None = None) -> list[int]:
    return [
        int(p.id or 0)
        for d in index.documents()
        if title is None or d.title == title
        for p in index.document_passages(d.id)
    ]


def _pooled_like_the_model(index: Index, embedder: Embedder, ids: list[int]) -> None:
    """Each passage of two sentences or more has one stored vector per sentence, the int8
    codes of those the model pools out of the passage's own forward pass; others have none."""
    stored = index.sentence_vectors(ids)
    for passage in index.passages(ids):
        wanted = spans(passage.context, passage.text)
        if len(wanted) < 2:
            assert int(passage.id or 0) not in stored
            continue
        _, pooled = embedder.embed_passages(
            [embedded_text(passage.context, passage.text)], [wanted]
        )
        vectors = stored[int(passage.id or 0)]
        assert vectors.shape == pooled[0].shape == (len(wanted), embedder.dimension)
        assert np.all(np.sum(vectors * pooled[0], axis=1) > 0.995)


def test_two_adjacent_sentences_count_as_one_window(towns: Searcher) -> None:
    # A query meaning what two adjacent sentences say together is closer to their window (the
    # normalised mean of their vectors) than to either sentence alone; the passage's evidence
    # is that window's cosine, computed from the stored vectors.
    index = towns.index
    stored = index.sentence_vectors(index.passage_ids([d.id for d in index.documents()]))
    passage, matrix = next((i, m) for i, m in stored.items() if len(m) >= 4)
    window = matrix[1] + matrix[2]
    query = window / np.linalg.norm(window)
    best = best_sentence_cosines(index, query, [passage])[passage]
    assert best == pytest.approx(1.0, abs=1e-5)
    assert float((matrix @ query).max()) < best - 0.02
    # A passage of two sentences has no window: its evidence is its best sentence.
    two = next((i, m) for i, m in stored.items() if len(m) == 2)
    query = (two[1][0] + two[1][1]) / np.linalg.norm(two[1][0] + two[1][1])
    found = best_sentence_cosines(index, query, [two[0]])[two[0]]
    assert found == pytest.approx(float((two[1] @ query).max()), abs=1e-6)


def test_sentence_spans_are_the_sentences_of_the_text_in_the_embedded_text() -> None:
    context, text = "Title\nA heading", "First one here.  Second  one?  Third."
    embedded = embedded_text(context, text)
    assert [embedded[a:b] for a, b in spans(context, text)] == [
        "First one here.", "Second one?", "Third."
    ]  # fmt: skip
    assert spans(context, "Just one sentence.") == []


def test_int8_codes_keep_each_vector_and_fail_their_checksum_when_damaged() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(7, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    blob = encode(vectors)
    assert len(blob) == 7 * (4 + 384) + 8  # a quarter of float32, a scale each, a trailer
    decoded = decode(blob, 384)
    assert decoded is not None and np.all(np.sum(decoded * vectors, axis=1) > 0.999)
    damaged = bytearray(blob)
    damaged[40] ^= 0xFF
    assert decode(bytes(damaged), 384) is None


def test_sentence_vectors_follow_changed_and_removed_documents(
    tmp_path: Path, embedder: Embedder
) -> None:
    folder, path = tmp_path / "docs", tmp_path / "index"
    _write(folder, {"harbour.txt": DOCUMENTS["harbour.txt"], "bread.txt": DOCUMENTS["bread.txt"]})
    with Writer(path, embedder) as writer:
        writer.update([folder])
    index = Index(path)
    _pooled_like_the_model(index, embedder, _ids(index))
    old_harbour, old_bread = _ids(index, "The Old Harbour Town"), _ids(index, "Baking Bread")
    assert index.sentence_vectors(old_harbour) and index.sentence_vectors(old_bread)

    changed = DOCUMENTS["harbour.txt"].replace("rather than in coins until 1902", "until 1902")
    _write(folder, {"harbour.txt": changed})
    (folder / "bread.txt").unlink()
    with Writer(path, embedder) as writer:
        report = writer.update([folder])
    assert [Path(p).name for p in report.changed] == ["harbour.txt"] and report.removed
    new_harbour = _ids(index, "The Old Harbour Town")
    assert index.sentence_vectors(old_harbour) == {}  # replaced
    assert index.sentence_vectors(old_bread) == {}  # gone
    _pooled_like_the_model(index, embedder, new_harbour)
    assert any("until 1902" in p.text for p in index.passages(new_harbour))


def test_check_finds_damaged_sentence_vectors_and_repair_pools_them_again(
    tmp_path: Path, embedder: Embedder
) -> None:
    folder, path = tmp_path / "docs", tmp_path / "index"
    _write(folder, {"harbour.txt": DOCUMENTS["harbour.txt"]})
    with Writer(path, embedder) as writer:
        writer.update([folder])
    assert not [f for f in check(path) if f.level == "error"]
    with sqlite3.connect(path / "paraseek.db") as conn:
        conn.execute("UPDATE sentence_vectors SET vectors = zeroblob(length(vectors))")
    conn.close()
    errors = [f.message for f in check(path) if f.level == "error"]
    assert len(errors) == 1 and "sentence vectors of 1 passages" in errors[0], errors
    assert Index(path).sentence_vectors(_ids(Index(path))) == {}  # searches rank by passages
    with Writer(path, embedder) as writer:
        report = writer.repair()
    assert report.repaired == ["pooled the sentence vectors of 1 passages again (they failed "
                               "their checksum)"]  # fmt: skip
    assert not [f for f in check(path) if f.level == "error"]
    _pooled_like_the_model(Index(path), embedder, _ids(Index(path)))
