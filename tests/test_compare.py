"""Comparing documents: the silence floor, paragraph alignment, talking points, and the page."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from urllib.parse import quote_plus

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from paraseek.calibration import cosine_at, relevance
from paraseek.compare import (
    FLOOR_DEVIATIONS,
    NULL_QUESTIONS,
    SHARED_THRESHOLD,
    SILENCE,
    align,
    closest_score,
    coverage,
    far_note,
    grid,
    silence_floor,
    silent_documents,
    talking_points,
)
from paraseek.embedder import Embedder
from paraseek.errors import UnknownDocumentError
from paraseek.index import Index, Writer
from paraseek.search import Searcher
from ui.common import literal, shorten

from .conftest import ROOT, SAMPLE, TRAM_QUESTION, sample_cache
from .test_search import GOLDEN

INTERVIEW_TITLE = "Haz: what is MAGA Communism"


def test_floor_is_the_median_of_each_documents_null_scores_plus_deviations(
    searcher: Searcher,
) -> None:
    floor = silence_floor(searcher)
    documents = searcher.documents()
    assert floor.samples == len(NULL_QUESTIONS) * len(documents)
    vectors = searcher.embedder.embed_queries(list(NULL_QUESTIONS))
    best = np.array([
        [s[0] for s in searcher.index.search(vectors, 1, passage_ids=searcher.index.passage_ids([d.id]))[1]]
        for d in documents
    ])  # fmt: skip
    own = best.mean(axis=1) + FLOOR_DEVIATIONS * best.std(axis=1)  # each document's floor
    assert floor.score == pytest.approx(np.median(own), abs=1e-4)
    assert floor.mean == pytest.approx(np.median(best.mean(axis=1)), abs=1e-6)
    assert floor.spread == pytest.approx(np.median(best.std(axis=1)), abs=1e-6)
    # Well above every null question's best score in every document.
    assert floor.score > best.max()


@pytest.mark.slow
def test_an_unrelated_document_barely_moves_the_floor(
    tmp_path: Path, searcher: Searcher, embedder: Embedder, sample_index: Path
) -> None:
    """Three paragraphs about bees score high on the null question about honey and on others
    about nature: pooled, their scores moved the floor from 0.344 to 0.420."""
    folder = tmp_path / "corpus"
    shutil.copytree(SAMPLE, folder)
    (folder / "bees.txt").write_text(BEES, encoding="utf-8")
    with Writer(sample_cache(sample_index, tmp_path / "index", embedder), embedder) as writer:
        assert writer.update([folder]).embedded == 3  # the bees; the sample's from the cache
    with_bees = Searcher(Index(tmp_path / "index"), embedder)
    before, after = silence_floor(searcher).score, silence_floor(with_bees).score
    assert abs(after - before) <= 0.02, (before, after)
    best = with_bees.compare("How do bees make honey?")
    assert [Path(h.source).name for h in best if h.score >= after] == ["bees.txt"]


BEES = """How Bees Make Honey

Honey bees collect nectar from flowers with their long tongues and store it in a special
stomach, the honey crop. Back at the hive they pass the nectar to house bees, who chew it and
add enzymes that break its sugars down.

The house bees spread the nectar through the cells of the honeycomb and fan it with their
wings, so that most of its water evaporates and it thickens into honey. When a cell is full
they seal it with a cap of wax.

