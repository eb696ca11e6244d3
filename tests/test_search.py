"""Searcher on the sample corpus: golden questions, more like this, compare, filters, errors."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from paraseek.corpus import sentence_spans
from paraseek.errors import (
    EmptyQueryError,
    InvalidArgumentError,
    UnknownDocumentError,
    UnknownPassageError,
)
from paraseek.explain import embedded_best_sentences
from paraseek.index import Index
from paraseek.index.database import DATABASE
from paraseek.search import Hit, Searcher, fuse

from .conftest import HIT_FIELDS, copy_index

# Questions written for this test, phrased unlike the text. Each lists every paragraph (by a
# snippet) that a reader would accept as the answer; one of them must be in the top 3.
GOLDEN = [
    ("Why did Michael Flynn step down?", ["Mike Flynn's resignation is unfolding", "big things are at stake with Flynn's resignation", "that Flynn's resignation and the"]),
    ("How many governments has America tried to topple since World War II?", ["overthrow more than 50 governments"]),
    ("Is vote rigging at home a bigger worry than foreign meddling?", ["election stealing at home", "We have more important problems to be worrying about when it comes to elections"]),
    ("What became of the Soviet economy once the Stalinist system fell apart?", ["There were two possibilities for the former Soviet Union", "At the end of the 1980's the Stalinist regimes began to crack"]),
    ("Which parts of America are most open to communist ideas?", ["Exactly the same regions that Trump is popular"]),
    ("Can someone be both a communist and a believer in God?", ["Traditionally, Communism was a form of atheism", "I refute the view that Marxism-Leninism is incompatible with religion"]),
    ("Why did Haz stop studying to become a lawyer?", ["leave of absence from law school"]),
    ("Why is Trump going after the press and the intelligence community?", ["trained his fire on the press and intelligence communities"]),
    ("What did American dominance after the Second World War bring to humanity?", ["what’s been the fruit of the U.S.-dominated world order", "The track record of the U.S. on this front is drenched in blood"]),
    ("Is there proof that Moscow was behind the leak of the Democrats' emails?", ["refused to provide real evidence of Russia's supposed involvement"]),
    ("What is the globalists' plan for humanity?", ["The plan is simple: Depopulation", "twisted, genocidal and Malthusian ideology"]),
    ("Who was behind the 2014 coup in Ukraine?", ["it was a US backed coup"]),
    ("Whose interests does Putin serve?", ["Putin is the new brutal representative", "Putin intervened in the US elections to further the interests"]),
    ("Who founded the first community with shared property in America?", ["Shakers"]),
    ("Do American soldiers support the war?", ["Some of my viewers are soldiers"]),
]  # fmt: skip


# Where dense mode ranks an accepted answer 4th instead of 3rd: a known difference, kept
# visible (strict: the test fails if it starts passing). The opening of the Russia-Trump
# article, which only asks questions ("...where do the people's interests lie?"), gives way
# to the passage that answers it, which then ranks 3rd at the opening's score.
FOURTH = {("Whose interests does Putin serve?", "dense")}


@pytest.mark.parametrize("mode", ["hybrid", "dense"])
@pytest.mark.parametrize(("question", "answers"), GOLDEN, ids=[q for q, _ in GOLDEN])
def test_golden_question_finds_its_paragraph_in_top_3(
    searcher: Searcher, question: str, answers: list[str], mode: str,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    if (question, mode) in FOURTH:
        request.applymarker(pytest.mark.xfail(reason="ranked 4th", strict=True))
        assert any(a in h.text for h in searcher.search(question, k=4, mode=mode) for a in answers)
    hits = searcher.search(question, k=3, mode=mode)
    assert any(a in h.text for h in hits for a in answers), [h.text[:80] for h in hits]


def test_an_acronym_the_model_does_not_know_is_found_by_keywords(searcher: Searcher) -> None:
    question = "What does the ILPS ask its members to do?"
    answer = "ILPS US calls on all its members"
    assert answer in searcher.search(question, k=3, mode="keyword")[0].text
    assert any(answer in h.text for h in searcher.search(question, k=3))  # the default, hybrid
    assert not any(answer in h.text for h in searcher.search(question, k=3, mode="dense"))


def test_modes_and_their_scores(searcher: Searcher) -> None:
    assert Searcher.mode() == "hybrid"
    keyword = searcher.search("Flynn resignation", k=5, mode="keyword")
    assert keyword and all("Flynn" in h.text or "Flynn" in h.context for h in keyword)
    assert keyword[0].bm25 is not None and keyword[0].bm25 > 1.0  # BM25, unbounded
    assert all(0.0 <= h.score <= 1.0 for h in keyword)  # its share of the query's ceiling
    hybrid = searcher.search("Flynn resignation", k=5)
    assert all(0.0 <= h.score <= 1.0 for h in hybrid)
    assert searcher.search("the of and", k=5, mode="keyword") == []  # only stop words
    with pytest.raises(
        InvalidArgumentError,
        match="Unknown search mode 'fuzzy'; valid modes: dense, keyword, hybrid",
    ):
        searcher.search("x", mode="fuzzy")


def test_fusion_scores() -> None:
    dense = {1: 0.9, 2: 0.5, 3: 0.1}
    keyword = {2: 10.0, 3: 5.0}
    fused = fuse(dense, keyword, 0.8, "score")
    assert fused == pytest.approx({1: 0.8, 2: 0.8 * 0.5 + 0.2, 3: 0.1})
    rrf = fuse(dense, keyword, 0.5, "rrf")
    assert rrf[2] == pytest.approx(0.5 / 62 + 0.5 / 61) and rrf[1] == pytest.approx(0.5 / 61)


def test_search_many_equals_search(searcher: Searcher) -> None:
    questions = [q for q, _ in GOLDEN[:4]]
    batch = searcher.search_many(questions, k=5)
    for question, hits in zip(questions, batch, strict=True):
        single = searcher.search(question, k=5)
        assert [h.passage_id for h in hits] == [h.passage_id for h in single]
        assert [h.score for h in hits] == pytest.approx([h.score for h in single], abs=1e-5)


def test_hits_carry_everything_a_user_needs(searcher: Searcher) -> None:
    hits = searcher.search("Why did Haz stop studying to become a lawyer?", k=10)
    assert [h.rank for h in hits] == list(range(1, 11))
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    for hit in hits:
        text = searcher.index.document_text(hit.document_id)
        assert text[hit.start : hit.end] == hit.text
        assert (
            hit.title
            and hit.source.endswith(".txt")
            and hit.context.startswith(hit.title.split(" ")[0])
        )
    interview = next(h for h in hits if "law school" in h.text)
    assert interview.title == "Haz: what is MAGA Communism"
    assert "Tell Us about yourself" in interview.context
    dated = searcher.search("Russia-Trump furor and the people's interests", k=1)[0]
    assert dated.date == "2017-03-20"


def test_document_filter(searcher: Searcher) -> None:
    interview = next(d for d in searcher.documents() if d.title.startswith("Haz"))
    for name in (interview.id, interview.path, "004_04f89b89d737b294.txt"):
        hits = searcher.search("Putin and the US elections", k=20, documents=[name])
        assert len(hits) == 20 and {h.document_id for h in hits} == {interview.id}
    with pytest.raises(UnknownDocumentError, match=r"No document 'nope\.txt'"):
        searcher.search("x", documents=["nope.txt"])


def test_k_larger_than_the_index_returns_everything(searcher: Searcher) -> None:
    every = [p for d in searcher.documents() for p in searcher.index.document_passages(d.id)]
    leads = searcher.leads(every)  # questions kept as passages: their answers come instead
    hits = searcher.search("anything at all", k=10_000)
    assert {h.passage_id for h in hits} == {p.id for p in every} - leads
    assert len(hits) == len(every) - len(leads) and 10 <= len(leads) < 30


def test_similar_excludes_itself_and_optionally_its_document(searcher: Searcher) -> None:
    seed = searcher.search("Putin intervened in the US elections", k=1)[0]
    hits = searcher.similar(seed.passage_id, k=5)
    assert len(hits) == 5 and seed.passage_id not in {h.passage_id for h in hits}
    others = searcher.similar(seed.passage_id, k=5, other_documents_only=True)
    assert len(others) == 5 and seed.document_id not in {h.document_id for h in others}
    # following the chain works: more like this from a result of more like this
    assert searcher.similar(others[0].passage_id, k=3)
    with pytest.raises(UnknownPassageError, match="No passage with id 999999"):
        searcher.similar(999_999)


def test_compare_returns_every_document(searcher: Searcher) -> None:
    hits = searcher.compare("Did Russia interfere in the 2016 US election?")
    documents = searcher.documents()
    assert sorted(h.document_id for h in hits) == sorted(d.id for d in documents)
    assert all(h.rank == 1 for h in hits)
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    two = searcher.compare("Did Russia interfere in the 2016 US election?", per_document=2)
    assert len(two) == 2 * len(documents) and [h.rank for h in two[:2]] == [1, 2]
    best = {h.document_id: h.passage_id for h in hits}
    for hit in two[::2]:
        assert best[hit.document_id] == hit.passage_id


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query_is_refused(searcher: Searcher, query: str) -> None:
    with pytest.raises(EmptyQueryError, match="The query is empty"):
        searcher.search(query)
    with pytest.raises(EmptyQueryError):
        searcher.compare(query)


@pytest.mark.parametrize("k", [0, -1, 10_001, 2.5, True])
def test_bad_k_is_refused(searcher: Searcher, k: object) -> None:
    with pytest.raises(InvalidArgumentError, match="k must be an integer from 1 to 10000"):
        searcher.search("elections", k=k)  # type: ignore[arg-type]


def test_over_long_query_is_refused(searcher: Searcher) -> None:
    with pytest.raises(InvalidArgumentError, match="limit is 2000"):
        searcher.search("word " * 1000)


def test_hit_to_dict_has_the_cli_fields(searcher: Searcher) -> None:
    row = searcher.search("elections", k=1)[0].to_dict()
    assert set(row) >= HIT_FIELDS
    assert Hit(**row) == searcher.search("elections", k=1)[0]


def test_hits_mark_the_query_words_they_contain(searcher: Searcher) -> None:
    for mode in ("dense", "keyword", "hybrid"):
        hits = searcher.search("Flynn resignations", k=5, mode=mode)
        flynn = [h for h in hits if "Flynn's resignation" in h.text]
        assert flynn, mode
        words = [flynn[0].text[a:b] for a, b in flynn[0].matched]
        assert "Flynn" in words and "resignation" in words  # stemmed: resignations -> resignation
        assert all(a < b for a, b in flynn[0].matched)
    assert searcher.search("the of and", k=3, mode="dense")[0].matched == ()


def test_explain_picks_the_sentence_closest_to_the_query(searcher: Searcher) -> None:
    hits = searcher.search("Why did Haz take leave from law school?", k=5, explain=True)
    law = next(h for h in hits if "leave of absence from law school" in h.text)
    assert law.best_sentence is not None
    start, end = law.best_sentence
    assert "leave of absence from law school" in law.text[start:end]
    assert law.text[start:end] != law.text  # one sentence of several
    assert all(h.best_sentence is None for h in searcher.search("law school", k=3))  # opt-in


def test_explain_shows_the_sentence_that_lifted_the_hit(searcher: Searcher) -> None:
    """explain reads the sentence vectors stored at index time, the ones the hybrid ranking
    reads, so the sentence it marks is the one closest to the query by those vectors; a
    passage of one sentence has that sentence."""
    checked = 0
    for question, _ in GOLDEN[:6]:
        vector = searcher.embed([question])[0]
        hits = searcher.search(question, 10, explain=True)
        stored = searcher.index.sentence_vectors([h.passage_id for h in hits])
        for hit in hits:
            spans = sentence_spans(hit.text)
            if len(spans) < 2:
                assert hit.best_sentence == spans[0] and hit.passage_id not in stored
                continue
            checked += 1
            assert hit.best_sentence == spans[int(np.argmax(stored[hit.passage_id] @ vector))]
    assert checked > 40


def test_explain_embeds_the_sentences_of_a_passage_without_stored_ones(
    searcher: Searcher, tmp_path: Path
) -> None:
    """Where no sentence vectors are stored (here: none at all, as if every row failed its
    checksum), explain embeds each sentence on its own; it is the stored ones it reads
    otherwise, and they do not always pick the same sentence."""
    copy = copy_index(searcher.index.path, tmp_path / "index")
    with sqlite3.connect(copy / DATABASE) as conn:
        conn.execute("DELETE FROM sentence_vectors")
    conn.close()
    bare = Searcher(Index(copy), searcher.embedder)
    differ = 0
    for question, _ in GOLDEN[:6]:
        hits = bare.search(question, 10, explain=True)
        assert not bare.index.sentence_vectors([h.passage_id for h in hits])
        vector = searcher.embed([question])[0]
        expected = embedded_best_sentences(searcher.embedder, vector, [h.text for h in hits])
        assert [h.best_sentence for h in hits] == expected
        stored = searcher.explain(question, hits)
        differ += sum(a.best_sentence != b.best_sentence for a, b in zip(stored, hits, strict=True))
    assert differ > 0
    law = bare.search("Why did Haz take leave from law school?", 5, explain=True)
    law_hit = next(h for h in law if "leave of absence from law school" in h.text)
    start, end = law_hit.best_sentence or (0, 0)
    assert "leave of absence from law school" in law_hit.text[start:end]


# --- answer first (issue 23's cases) ---------------------------------------------------------


def test_the_answer_comes_before_the_interviewers_question(searcher: Searcher) -> None:
    # The long question ("- Tell us a little bit about the history of USA Communist Party...")
    # is a passage of its own; a match on it surfaces the answer, with it as the context.
    question = "When was the American communist party at its strongest?"
    assert "the 1930’s represent the golden age" in searcher.search(question, 1)[0].text
    for mode in ("hybrid", "dense"):
        hits = searcher.search(question, 10, mode=mode)
        assert not any(h.text.startswith("- Tell us a little bit about") for h in hits)
        surfaced = [h for h in hits if h.asked is not None]
        assert surfaced and all(not h.lead for h in hits)
        for hit in surfaced:  # the question it answers is its context
            question = searcher.index.passages([hit.asked])[0].text
            assert " ".join(question.split())[:60] in hit.context


def test_a_surfaced_answer_carries_its_own_cosine_and_bm25(searcher: Searcher) -> None:
    """The answer that takes a question's place keeps the better of the two's score, but its
    raw cosine and BM25 (`--json`, the API) are its own, not the question's."""
    from paraseek.calibration import relevance

    question = "When was the American communist party at its strongest?"
    vector = searcher.embed([question])[0]
    for mode in ("hybrid", "dense", "keyword"):
        hits = searcher.search(question, 10, mode=mode)
        surfaced = [h for h in hits if h.asked is not None]
        assert surfaced, mode
        ids = [h.passage_id for h in surfaced]
        if mode == "keyword":
            assert all(h.cosine is None for h in surfaced)
        else:
            cosines = searcher.vectors(ids) @ vector
            np.testing.assert_allclose([h.cosine for h in surfaced], cosines, atol=1e-5)
            assert [h.to_dict()["cosine"] for h in surfaced] == [h.cosine for h in surfaced]
        if mode == "dense":  # the score is the better of the question's and the answer's
            for hit, own in zip(surfaced, cosines, strict=True):
                asked = float((searcher.vectors([hit.asked or 0]) @ vector)[0])
                best = relevance(max(asked, float(own)), searcher.floor())
                assert hit.score == pytest.approx(best, abs=1e-5)
        if mode == "dense":
            assert all(h.bm25 is None for h in surfaced)
        else:
            found, scores = searcher.index.keyword_scores(question, len(ids), ids)
            own = dict(zip(found, scores, strict=True))
            np.testing.assert_allclose(
                [h.bm25 for h in surfaced], [own.get(i, 0.0) for i in ids], atol=1e-5
            )
    seed = searcher.search(question, 1)[0]
    similar = searcher.similar(seed.passage_id, 10)  # More like this: passage to passage
    cosines = (
        searcher.vectors([h.passage_id for h in similar]) @ searcher.vectors([seed.passage_id])[0]
    )
    np.testing.assert_allclose([h.cosine for h in similar], cosines, atol=1e-5)


