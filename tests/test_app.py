"""The Streamlit app, run in-process with AppTest on the real model and the sample index."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from paraseek.embedder import Embedder
from paraseek.index import Writer
from paraseek.search import Searcher
from ui.common import literal

from .conftest import ROOT

APP = str(ROOT / "app.py")
QUESTION = "Why did Michael Flynn resign?"
# What `paraseek search "Why did Michael Flynn resign?"` puts first on the sample corpus.
FIRST_PASSAGE = (
    "1) Pulling the Lens Back: The whole episode of Mike Flynn's resignation is unfolding in a "
    "context of claims and counter-claims, and people are drawn into speculation around this. "
    "We need to proceed scientifically from the larger reality, and what we know to be true, "
    "based on real evidence."
)
FIRST_TITLE = "Pulling the Lens Back: The whole episode of Mike Flynn's resignation …"
HAZ = "Haz: what is MAGA Communism · by Хаз, Matvey Korchagin (interviewer)"
HINT = "Type a question and press Enter to search the documents."
HOSTILE_TITLE = "Notes <script>alert(1)</script> **bold** _under_ `code`"
HOSTILE_TEXT = (
    "Plain words with <script>alert(1)</script> and **bold** and <b>a tag</b> and "
    "[a link](http://example.com) in them."
)


_MARKUP = re.compile(r"(?<!\\)\*\*|<mark [^>]*>|</mark>")
# A hit's title is a link to the Read page at its passage.
_LINK = re.compile(r'<a href="read\?doc=[^"]*" target="_self">|</a>')


def shown(value: str) -> str:
    """What a Markdown string displays as: the app's bold/highlight markup and escapes undone."""
    return re.sub(r"\\(.)", r"\1", _MARKUP.sub("", _LINK.sub("", value)))