A strong colony can store far more honey than it needs for the winter, which is why
beekeepers can take part of it without harming the bees.
"""


def test_floor_separates_addressed_from_silent(searcher: Searcher) -> None:
    floor = silence_floor(searcher)
    election = {
        h.title: h.score for h in searcher.compare("Did Russia interfere in the US election?")
    }
    # Four documents take up the Russia story; the 2024 statement never names Russia.
    assert sorted(t for t, score in election.items() if score < SILENCE) == [
        "Stop the Extremist Attacks of the Trump Regime and its Supporters"
    ]
    # Every document is political and names Russia or the US, but only the interview talks
    # about Ukraine: the others' best passages score well above chance, yet under the floor.
    ukraine = {
        h.title: h for h in searcher.compare("Is NATO expansion to blame for the war in Ukraine?")
    }
    assert [t for t, h in ukraine.items() if h.score >= SILENCE] == [INTERVIEW_TITLE]
    assert min(h.cosine or 0.0 for h in ukraine.values()) > floor.mean + 3 * floor.spread
    religion = {
        h.title: h.score for h in searcher.compare("What role does religion and the Church play?")
    }
    assert religion[INTERVIEW_TITLE] >= SILENCE  # only the interview talks about religion
    assert sum(score >= SILENCE for score in religion.values()) == 1
    assert all(
        h.score < SILENCE for h in searcher.compare("How do I bake sourdough bread at home?")
    )


def test_floor_agrees_with_hand_labels_on_which_documents_address_a_question(
    searcher: Searcher,
) -> None:
    """40 questions x 5 documents labelled by hand (tests/silence_labels.json); pairs labelled
    "mentions" (in passing) may go either way."""
    labelled = json.loads((Path(__file__).parent / "silence_labels.json").read_text())["questions"]
    floor = SILENCE
    called: dict[str, list[bool]] = {"addresses": [], "silent": [], "mentions": []}
    for row in labelled:
        best = {Path(h.source).name: h.score for h in searcher.compare(row["question"])}
        assert set(best) == set(row["labels"])
        for name, label in row["labels"].items():
            called[label].append(best[name] >= floor)
    assert len(called["addresses"]) == 54 and len(called["silent"]) == 104
    assert np.mean(called["addresses"]) >= 0.85  # 0.91 on 2026-11-23
    assert np.mean(called["silent"]) <= 0.25  # 0.19; the 95th-percentile floor: 0.77


def test_a_position_is_an_answer_not_an_opening_that_restates_the_question(
    searcher: Searcher,
) -> None:
    hits = searcher.compare("Did Russia interfere in the 2016 US presidential election?")
    article = next(h for h in hits if h.title.startswith("What’s Behind the Russia-Trump"))
    # not "What's behind the escalating furor...?", which only asks
    assert article.text.startswith("Russia has been accused of meddling"), article.text[:60]
    grid_row = coverage(searcher, ["Did Russia interfere in the 2016 US presidential election?"])
    assert grid_row[0][article.document_id] == article.score
    every = searcher.index.document_passages(article.document_id)
    opening = every[0]
    assert opening.id in searcher.leads(every)
    rows = align(searcher, article.document_id, hits[0].document_id)
    assert opening.id not in {r.passage.id for r in rows}
    assert not any(
        p.id == opening.id for point in talking_points(searcher) for p, _ in point.passages
    )


def test_a_document_answers_in_its_own_words_not_its_interviewers(searcher: Searcher) -> None:
    question = "Can someone be both a communist and a believer in God?"
    interview = next(d for d in searcher.documents() if d.title == INTERVIEW_TITLE)
    within = searcher.search(question, k=3, mode="dense", documents=[interview.id])
    # By meaning alone the interviewer's long question matches best; its answer comes instead.
    first = within[0]
    assert first.asked is not None and not any(h.lead for h in within)
    asked = searcher.index.passages([first.asked])[0]
    assert asked.text.startswith("- I've noticed that you often bring up religion")
    assert asked.context == ""  # kept whole on its own, clipped in its answers' context
    assert first.text.startswith("- Traditionally, Communism was a form of atheism")
    assert "I've noticed that you often bring up religion" in first.context
    answers = searcher.compare(question, per_document=2)
    mine = [h for h in answers if h.document_id == interview.id]
    assert [h.rank for h in mine] == [1, 2] and asked.id not in {h.passage_id for h in mine}
    # Its direct answer is one of the two; which comes first is a near tie (0.637 and 0.635 in
    # fp32) that int8 settles either way, depending on the CPU.
    assert any(h.text.startswith("I refute the view that Marxism-Leninism is") for h in mine)
    assert all("I've noticed that you often bring up religion" in h.context for h in mine)


# Off the corpus's subjects, and sharing none of its words; closest cosines 0.08-0.13 against a
# floor of 0.344 (bundled model, int8).
FAR = ("How do whales sleep?", "symptoms of diabetes", "sourdough bread recipe")


FRAUD_QUESTION = "Is there evidence of election fraud in the US?"


def test_comments_speak_for_their_document_only_when_asked(searcher: Searcher) -> None:
    comments = searcher.index.comment_ids()
    blog = {p.document_id for p in searcher.index.passages(sorted(comments))}
    assert len(comments) == 13 and len(blog) == 1  # the blog post's reader comments
    (blog_id,) = blog
    own = [i for i in searcher.index.passage_ids([blog_id]) if i not in comments]
    vector = searcher.embedder.embed_queries([FRAUD_QUESTION])[0]
    best_own = float((searcher.index.vectors(own) @ vector).max())
    default = {h.document_id: h for h in searcher.compare(FRAUD_QUESTION)}
    assert default[blog_id].speaker is None and default[blog_id].passage_id not in comments
    assert default[blog_id].cosine == pytest.approx(best_own, abs=1e-4)  # the author's best
    asked = {h.document_id: h for h in searcher.compare(FRAUD_QUESTION, comments=True)}
    said = asked[blog_id]  # a reader claims election fraud is real; the author does not
    assert said.passage_id in comments and said.speaker == "Anonymous"
    assert said.score > default[blog_id].score
    assert said.notes() == ["comment by Anonymous"]
    others = [d.id for d in searcher.documents() if d.id != blog_id]
    assert all(asked[d] == default[d] for d in others)  # no other document has comments
    rows = align(searcher, blog_id, others[0], 0.5)
    assert [r.passage.id for r in rows] == own
    assert not any(
        row.match and row.match.id in comments for row in align(searcher, others[0], blog_id)
    )
    everything = align(searcher, blog_id, others[0], 0.5, comments=True)
    assert {r.to_dict()["speaker"] for r in everything} == {
        None,
        "Anonymous",
        "Sean",
        "Jingus",
        "Richard Mellor",
    }
    pointed = {p.id for point in talking_points(searcher, 0.63) for p, _ in point.passages}
    assert pointed and not pointed & comments
    pointed = {
        p.id for point in talking_points(searcher, 0.63, comments=True) for p, _ in point.passages
    }
    assert pointed & comments


def test_a_document_of_comments_only_still_answers(tmp_path: Path, searcher: Searcher) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "thread.txt").write_text(
        "Tide Thread\n\nMara said...\n\nThe spring tides here rise higher than anywhere "
        "else on the coast, because the bay narrows like a funnel.\n\nOwen said...\n\nI "
        "have watched the harbour flood twice this year at the full moon.",
        encoding="utf-8",
    )
    (folder / "article.txt").write_text(
        "Tides Explained\n\nThe moon's pull raises the tides twice a day; a narrowing bay "
        "makes them higher still.",
        encoding="utf-8",
    )
    with Writer(tmp_path / "index", searcher.embedder) as writer:
        writer.update([folder])
    small = Searcher(Index(tmp_path / "index"), searcher.embedder)
    hits = small.compare("Why are the tides so high in the bay?")
    assert len(hits) == 2  # the thread answers with its comments: it has nothing else
    thread = next(h for h in hits if h.title == "Tide Thread")
    assert thread.speaker == "Mara"
    assert {r.passage.id for r in align(small, thread.document_id, hits[0].document_id)} == set(
        small.index.comment_ids()
    )


def test_compare_keeps_to_the_documents_chosen(searcher: Searcher) -> None:
    question = "Did Russia interfere in the US election?"
    every = searcher.compare(question, per_document=2)
    documents = searcher.documents()
    chosen = [documents[0].id, Path(documents[3].path).name]  # an id and a file name
    picked = {documents[0].id, documents[3].id}
    hits = searcher.compare(question, per_document=2, documents=chosen)
    assert hits == [h for h in every if h.document_id in picked]
    rows = grid(searcher, [question], 0.2, documents=chosen)
    assert [d["document_id"] for d in rows[0]["documents"]] == sorted(
        picked, key=lambda i: next(d.title for d in documents if d.id == i)
    )
    with pytest.raises(UnknownDocumentError, match=r"No document 'nowhere\.txt'"):
        searcher.compare(question, documents=["nowhere.txt"])


def test_closest_score_is_the_best_cosine_whatever_the_mode(searcher: Searcher) -> None:
    question = GOLDEN[0][0]
    dense = searcher.search(question, k=1, mode="dense")[0]
    assert dense.cosine is not None
    assert closest_score(searcher, question) == pytest.approx(dense.cosine, abs=1e-6)
    assert searcher.search(question, k=1)[0].score != pytest.approx(dense.cosine)  # hybrid's
    interview = next(d for d in searcher.documents() if d.title == INTERVIEW_TITLE)
    within = searcher.search(question, k=1, mode="dense", documents=[interview.id])[0].cosine
    assert within is not None
    assert closest_score(searcher, question, [interview.id]) == pytest.approx(within, abs=1e-6)
    assert within < dense.cosine  # the answer is in another document


def test_far_note_speaks_only_when_no_passage_comes_close(searcher: Searcher) -> None:
    floor = silence_floor(searcher)
    for question, _ in GOLDEN:
        hits = searcher.search(question, k=10)
        assert (
            far_note(closest_score(searcher, question), floor, any(h.matched for h in hits)) is None
        )
    for question in FAR:
        hits = searcher.search(question, k=10)
        assert not any(h.matched for h in hits)
        note = far_note(closest_score(searcher, question), floor, False)
        assert note and note.startswith("No passage seems to address this")
        assert "under the silence floor 0.500" in note
        # The closest passage's score, as every score is shown: a relevance under 0.5.
        shown = relevance(closest_score(searcher, question) or 0.0, floor)
        assert f"the closest in meaning scores {shown:.3f}," in note and shown < SILENCE
    words = far_note(floor.score - 0.01, floor, True)
    assert words and "the hits share some of its words" in words
    # A name is a lookup: its cosine with the passages that use it is low, but they answer it.
    name = "Hillary Clinton"
    hits = searcher.search(name, k=10)
    assert any(h.matched for h in hits) and (closest_score(searcher, name) or 1) < floor.score
    assert far_note(closest_score(searcher, name), floor, True, name) is None
    asked = "What did the article say about Hillary Clinton's emails?"
    assert far_note(floor.score - 0.01, floor, True, asked) is not None  # a question
    assert far_note(floor.score - 0.01, floor, False, name) is not None  # no hit holds its words
    assert far_note(None, floor, False) is None  # nothing searched: nothing to say


def test_silent_documents_are_those_whose_best_passage_is_under_the_floor(
    searcher: Searcher,
) -> None:
    hits = searcher.compare("What role does religion and the Church play?", per_document=2)
    best = {h.document_id: h.score for h in hits if h.rank == 1}
    middle = sorted(best.values())[2]
    assert silent_documents(hits, middle) == {d for d, s in best.items() if s < middle}
    assert len(silent_documents(hits, middle)) == 2
    assert silent_documents(hits, -1.0) == set()
    # A second passage scoring under the floor does not make its document silent.
    assert silent_documents(hits, max(best.values())) == set(best) - {max(best, key=best.get)}


def test_floor_calibrates_on_a_spread_of_documents_when_there_are_many(
    searcher: Searcher,
) -> None:
    documents = searcher.documents()
    two = silence_floor(searcher, documents=2)  # every third document: the 1st and the 4th
    assert two.samples == len(NULL_QUESTIONS) * 2
    vectors = searcher.embedder.embed_queries(list(NULL_QUESTIONS))
    best = np.array([
        [s[0] for s in searcher.index.search(vectors, 1, passage_ids=searcher.index.passage_ids([d.id]))[1]]
        for d in documents[::3]
    ])  # fmt: skip
    own = best.mean(axis=1) + FLOOR_DEVIATIONS * best.std(axis=1)
    assert two.score == pytest.approx(np.median(own), abs=1e-4)


def test_alignment_pairs_each_passage_with_its_closest(searcher: Searcher) -> None:
    documents = searcher.documents()
    a, b = documents[0].id, documents[1].id
    rows = align(searcher, a, b, threshold=0.5)
    passages_a = searcher.index.document_passages(a)
    leads = searcher.leads(passages_a)  # questions kept as passages: their answers align
    assert leads and [r.passage.id for r in rows] == [p.id for p in passages_a if p.id not in leads]
    passages_b = searcher.index.document_passages(b)
    skip = searcher.leads(passages_b) | searcher.index.comment_ids()
    vb = searcher.index.vectors([int(p.id or 0) for p in passages_b if p.id not in skip])
    for row in rows[:5]:
        scores = vb @ searcher.index.vectors([row.passage.id])[0]
        assert row.cosine == pytest.approx(float(scores.max()), abs=1e-4)
        assert row.score == pytest.approx(relevance(row.cosine, searcher.floor()), abs=1e-4)
        assert row.match is not None and row.match.document_id == b
        assert row.shared == (row.score >= 0.5)


def test_talking_points_span_documents(searcher: Searcher) -> None:
    points = talking_points(searcher, threshold=0.7)
    assert points
    for point in points:
        assert point.documents == len({p.document_id for p, _ in point.passages}) >= 2
        assert all(score >= 0.7 for _, score in point.passages)
        # Its name: words of its passages, as written there.
        texts = " ".join(p.text for p, _ in point.passages)
        assert 1 <= len(point.words) <= 4 and all(w in texts for w in point.words)
    texts = " ".join(p.text for p, _ in points[0].passages)
    assert "Russia" in texts or "Putin" in texts  # the corpus's common subject
    assert {"Russia", "Russian"} & set(points[0].words)
    assert talking_points(searcher, threshold=0.99) == []


@pytest.mark.parametrize("threshold", [0.63, 0.7])
def test_a_talking_point_stays_on_one_subject(searcher: Searcher, threshold: float) -> None:
    # Linking pairs alone chained 33 passages of every document into one "point" at a cosine
    # of 0.5 (a score of 0.63), some of them with nothing in common (cosine 0.0). A point's
    # passages must, on average, say nearly the same thing.
    points = talking_points(searcher, threshold=threshold)
    cut = cosine_at(threshold, searcher.floor())
    assert points
    for point in points:
        vectors = searcher.index.vectors([int(p.id or 0) for p, _ in point.passages])
        pairs = vectors @ vectors.T
        n = len(vectors)
        assert (pairs.sum() - np.trace(pairs)) / (n * (n - 1)) >= cut - 1e-5


def test_a_point_is_named_by_words_its_documents_share_and_others_rarely_use(
    searcher: Searcher,
) -> None:
    point = talking_points(searcher, threshold=0.7)[0]
    every = searcher.index.passages(
        searcher.index.passage_ids([d.id for d in searcher.documents()])
    )
    for word in point.words:
        using = [p for p, _ in point.passages if word.lower() in p.text.lower()]
        assert len({p.document_id for p in using}) == point.documents  # every document of it
        rest = [p for p in every if p.id not in {q.id for q, _ in point.passages}]
        assert sum(word.lower() in p.text.lower() for p in rest) < len(rest) / 4
    assert not {"the", "must", "said"} & {w.lower() for w in point.words}


QUESTIONS = (
    "Did Russia interfere in the US election?",  # all but the 2024 statement (no Russia)
    "What role does religion and the Church play?",  # the interview only
    "How do I bake sourdough bread at home?",  # none
)


def test_coverage_is_each_documents_best_score_for_each_question(searcher: Searcher) -> None:
    grid = coverage(searcher, QUESTIONS)
    assert len(grid) == 3
    documents = {d.id for d in searcher.documents()}
    for question, row in zip(QUESTIONS, grid, strict=True):
        assert set(row) == documents
        assert row == {h.document_id: h.score for h in searcher.compare(question) if h.rank == 1}
    assert [sum(s >= SILENCE for s in row.values()) for row in grid] == [4, 1, 0]


def _compare_page(
    sample_index: Path, monkeypatch: pytest.MonkeyPatch, **url: str | list[str]
) -> AppTest:
    """The compare page, opened with these URL parameters (tab=<label> picks the tab)."""
    monkeypatch.setenv("PARASEEK_INDEX", str(sample_index))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("ui/compare.py")
    for name, value in url.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    return at


RELIGION = "What role does religion and the Church play?"


@pytest.mark.slow
def test_compare_page_marks_silent_documents(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _compare_page(sample_index, monkeypatch)
    assert any("Silence floor" in e.label for e in at.expander)
    at.text_input(key="cq").input("What role does religion and the Church play?").run()
    assert not at.exception
    silent = [m.value for m in at.markdown if "doesn't address this" in m.value]
    assert len(silent) == 4 and not any("MAGA" in s for s in silent)
    # Each silent document offers its closest passage, to check the verdict by eye.
    closest = [e for e in at.expander if e.label == "Its closest passage, to check"]
    assert len(closest) == 4 and all(e.markdown[0].value.strip() for e in closest)
    assert not any("No document addresses" in i.value for i in at.info)
    assert at.query_params["cq"] == "What role does religion and the Church play?"
    # The answer's sentence closest to the question is in bold, as search shows its hits.
    (answer,) = [h for h in searcher.compare(RELIGION) if h.score >= SILENCE]
    (best,) = searcher.explain(RELIGION, [answer])
    assert best.best_sentence is not None
    sentence = literal(best.text[slice(*best.best_sentence)])
    assert any(f"**{sentence}**" in m.value for m in at.markdown)
    # The one document that answers shows its passage's neighbours on demand, in place.
    toggles = [t for t in at.toggle if t.label == "Show context"]
    assert len(toggles) == 1 and not any(b.label == "More like this" for b in at.button)
    toggles[0].set_value(True).run()
    around = [
        c.value for c in at.caption if c.value.startswith(("before (passage", "after (passage"))
    ]
    assert len(around) == 2
    at.text_input(key="cq").input("How do I bake sourdough bread at home?").run()
    assert [i.value for i in at.info if "No document addresses" in i.value]
    assert len([m for m in at.markdown if "doesn't address this" in m.value]) == 5


def unlinked(markdown: str) -> str:
    """`markdown` without the links to the Read page around titles."""
    return re.sub(r'<a href="read\?[^"]*" target="_self">|</a>', "", markdown)


def grid_of(at: AppTest) -> tuple[list[str], list[str], list[str], list[list[tuple[str, str]]]]:
    """The Many questions grid as drawn: its questions, its "addressed by" column, its
    documents' titles, and per row each cell's (class, link)."""
    table = next(m.value for m in at.markdown if 'class="ps-grid"' in m.value)
    titles = [html.unescape(t) for t in re.findall(r'<th title="([^"]*)"><span>', table)]
    body = table.split("<tbody>", 1)[1]
    rows = re.findall(r'<tr><th class="q">(.*?)</th><td class="n">(.*?)</td>(.*?)</tr>', body)
    cells = [
        [
            (k, html.unescape(h))
            for k, h in re.findall(r'<td class="([^"]*)"[^>]*><a href="([^"]*)"', r)
        ]
        for *_, r in rows
    ]
    return [html.unescape(q) for q, _, _ in rows], [n for _, n, _ in rows], titles, cells


@pytest.mark.slow
def test_compare_page_grids_many_questions(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _compare_page(sample_index, monkeypatch, tab="Many questions")
    assert [i.value for i in at.info if "one per line" in i.value]
    assert not any("Silence floor" in e.label for e in at.expander)  # only the open tab runs
    at.text_area(key="mq").input("\n".join(QUESTIONS) + "\n\n" + QUESTIONS[0]).run()
    assert not at.exception
    questions, addressed, titles, cells = grid_of(at)
    assert questions == list(QUESTIONS)  # blank lines and repeats dropped
    assert addressed == ["4 of 5", "1 of 5", "0 of 5"]
    assert len(titles) == 5 and INTERVIEW_TITLE in titles  # whole titles, wrapped
    assert at.query_params["mq"] == list(QUESTIONS)
    assert any("silence floor" in c.value for c in at.caption)
    # Each score links to that document's best passage for the question on the Read page;
    # a document under the floor is grey.
    floor = SILENCE
    for question, row in zip(QUESTIONS, cells, strict=True):
        best = {h.document_id: h for h in searcher.compare(question) if h.rank == 1}
        by_title = {h.title: h for h in best.values()}
        for title, (kind, href) in zip(titles, row, strict=True):
            hit = by_title[title]
            assert href == (
                f"read?doc={hit.document_id}&p={hit.ordinal + 1}&q={quote_plus(question)}"
            )
            assert ("silent" in kind) == (hit.score < floor)


@pytest.mark.slow
def test_compare_page_side_by_side_and_points(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = {Path(d.path).name[:3]: d.id for d in searcher.documents()}
    at = _compare_page(
        sample_index, monkeypatch, tab="Two documents side by side", doc_a=ids["000"],
        doc_b=ids["001"],
    )  # fmt: skip
    captions = [c.value for c in at.caption]
    assert any("passages of the first document have a counterpart" in c for c in captions)
    at.slider(key="shared").set_value(0.3).run()
    assert not at.exception
    shared = next(c.value for c in at.caption if "have a counterpart" in c.value)
    count, total = (int(x) for x in shared.split(" passages")[0].split(" of "))
    assert count == total  # at 0.3 (a cosine of 0.22 here) everything has some counterpart
    at = _compare_page(sample_index, monkeypatch, tab="Shared talking points")
    assert any("shared talking points, each a group of passages" in c.value for c in at.caption)
    points = [e.label for e in at.expander if e.label.startswith("Point ")]
    assert points and "Russia" in points[0] and "passages in 3 documents" in points[0]


@pytest.mark.slow
def test_a_compare_url_reopens_the_same_comparison(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = searcher.documents()
    a, b = documents[3].id, documents[1].id
    url = {"tab": "Two documents side by side", "doc_a": a, "doc_b": b, "shared": "0.8"}
    at = _compare_page(sample_index, monkeypatch, **url)
    assert (at.selectbox(key="doc_a").value, at.selectbox(key="doc_b").value) == (a, b)
    assert (at.query_params["doc_a"], at.query_params["doc_b"]) == (a, b)
    rows = align(searcher, a, b, 0.8)
    expected = f"{sum(r.shared for r in rows)} of {len(rows)} passages of the first document"
    assert any(c.value.startswith(expected) for c in at.caption)
    assert not any("shared talking points" in c.value for c in at.caption)
    at = _compare_page(sample_index, monkeypatch, tab="Shared talking points", points="0.65")
    labels = [e.label for e in at.expander if e.label.startswith("Point ")]
    assert len(labels) == len(talking_points(searcher, 0.65)) > len(talking_points(searcher, 0.7))
    assert not any("comment by" in m.value for m in at.markdown)
    at = _compare_page(
        sample_index, monkeypatch, tab="Shared talking points", points="0.65", comments="true"
    )
    assert at.toggle(key="comments").value  # the switch comes back from the URL
    labels = [e.label for e in at.expander if e.label.startswith("Point ")]
    assert len(labels) == len(talking_points(searcher, 0.65, comments=True))
    assert any("comment by" in m.value for m in at.markdown)


@pytest.mark.slow
def test_the_compare_page_keeps_to_the_documents_chosen(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = sorted(searcher.documents(), key=lambda d: Path(d.path).name)
    documents = [documents[i] for i in (0, 4, 2, 3, 1)]  # as their titles used to sort
    a, b = documents[1].id, documents[4].id
    at = _compare_page(sample_index, monkeypatch, cq=FRAUD_QUESTION, doc=[a, b])
    assert at.multiselect(key="documents").value == [a, b]
    cards = [  # each document's card starts with its title, in bold (a link to the Read page)
        unlinked(m.value) for m in at.markdown
        if m.value.startswith("**") and (" · score " in m.value or " · doesn't address" in m.value)
    ]  # fmt: skip
    assert {c.split("**")[1] for c in cards} == {
        literal(documents[1].title),
        literal(documents[4].title),
    }
    assert len(cards) == 2
    at = _compare_page(
        sample_index,
        monkeypatch,
        tab="Many questions",
        mq=list(QUESTIONS),
        doc=[a, b],
    )
    _, addressed, titles, _ = grid_of(at)
    assert len(titles) == 2  # the two documents
    assert addressed == ["2 of 2", "1 of 2", "0 of 2"]


RAIL_QUESTION = "When will the rail lines be built?"


@pytest.mark.slow
def test_the_compare_page_calls_a_closer_quotation_a_quotation(
    embedder: Embedder, news_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    searcher = Searcher(Index(news_index), embedder)
    quoted = next(h for h in searcher.compare(RAIL_QUESTION, comments=True) if h.voice)
    own = searcher.compare(RAIL_QUESTION)[0]  # the article's own words, the quotation left out
    assert own.voice is None and quoted.score > own.score
    at = _compare_page(news_index, monkeypatch, cq=RAIL_QUESTION)
    note = f"A quotation in it comes closer: {quoted.score:.3f}, quoting The minister."
    assert [
        c.value
        for c in at.caption
        if c.value == f"{note} Switch on “Include quotations” to read it."
    ]
    assert not [c.value for c in at.caption if "comment" in c.value]
    # The switch is named for what it brings in: this index has a quotation, no comments.
    assert len(Index(news_index).comment_ids()) == 1
    assert at.toggle(key="comments").label == "Include quotations (1 passage in 1 document)"


@pytest.mark.slow
def test_the_compare_page_leaves_comments_out_until_asked(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _compare_page(sample_index, monkeypatch, cq=FRAUD_QUESTION)
    switch = at.toggle(key="comments")
    assert switch.label == "Include comments (13 passages in 1 document)" and not switch.value
    assert not any("comment by" in m.value for m in at.markdown)
    # The blog post answers in its own words, and the page says that a comment comes closer.
    said = next(h for h in searcher.compare(FRAUD_QUESTION, comments=True) if h.speaker)
    note = f"A comment under it comes closer: {said.score:.3f}, by Anonymous."
    assert [
        c.value for c in at.caption if c.value == f"{note} Switch on “Include comments” to read it."
    ]
    switch.set_value(True).run()
    assert not at.exception
    first = next(m.value for m in at.markdown if " · score " in m.value)
    assert "Interfering In Elections" in first and "comment by Anonymous" in first
    assert not [c.value for c in at.caption if c.value.startswith("A comment under it")]
    # Where no comment comes close (no document's are about religion), nothing is said.
    at.toggle(key="comments").set_value(False).run()
    at.text_input(key="cq").input(RELIGION).run()
    assert not [c.value for c in at.caption if c.value.startswith("A comment under it")]


@pytest.mark.slow
def test_the_compare_page_shows_many_documents_a_page_at_a_time(
    many_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large collection's answers come a page at a time (each costs an explanation and
    widgets), and its silent documents beyond the first few fold into one table."""
    question = TRAM_QUESTION
    small = Searcher(Index(many_index), searcher.embedder)
    floor = SILENCE
    best = [h for h in small.compare(question) if h.rank == 1]
    addressing = [h for h in best if h.score >= floor]
    assert len(addressing) == 30 and len(best) == 45  # the premise: 30 answer, 15 are silent
    at = _compare_page(many_index, monkeypatch, cq=question)

    def answers() -> list[str]:
        return [unlinked(m.value) for m in at.markdown if " · score " in m.value]

    assert [a.split("**")[1] for a in answers()] == [h.title for h in addressing[:20]]
    assert any(c.value == "30 of 45 documents address it, closest first." for c in at.caption)
    assert len([m for m in at.markdown if "doesn't address this" in m.value]) == 10
    (rest,) = [e for e in at.expander if e.label == "5 more documents that don't address this"]
    table = rest.dataframe[0].value
    assert list(table["document"]) == [h.title for h in best[-5:]]
    assert all(table["best score"] < floor)
    (more,) = [b for b in at.button if b.label.startswith("Show ")]
    assert more.label == "Show 10 more of the 10 other documents that address it"
    more.click().run()
    assert not at.exception
    assert [a.split("**")[1] for a in answers()] == [h.title for h in addressing]
    assert not [b for b in at.button if b.label.startswith("Show ")]
    bold = [a for a in at.markdown if a.value.count("**") >= 2 and " · score " not in a.value]
    assert len(bold) >= 30  # every answer shown has its closest sentence in bold