def test_a_byline_is_no_hit_and_no_context(searcher: Searcher) -> None:
    hits = searcher.search("what is MAGA communism?", k=10)
    assert not any("Interviewed by" in h.text or "Korchagin" in h.context for h in hits)
    interview = [h for h in hits if h.title == "Haz: what is MAGA Communism"]
    assert interview and {h.author for h in interview} == {"Хаз, Matvey Korchagin (interviewer)"}
    blog = searcher.search("Sean O'Torain", k=50, documents=["002_068334134ee8bc4f.txt"])
    assert blog and not any("O'Torain" in h.context for h in blog)


def test_a_name_puts_the_passage_that_names_it_first(searcher: Searcher) -> None:
    hits = searcher.search("Hillary Clinton", k=3)  # the default mode, hybrid
    assert "Clinton" in hits[0].text
    assert [h.rank for h in hits] == [1, 2, 3]
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_a_passage_holding_most_of_a_questions_rare_words_rises(searcher: Searcher) -> None:
    # "member" and "strengthen" are rare in the sample corpus; the answer is the one passage
    # that holds both ("calls on all its members organizations ... to strengthen and defend").
    # By meaning and BM25 alone it ranked 4th, under interview passages about groups.
    hits = searcher.search("What does the statement ask member groups to strengthen?", k=3)
    assert any("strengthen and defend our anti-imperialist united front" in h.text for h in hits)