def app(index: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PARASEEK_INDEX", str(index))
    return AppTest.from_file(APP, default_timeout=120)


def hits(at: AppTest) -> list[tuple[str, str]]:
    """(title line, passage) as displayed, one pair per hit, in order."""
    values = [m.value for m in at.markdown]
    return [(shown(values[i]), shown(values[i + 1])) for i in range(0, len(values) - 1, 2)]


@pytest.mark.slow
def test_first_load_shows_the_hint_and_the_counts(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(sample_index, monkeypatch).run()
    assert not at.exception
    assert not at.error
    assert [i.value for i in at.info] == [HINT]
    assert at.text_input[0].value == ""
    assert not at.markdown  # no hits before a query
    passages = sum(d.passages for d in searcher.documents())
    assert shown(at.caption[0].value) == (
        f"5 documents · {passages} passages · model sentence-transformers/all-MiniLM-L6-v2"
    )


@pytest.mark.slow
def test_a_question_shows_its_best_passage_first_with_its_title(
    sample_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(sample_index, monkeypatch).run()
    at.text_input[0].input(QUESTION).run()
    assert not at.exception
    assert not at.error
    assert not at.info  # the hint is gone
    found = hits(at)
    assert len(found) == at.slider[0].value == 10
    title, passage = found[0]
    assert passage == FIRST_PASSAGE
    assert title.startswith(f"{FIRST_TITLE} · score ")
    scores = [float(t.split(" · score ")[1].split()[0]) for t, _ in found]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)  # hybrid, the default mode, scores 0 to 1
    assert shown(at.caption[1].value) == "000_eacbcdf2668e75b6.txt · passage 1"
    assert at.query_params["q"] == QUESTION
    assert at.query_params["k"] == "10"


@pytest.mark.slow
def test_every_edit_counts_not_only_the_first(
    sample_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the URL holds q and k, later questions and result counts still take effect."""
    at = app(sample_index, monkeypatch).run()
    at.text_input[0].input(QUESTION).run()
    at.text_input[0].input("Who is Haz?").run()
    assert at.text_input[0].value == "Who is Haz?"
    assert at.query_params["q"] == "Who is Haz?"
    assert hits(at)[0][0].startswith(f"{HAZ} · score ")
    at.slider[0].set_value(3).run()
    at.slider[0].set_value(4).run()
    assert at.slider[0].value == 4
    assert len(hits(at)) == 4
    assert at.query_params["k"] == "4"


def test_query_params_prefill_and_run_the_search(
    sample_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(sample_index, monkeypatch)
    at.query_params["q"] = QUESTION
    at.query_params["k"] = "3"
    at.run()
    assert not at.exception
    assert at.text_input[0].value == QUESTION
    assert at.slider[0].value == 3
    found = hits(at)
    assert len(found) == 3
    assert found[0][1] == FIRST_PASSAGE


@pytest.mark.slow
def test_the_document_filter_keeps_hits_to_the_chosen_document(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(sample_index, monkeypatch).run()
    haz = next(d.id for d in searcher.documents() if HAZ.startswith(d.title))
    at.text_input[0].input(QUESTION).run()
    at.multiselect[0].select(haz).run()
    assert not at.exception
    found = hits(at)
    assert len(found) == 10
    assert all(title.startswith(f"{HAZ} · score ") for title, _ in found)
    assert FIRST_PASSAGE not in [passage for _, passage in found]
    assert at.query_params["doc"] == haz


def test_a_missing_index_is_an_error_message_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    at = app(empty, monkeypatch).run()
    assert not at.exception
    assert len(at.error) == 1
    assert shown(at.error[0].value).startswith(f"No index at '{empty}'")
    assert not at.text_input  # st.stop() before the search box


@pytest.mark.slow
def test_markdown_and_html_in_documents_are_shown_literally(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "hostile.txt").write_text(f"{HOSTILE_TITLE}\n\n{HOSTILE_TEXT}\n", encoding="utf-8")
    index = tmp_path / "index"
    with Writer(index, embedder) as writer:
        writer.update([folder])
    at = app(index, monkeypatch)
    at.query_params["q"] = "plain words with a tag"
    at.run()
    assert not at.exception
    values = [m.value for m in at.markdown]
    pairs = list(zip(values[0::2], values[1::2], strict=True))
    # The title line is a passage too; pick the body's hit, whatever its rank.
    title_line, text = next((t, x) for t, x in pairs if shown(x) == HOSTILE_TEXT)
    assert shown(title_line).startswith(f"{HOSTILE_TITLE} · score ")
    title_line = _LINK.sub("", title_line)  # the app's own link around the title
    # Every Markdown or HTML character of the document is backslash-escaped...
    text = _MARKUP.sub("", text)  # ...once the app's own bold and highlights are set aside
    assert r"\<script\>alert\(1\)\</script\>" in text
    assert r"\*\*bold\*\*" in text
    assert r"\<b\>a tag\</b\>" in text
    assert r"\[a link\]\(http\://example\.com\)" in text
    assert r"\<script\>alert\(1\)\</script\>" in title_line
    assert r"\*\*bold\*\* \_under\_ \`code\`" in title_line
    # ...so none is left bare, bar the app's own ** around the title.
    specials = re.compile(r"[<>*_`\[\]()]")
    assert specials.findall(re.sub(r"\\.", "", text)) == []
    bare_title = re.sub(r"\\.", "", title_line)
    assert specials.findall(bare_title) == ["*"] * 4
    assert bare_title.startswith("**Notes ")


def test_clearing_the_query_clears_it_from_the_url(
    sample_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(sample_index, monkeypatch).run()
    at.text_input[0].input(QUESTION).run()
    assert at.query_params["q"] == QUESTION
    at.text_input[0].input("").run()
    assert "q" not in at.query_params
    assert [i.value for i in at.info] == [HINT]


@pytest.mark.slow
@pytest.mark.parametrize(("k", "shown_k"), [("500", 50), ("0", 1), ("abc", 10)])
def test_an_out_of_range_k_in_the_url_is_clamped(
    sample_index: Path, monkeypatch: pytest.MonkeyPatch, k: str, shown_k: int
) -> None:
    at = app(sample_index, monkeypatch)
    at.query_params["q"] = QUESTION
    at.query_params["k"] = k
    at.run()
    assert not at.exception and at.slider[0].value == shown_k
    assert len(hits(at)) == shown_k


@pytest.mark.slow
def test_the_mode_comes_from_the_url_and_changes_the_ranking(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(sample_index, monkeypatch)
    at.query_params["q"] = "ILPS members"
    at.query_params["mode"] = "keyword"
    at.run()
    assert not at.exception and at.selectbox[0].value == "keyword"
    expected = searcher.search("ILPS members", k=10, mode="keyword")
    assert hits(at)[0][1] == expected[0].text and "ILPS" in expected[0].text
    at.selectbox[0].select("dense").run()
    assert at.query_params["mode"] == "dense"
    dense = searcher.search("ILPS members", k=10, mode="dense")
    assert [p for _, p in hits(at)] == [h.text for h in dense]


@pytest.mark.slow
def test_the_best_sentence_is_bold_and_query_words_are_highlighted(
    sample_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(sample_index, monkeypatch).run()
    at.text_input[0].input("Why did Haz take leave from law school?").run()
    passages = [m.value for m in at.markdown][1::2]
    law = next(p for p in passages[:3] if "leave of absence" in shown(p))
    bold = re.findall(r"(?<!\\)\*\*(.+?)(?<!\\)\*\*", law)
    assert len(bold) == 1 and "leave of absence from" in shown(bold[0])
    marked = re.findall(r"<mark [^>]*>(.*?)</mark>", law)
    assert "law" in marked and "school" in marked
    # Every hit has its best sentence in bold, not only the first few.
    for passage in passages:
        assert len(re.findall(r"(?<!\\)\*\*(.+?)(?<!\\)\*\*", passage)) == 1, passage[:80]


@pytest.mark.slow
def test_more_like_this_follows_a_chain_and_comes_back(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(sample_index, monkeypatch).run()
    at.text_input[0].input(QUESTION).run()
    first = searcher.search(QUESTION, k=10)[0]
    at.button(key=f"mlt-{first.passage_id}").click().run()
    assert not at.exception and at.subheader[0].value == "More like this"
    expected = searcher.similar(first.passage_id, k=10, other_documents_only=True)
    assert [p for _, p in hits(at)] == [h.text for h in expected]
    assert all(h.document_id != first.document_id for h in expected)
    at.button(key=f"mltlike-{expected[0].passage_id}").click().run()  # follow the chain
    assert any(
        f"passage {first.passage_id} → passage {expected[0].passage_id}" in c.value
        for c in at.caption
    )
    at.checkbox(key="same-document").check().run()
    again = searcher.similar(expected[0].passage_id, k=10)
    assert [p for _, p in hits(at)] == [h.text for h in again]
    assert at.query_params["like"] == f"{first.passage_id},{expected[0].passage_id}"
    at.button(key="back-one").click().run()
    assert [p for _, p in hits(at)] == [h.text for h in searcher.similar(first.passage_id, k=10)]
    assert at.query_params["like"] == str(first.passage_id)
    at.button(key="back-to-search").click().run()
    assert hits(at)[0][1] == FIRST_PASSAGE
    assert "like" not in at.query_params


@pytest.mark.slow
def test_a_shared_more_like_this_url_opens_on_its_trail(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = searcher.search(QUESTION, k=1)[0]
    second = searcher.similar(first.passage_id, k=1, other_documents_only=True)[0]
    at = app(sample_index, monkeypatch)
    at.query_params["like"] = f"{first.passage_id},{second.passage_id}"
    at.run()
    assert not at.exception and at.subheader[0].value == "More like this"
    expected = searcher.similar(second.passage_id, k=10, other_documents_only=True)
    assert [p for _, p in hits(at)] == [h.text for h in expected]
    at.button(key="back-one").click().run()  # the trail came whole, not just its end
    assert (
        next(p for _, p in hits(at))
        == searcher.similar(first.passage_id, k=1, other_documents_only=True)[0].text
    )
    # A passage that is no longer in the index: the error, then the search page.
    at = app(sample_index, monkeypatch)
    at.query_params["like"] = "999999"
    at.run()
    assert [e.value for e in at.error if "No passage with id 999999" in e.value]


@pytest.mark.slow
def test_more_like_this_names_its_passage_without_doubled_punctuation(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A title that ends in a full stop or an ellipsis takes no colon after it.
    for title, end in (("Interfering In Elections", ""), (FIRST_TITLE, ""), ("Haz:", ":")):
        document = next(d for d in searcher.documents() if d.title.startswith(title))
        seed = searcher.index.document_passages(document.id)[2]
        at = app(sample_index, monkeypatch)
        at.query_params["like"] = str(seed.id)
        at.run()
        caption = next(c.value for c in at.caption if c.value.startswith("Passage "))
        link = (
            f'<a href="read?doc={document.id}&amp;p=3" target="_self">{literal(document.title)}</a>'
        )
        assert caption == f"Passage {seed.id} of {link}{end}"  # "Title.", never "Title.:"


@pytest.mark.slow
def test_show_context_shows_the_neighbouring_passages(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(sample_index, monkeypatch).run()
    at.text_input[0].input(QUESTION).run()
    first = searcher.search(QUESTION, k=1)[0]
    at.toggle(key=f"ctx-{first.passage_id}").set_value(True).run()
    after = searcher.index.document_passages(first.document_id)[first.ordinal + 1]
    assert any(shown(c.value) == f"after (passage {after.id}): {after.text}" for c in at.caption)


@pytest.mark.slow
def test_an_answer_surfaced_by_the_interviewers_question_says_so(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "Can someone be both a communist and a believer in God?"
    at = app(sample_index, monkeypatch).run()
    at.text_input[0].input(question).run()
    found = searcher.search(question, k=10)
    notes = [shown(c.value) for c in at.caption if "answers the question" in c.value]
    assert notes == [
        f"{Path(h.source).name} · passage {h.passage_id} · answers the question above"
        for h in found
        if h.asked is not None
    ]
    assert notes  # the answer to the interviewer's question about religion is among them
    assert not any("the next passage answers it" in c.value for c in at.caption)


@pytest.mark.slow
def test_results_download_as_csv_and_json(
    sample_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(sample_index, monkeypatch).run()
    at.text_input[0].input(QUESTION).run()
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download CSV", "Download JSON"]


@pytest.mark.slow
def test_a_useless_query_gets_a_helpful_message(
    sample_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(sample_index, monkeypatch).run()
    at.text_input[0].input("?!? ...").run()
    assert not at.exception and not hits(at)
    assert [w.value for w in at.warning] == [
        "That query has no words to search for; type a question or some words."
    ]
    at.text_input[0].input("what is the").run()
    assert not at.exception and len(hits(at)) == 10
    assert any("hits are by meaning alone" in c.value for c in at.caption)


@pytest.mark.slow
def test_a_question_nothing_addresses_says_so_above_its_nearest_passages(
    sample_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(sample_index, monkeypatch).run()
    at.text_input[0].input("How do whales sleep?").run()
    assert not at.exception and len(hits(at)) == 10  # the nearest passages, all the same
    notes = [shown(i.value) for i in at.info]
    assert len(notes) == 1 and notes[0].startswith("No passage seems to address this")
    assert "under the silence floor" in notes[0]
    at.selectbox(key="mode").select("keyword").run()  # keyword hits contain its words or none
    assert not at.info