@pytest.mark.slow
def test_the_grid_of_a_large_collection_shows_the_documents_that_answer_most(
    many_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past 30 documents the grid keeps the 30 that address the most questions, and still
    counts every document in "addressed by"."""
    questions = [TRAM_QUESTION, "How did the basalt columns on the islands form?"]
    small = Searcher(Index(many_index), searcher.embedder)
    floor = SILENCE
    scores = coverage(small, questions)
    titles = {d.id: d.title for d in small.documents()}

    def standing(d: str) -> tuple[int, float]:
        return -sum(row[d] >= floor for row in scores), -sum(row[d] for row in scores)

    ranked = sorted(titles, key=lambda d: (standing(d), titles[d]))
    assert standing(ranked[29]) < standing(ranked[30])  # the premise: a clear cut at 30
    at = _compare_page(many_index, monkeypatch, tab="Many questions")
    at.text_area(key="mq").input("\n".join(questions)).run()
    assert not at.exception
    _, shown_addressed, shown, _ = grid_of(at)
    addressed = [sum(row[d] >= floor for d in titles) for row in scores]
    assert shown_addressed == [f"{n} of 45" for n in addressed]
    assert addressed == [30, 15]
    assert len(shown) == 30
    assert sorted(shown) == sorted(titles[d] for d in ranked[:30])
    assert any(
        c.value.startswith("The grid shows the 30 of 45 documents that address the most")
        for c in at.caption
    )


@pytest.mark.slow
def test_side_by_side_labels_both_sides_with_document_and_passage(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = searcher.documents()
    a, b = documents[3], documents[1]
    url = {"tab": "Two documents side by side", "doc_a": a.id, "doc_b": b.id, "shared": "0.8"}
    at = _compare_page(sample_index, monkeypatch, **url)
    assert not at.exception
    rows = align(searcher, a.id, b.id, 0.8)
    shown = [unlinked(m.value) for m in at.markdown if ", passage " in unlinked(m.value)]
    left = [m for m in shown if m.split(" · ")[0].startswith(":")]  # the badge, then the label
    right = [m for m in shown if m not in left]
    assert len(left) == len(right) == len(rows)
    for row, one, two in zip(rows, left, right, strict=True):
        assert f"{literal(shorten(a.title, 40))}, passage {row.passage.ordinal + 1}" in one
        assert row.match is not None
        assert two.startswith(f"{literal(shorten(b.title, 40))}, passage {row.match.ordinal + 1}")
        assert two.endswith(literal(row.match.text))


BREAD = "How do I bake sourdough bread at home?"


def test_compare_scores_a_passage_as_search_does(searcher: Searcher) -> None:
    """A passage's score in compare is the 0-1 relevance dense search gives the same passage
    for the same question (0.5 at the silence floor), with its raw cosine beside it."""
    for question in (RELIGION, BREAD):
        for hit in [h for h in searcher.compare(question) if h.rank == 1]:
            (same,) = searcher.search_many(
                [question], 1, mode="dense", passage_ids=[hit.passage_id]
            )[0]
            assert same.passage_id == hit.passage_id and same.asked is None
            assert hit.score == pytest.approx(same.score, abs=1e-5)
            assert hit.cosine == pytest.approx(same.cosine, abs=1e-5)
    # Only the interview takes up religion: it alone scores above the floor, 0.5. Nothing in
    # the corpus is about bread: every document scores under 0.5.
    religion = {h.title: h.score for h in searcher.compare(RELIGION)}
    assert religion.pop(INTERVIEW_TITLE) >= 0.5 > max(religion.values())
    assert all(h.score < 0.5 for h in searcher.compare(BREAD))


def test_the_grid_scores_and_calls_silence_as_compare_does(searcher: Searcher) -> None:
    rows = grid(searcher, QUESTIONS)  # the floor: 0.5, the silence floor
    assert [row["floor"] for row in rows] == [SILENCE] * 3
    for question, row in zip(QUESTIONS, rows, strict=True):
        best = {h.document_id: h for h in searcher.compare(question) if h.rank == 1}
        for cell in row["documents"]:
            hit = best[cell["document_id"]]
            assert (cell["score"], cell["cosine"]) == (hit.score, hit.cosine)
            assert cell["silent"] == (hit.score < 0.5)
    assert [row["addressed"] for row in rows] == [4, 1, 0]


def test_align_and_points_score_as_more_like_this_does(searcher: Searcher) -> None:
    documents = searcher.documents()
    rows = align(searcher, documents[0].id, documents[1].id)
    checked = 0
    for row in rows[:8]:
        assert row.match is not None
        like = {h.passage_id: h for h in searcher.similar(row.passage.id, k=300)}
        same = like.get(row.match.id)
        if same is not None and same.asked is None:
            assert row.score == pytest.approx(same.score, abs=1e-4)
            assert row.cosine == pytest.approx(same.cosine, abs=1e-4)
            assert row.shared == (row.score >= SHARED_THRESHOLD)
            checked += 1
    assert checked >= 4
    floor = searcher.floor()
    titles = {d.id: d.title for d in documents}
    points = [p.to_dict(titles) for p in talking_points(searcher, SHARED_THRESHOLD)]
    assert points
    for point in points:
        for passage in point["passages"]:  # type: ignore[attr-defined]
            assert passage["score"] == round(relevance(passage["cosine"], floor), 4)
            assert passage["score"] >= SHARED_THRESHOLD


@pytest.mark.slow
def test_compare_page_scores_as_search_does(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _compare_page(sample_index, monkeypatch, cq=RELIGION)
    (answer,) = [h for h in searcher.compare(RELIGION) if h.score >= 0.5]
    (same,) = searcher.search_many([RELIGION], 1, mode="dense", passage_ids=[answer.passage_id])[0]
    cards = [unlinked(m.value) for m in at.markdown if " · score " in m.value]
    assert len(cards) == 1 and f"· score {same.score:.3f}" in cards[0]
    silent = [c.value for c in at.caption if c.value.startswith("best score ")]
    assert len(silent) == 4
    for caption in silent:
        score = float(caption.split()[2].rstrip(","))
        assert score < 0.5 and caption.endswith("below the silence floor 0.5")
    assert any(e.label.startswith("Silence floor: 0.5") for e in at.expander)
    at = _compare_page(sample_index, monkeypatch, tab="Many questions", mq=[RELIGION])
    table = next(m.value for m in at.markdown if 'class="ps-grid"' in m.value)
    shown = [float(x) for x in re.findall(r'target="_self">([\d.]+)</a>', table)]
    best = sorted(h.score for h in searcher.compare(RELIGION))
    assert sorted(shown) == pytest.approx(best, abs=0.005)