def test_a_quoted_phrase_matches_as_a_phrase(searcher: Searcher) -> None:
    # Both words are everywhere in the interview; the phrase is in few passages.
    hits = searcher.search('What do you think of "American empire"?', k=3)
    assert all("american empire" in " ".join(h.text.lower().split()) for h in hits)


def test_a_question_nothing_answers_gets_no_confident_score(searcher: Searcher) -> None:
    for mode in ("hybrid", "dense", "keyword"):
        hits = searcher.search("how do I bake bread?", k=5, mode=mode)
        assert all(h.score < 0.5 for h in hits), (mode, [h.score for h in hits])
    floor = searcher.floor()
    answered = searcher.search("What does Haz expect to happen to the United States?", k=1)[0]
    assert answered.score > 0.5 and answered.cosine is not None and answered.cosine > floor.score


def test_scores_mean_the_same_in_search_and_more_like_this(searcher: Searcher) -> None:
    from paraseek.calibration import relevance

    floor = searcher.floor()
    seed = searcher.search("Why did Haz stop studying to become a lawyer?", k=1, mode="dense")[0]
    assert seed.score == pytest.approx(relevance(seed.cosine or 0.0, floor), abs=1e-6)
    for hit in searcher.similar(seed.passage_id, k=5):
        assert hit.cosine is not None and 0.0 <= hit.score <= 1.0
        assert hit.score == pytest.approx(relevance(hit.cosine, floor), abs=1e-6)
    assert relevance(floor.score, floor) == pytest.approx(0.5)


