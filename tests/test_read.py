"""The Read page (ui/read.py), run in-process with AppTest on the real model and index."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from paraseek.embedder import Embedder
from paraseek.index import Writer
from paraseek.search import Searcher
from ui.read import WINDOW

from .conftest import INTERVIEW, ROOT

APP = str(ROOT / "app.py")
HAZ_QUESTION = "Who is Haz?"
SKULL_TEXT = "The crowd chanted :skull: and :material/home: at the <b>gate</b> & left."
PASSAGE = re.compile(r'<div id="p(\d+)" class="([^"]*)" data-passage="(\d+)">')


def read(index: Path, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    """The app on the Read page with these URL parameters, run once."""
    monkeypatch.setenv("PARASEEK_INDEX", str(index))
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page("ui/read.py")
    return at.run()


def drawn(at: AppTest) -> str:
    """The HTML of the document's body (one st.html block)."""
    blocks = [e.proto.body for e in at.get("html")]
    assert len(blocks) == 1
    return str(blocks[0])


def interview(searcher: Searcher) -> str:
    return next(d.id for d in searcher.documents() if d.path == str(INTERVIEW))


@pytest.mark.slow
def test_a_passage_opens_highlighted_with_the_documents_metadata(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = interview(searcher)
    passages = searcher.document_passages(doc)
    at = read(sample_index, monkeypatch, doc=doc, p="66")
    assert not at.exception and not at.error
    info = searcher.document(doc)
    assert [h.value for h in at.header] == ["Haz\\: what is MAGA Communism"]
    assert at.caption[0].value.endswith(f"004\\_04f89b89d737b294\\.txt · {info.passages} passages")
    body = drawn(at)
    found = PASSAGE.findall(body)
    # The first window of passages, numbered from 1 in order, each anchored by its number.
    assert [int(n) for n, _, _ in found] == list(range(1, WINDOW + 1))
    assert [int(i) for _, _, i in found] == [p.id for p in passages[:WINDOW]]
    assert [n for n, c, _ in found if "ps-target" in c] == ["66"]
    assert "scrollIntoView" in body and "'p66'" in body
    # Every passage's text exactly as written (html-escaped, nothing else changed).
    for passage in passages[:WINDOW]:
        assert html.escape(passage.text) in body
    # The interview's section headings and its interviewer's questions, as such.
    assert '<h4 class="ps-heading">I. Introduction</h4>' in body
    assert '<p class="ps-ask">- Tell Us about yourself, a brief biography.</p>' in body


@pytest.mark.slow
def test_a_long_document_is_drawn_a_window_at_a_time(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = interview(searcher)
    count = len(searcher.document_passages(doc))
    assert count > WINDOW  # the interview is long enough to need a second window
    at = read(sample_index, monkeypatch, doc=doc, p=str(count))
    found = PASSAGE.findall(drawn(at))
    assert [int(n) for n, _, _ in found] == list(range(WINDOW + 1, count + 1))
    assert [n for n, c, _ in found if "ps-target" in c] == [str(count)]
    assert f"Passages {WINDOW + 1:,} to {count:,} of {count:,}" in [c.value for c in at.caption]
    earlier = [m.value for m in at.markdown if "Earlier passages" in m.value]
    assert earlier and f"doc={doc}&amp;p={count}&amp;page=1" in earlier[0]


@pytest.mark.slow
def test_the_querys_hits_are_marked_and_the_way_back_keeps_the_query(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = interview(searcher)
    at = read(sample_index, monkeypatch, doc=doc, p="4", q=HAZ_QUESTION)
    assert not at.exception
    expected = searcher.search(HAZ_QUESTION, 10, documents=[doc])
    marked = {int(i) for _, c, i in PASSAGE.findall(drawn(at)) if "ps-hit" in c}
    assert marked == {h.passage_id for h in expected if h.ordinal < WINDOW}
    assert '<a href="./?q=Who+is+Haz%3F" target="_self">← Back to the search</a>' in [
        m.value for m in at.markdown
    ]


@pytest.mark.slow
def test_comments_are_set_apart_with_their_speaker(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    blog = next(d.id for d in searcher.documents() if d.path.endswith("002_068334134ee8bc4f.txt"))
    at = read(sample_index, monkeypatch, doc=blog)
    body = drawn(at)
    assert '<p class="ps-who">comment by Anonymous</p>' in body
    passages = searcher.document_passages(blog)
    comments = searcher.comment_ids()
    said = {int(i) for _, c, i in PASSAGE.findall(body) if "ps-said" in c}
    assert said == {p.id for p in passages if p.id in comments} and said


@pytest.mark.slow
def test_unknown_documents_and_passages_get_a_message(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = read(sample_index, monkeypatch, doc="no-such-document")
    assert not at.exception
    assert len(at.error) == 1 and "no\\-such\\-document" in at.error[0].value
    doc = interview(searcher)
    at = read(sample_index, monkeypatch, doc=doc, p="99999")
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "There is no passage 99999 in this document; its passages are numbered 1 to "
        f"{len(searcher.document_passages(doc))}\\."
    ]
    at = read(sample_index, monkeypatch, doc=doc, p="3", q="why " * 600)
    assert not at.exception and len(at.get("html")) == 1  # the page, without marks
    assert [w.value for w in at.warning] == [
        "The query is 2399 characters long; the limit is 2000\\."  # stripped, as searched
    ]


@pytest.mark.slow
def test_every_hit_title_links_to_its_passage_on_the_read_page(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARASEEK_INDEX", str(sample_index))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["q"] = HAZ_QUESTION
    at.run()
    links = re.findall(r'<a href="read\?doc=(\w+)&amp;p=(\d+)&amp;q=([^"]*)"', at.markdown[0].value)
    first = searcher.search(HAZ_QUESTION, 10)[0]
    assert links == [(first.document_id, str(first.ordinal + 1), "Who+is+Haz%3F")]


@pytest.mark.slow
def test_document_text_is_shown_exactly_as_written(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "skull.txt").write_text(f"Gate notes\n\n{SKULL_TEXT}\n", encoding="utf-8")
    index = tmp_path / "index"
    with Writer(index, embedder) as writer:
        writer.update([folder])
    # On the Read page: html-escaped, no Markdown, no emoji shortcodes.
    at = read(index, monkeypatch, doc="skull")
    assert html.escape(SKULL_TEXT) in drawn(at)
    # In a hit: every ":" escaped, so Streamlit draws no emoji or icon.
    monkeypatch.setenv("PARASEEK_INDEX", str(index))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["q"] = "what did the crowd chant at the gate"
    at.run()
    passage = next(m.value for m in at.markdown if "chanted" in m.value)
    assert re.sub(r"<[^>]*>", "", passage).count("\\:") == 4
    assert not re.search(r"(?<!\\):", re.sub(r"<[^>]*>", "", passage))