def test_feedback_moves_the_query_towards_its_top_passages(searcher: Searcher) -> None:
    """Dense pseudo-relevance feedback (off by default): normalise(q + w x mean of the top m),
    checked against NumPy, and the hybrid search it feeds ranks by the moved vector."""
    question = "What did American dominance after the Second World War bring?"
    vector = searcher.embed([question])
    found, _ = searcher.nearest_ids(vector, 3)
    moving = Searcher(searcher.index, searcher.embedder, feedback_weight=0.5, feedback_depth=3)
    expected = vector[0] + 0.5 * searcher.vectors(found[0]).mean(axis=0)
    expected /= np.linalg.norm(expected)
    moved = moving.feedback(vector, found)
    assert moved.shape == vector.shape and moved.dtype == np.float32
    np.testing.assert_allclose(moved[0], expected, atol=1e-5)
    assert searcher.feedback(vector, found) is not vector  # weight 0 by default: a copy, as is
    np.testing.assert_allclose(searcher.feedback(vector, found), vector)
    hits = moving.search(question, 5)  # a surfaced answer's cosine is its own too
    cosines = searcher.vectors([h.passage_id for h in hits]) @ moved[0]
    assert hits
    np.testing.assert_allclose([h.cosine for h in hits], cosines, atol=1e-3)
