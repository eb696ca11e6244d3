"""The explore page: its PCA and similarity helpers, and the page run with AppTest."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from paraseek.embedder import Embedder
from paraseek.index import Index, Writer
from paraseek.search import Searcher
from ui import explore as page
from ui.common import literal
from ui.explore import (
    alike_pairs,
    document_similarity,
    hover_text,
    passage_from_selection,
    pca_2d,
    shorten,
    unique_labels,
)

from .conftest import ROOT, SAMPLE

APP = str(ROOT / "app.py")
PAGE = "ui/explore.py"
HOSTILE_TITLE = "Notes <script>alert(1)</script> & <b>more</b>"
HOSTILE_TEXT = "Plain words with <script>alert(1)</script> and <a href='x'>a link</a> & **bold**."


def explore(index: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The app on `index`, switched to the explore page and run."""
    monkeypatch.setenv("PARASEEK_INDEX", str(index))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert not at.error
    return at


def charts(at: AppTest) -> dict[str | None, dict[str, Any]]:
    """The page's plotly figures as JSON, by element key."""
    return {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def build(tmp_path: Path, embedder: Embedder, files: dict[str, str]) -> Path:
    """An index of a folder holding `files` (name -> text)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    index = tmp_path / "index"
    with Writer(index, embedder) as writer:
        writer.update([folder])
    return index


def all_vectors(searcher: Searcher) -> tuple[list[int], np.ndarray]:
    ids = sorted(searcher.index.passage_ids([d.id for d in searcher.documents()]))
    return ids, searcher.index.vectors(ids)


# --- helpers ---------------------------------------------------------------------------


def test_pca_2d_matches_the_top_eigenvectors_of_the_covariance() -> None:
    rng = np.random.default_rng(7)
    # Three directions of clearly different spread, plus noise, shifted off the origin.
    vectors = rng.normal(size=(200, 6)) * np.array([5.0, 0.1, 2.0, 0.3, 0.2, 0.1]) + 3.0
    coords, explained = pca_2d(vectors.astype(np.float32))
    assert coords.shape == (200, 2)
    centred = vectors - vectors.mean(axis=0)
    values, eigenvectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    top = eigenvectors[:, ::-1][:, :2]
    expected = centred @ top
    for axis in range(2):  # an eigenvector's sign is arbitrary
        sign = np.sign(expected[:, axis] @ coords[:, axis])
        np.testing.assert_allclose(coords[:, axis], sign * expected[:, axis], atol=1e-3)
    variances = coords.var(axis=0)
    assert variances[0] > variances[1] > 0
    np.testing.assert_allclose(explained, values[::-1][:2] / values.sum(), rtol=1e-5)
    assert abs(np.corrcoef(coords.T)[0, 1]) < 1e-6  # the axes are uncorrelated


@pytest.mark.slow
def test_pca_2d_of_the_sample_passages_orders_the_axes_by_variance(searcher: Searcher) -> None:
    ids, vectors = all_vectors(searcher)
    coords, (first, second) = pca_2d(vectors)
    assert coords.shape == (len(ids), 2)
    assert coords.var(axis=0)[0] >= coords.var(axis=0)[1]
    assert 1 > first >= second > 0
    np.testing.assert_allclose(coords.mean(axis=0), 0, atol=1e-6)


def test_pca_2d_of_two_points_has_one_axis_and_of_one_point_refuses() -> None:
    coords, explained = pca_2d(np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    assert coords.shape == (2, 2)
    np.testing.assert_allclose(explained, (1.0, 0.0), atol=1e-12)
    np.testing.assert_allclose(abs(coords[:, 0]), np.sqrt(0.5))
    np.testing.assert_allclose(coords[:, 1], 0, atol=1e-12)
    # Two real float32 embeddings: the second axis is exactly 0, not rounding noise.
    two = np.array([[0.6, 0.8, 0.0], [0.0, 0.6, 0.8]], dtype=np.float32)
    coords, explained = pca_2d(two)
    assert explained[1] == 0.0 and not coords[:, 1].any()
    coords, explained = pca_2d(np.ones((3, 4)))  # no variance at all
    assert explained == (0.0, 0.0) and not coords.any()
    with pytest.raises(ValueError, match=r"n >= 2, got shape \(1, 3\)"):
        pca_2d(np.ones((1, 3)))


def test_document_similarity_is_the_cosine_of_the_mean_vectors() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    similarity = document_similarity(vectors, [[0, 1], [2], [3]])
    diagonal = np.sqrt(0.5)
    expected = [[1, diagonal, -diagonal], [diagonal, 1, -1], [-diagonal, -1, 1]]
    np.testing.assert_allclose(similarity, expected, atol=1e-12)


def test_hover_text_escapes_the_document_and_keeps_its_own_markup() -> None:
    text = hover_text(HOSTILE_TITLE, HOSTILE_TEXT)
    assert "<script" not in text and "<a " not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;a href='x'&gt;" in text and " &amp; " in text
    assert re.findall(r"<[^>]*>", text) == ["<b>", "</b>", "<br>", "<br>"]
    long = hover_text("T", "word " * 100)
    assert long.endswith("…") and len(long.replace("<br>", " ")) < 220


def test_labels_are_shortened_escaped_and_unique() -> None:
    assert shorten("  a\nb  ") == "a b"
    assert shorten("x" * 40) == "x" * 29 + "…"
    assert unique_labels(["Same", "Same", "<i>"]) == ["Same", "Same (2)", "&lt;i&gt;"]


def test_the_passage_id_comes_from_the_selected_points_customdata() -> None:
    point = {"curve_number": 1, "point_number": 3, "point_index": 3, "x": 0.1, "y": 0.2}
    assert passage_from_selection({"points": [{**point, "customdata": 42}]}) == 42
    assert passage_from_selection({"points": [{**point, "customdata": [7]}]}) == 7
    assert passage_from_selection({"points": [], "box": [], "lasso": []}) is None
    assert passage_from_selection(None) is None


# --- the page ----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_map_has_one_point_per_passage_and_one_trace_per_document(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = explore(sample_index, monkeypatch)
    documents = searcher.documents()
    ids, vectors = all_vectors(searcher)
    figure = charts(at)["map"]
    traces = figure["data"]
    assert [t["type"] for t in traces] == ["scatter"] * len(documents) == ["scatter"] * 5
    assert [t["name"] for t in traces] == [shorten(d.title) for d in documents]
    assert [len(t["x"]) for t in traces] == [d.passages for d in documents]
    assert sorted(i for t in traces for i in t["customdata"]) == ids
    # Every point sits at its passage's PCA coordinates.
    coords, (first, second) = pca_2d(vectors)
    row = {pid: r for r, pid in enumerate(ids)}
    for trace in traces:
        rows = [row[i] for i in trace["customdata"]]
        np.testing.assert_allclose(trace["x"], coords[rows, 0], atol=1e-6)
        np.testing.assert_allclose(trace["y"], coords[rows, 1], atol=1e-6)
    haz = traces[[d.title for d in documents].index("Haz: what is MAGA Communism")]
    assert haz["hovertext"][0].startswith("<b>Haz: what is MAGA Communism</b><br>")
    assert at.caption[0].value == (
        f"PCA of the embeddings of {len(ids)} passages: the two axes explain {first:.0%} and "
        f"{second:.0%} of the variance ({first + second:.0%} together)."
    )


@pytest.mark.slow
def test_the_heatmap_compares_every_document_with_every_other(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = explore(sample_index, monkeypatch)
    documents = searcher.documents()
    (heatmap,) = charts(at)["heatmap"]["data"]
    assert heatmap["type"] == "heatmap"
    assert heatmap["texttemplate"] == "%{z:.2f}"
    labels = [shorten(d.title) for d in documents]
    assert heatmap["x"] == heatmap["y"] == labels
    z = np.array(heatmap["z"])
    assert z.shape == (5, 5)
    np.testing.assert_allclose(np.diag(z), 1.0, atol=1e-4)
    np.testing.assert_allclose(z, z.T, atol=1e-4)
    comments = searcher.index.comment_ids()  # the blog post's reader comments: not its words
    own = [[i for i in searcher.index.passage_ids([d.id]) if i not in comments] for d in documents]
    means = np.stack([searcher.index.vectors(ids).mean(axis=0) for ids in own])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    np.testing.assert_allclose(z, means @ means.T, atol=1e-4)
    assert z[~np.eye(5, dtype=bool)].max() < 0.99  # distinct documents are not identical
    assert "cosine of their mean passage embeddings" in at.caption[1].value
    assert "Comments (13 passages under a line like" in at.caption[1].value


@pytest.mark.slow
def test_choosing_a_passage_shows_it_and_the_most_alike_from_other_documents(
    sample_index: Path, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = explore(sample_index, monkeypatch)
    assert not at.subheader[:-1]  # nothing chosen yet: only the heatmap's heading
    haz = next(d for d in searcher.documents() if d.title == "Haz: what is MAGA Communism")
    chosen = sorted(searcher.index.passage_ids([haz.id]))[3]
    passage = searcher.index.passages([chosen])[0]
    at.selectbox(key="passage").select(chosen).run()
    assert not at.exception
    markdown = [m.value for m in at.markdown]
    assert markdown[0] == (
        f'**<a href="read?doc={haz.id}&amp;p=4" target="_self">{literal(haz.title)}</a>** · '
        f"chosen passage, 4 of {haz.passages} in its document"
    )
    assert markdown[1] == literal(passage.text)
    assert at.subheader[0].value == "Most alike in other documents"
    expected = searcher.similar(chosen, 5, other_documents_only=True)
    assert len(expected) == 5
    shown = markdown[2:12]
    assert shown[1::2] == [literal(h.text) for h in expected]
    for line, hit in zip(shown[0::2], expected, strict=True):
        link = f'<a href="read?doc={hit.document_id}&amp;p={hit.ordinal + 1}" target="_self">'
        assert line.startswith(f"**{link}{literal(hit.title)}</a>**")
        said = f" · :violet-badge[comment by {hit.speaker}]" if hit.speaker else ""
        assert line.endswith(f"score {hit.score:.3f}{said}")  # a reader's comment says so
        assert hit.title != haz.title
    assert [c.value for c in at.caption if c.value.endswith(f"passage {chosen}")]


@pytest.mark.slow
def test_a_one_document_index_has_a_map_but_no_heatmap(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(SAMPLE / "003_1416103580240b3d.txt", folder)
    index = tmp_path / "index"
    with Writer(index, embedder) as writer:
        writer.update([folder])
    at = explore(index, monkeypatch)
    (trace,) = charts(at)["map"]["data"]
    assert len(trace["x"]) >= 2
    assert "heatmap" not in charts(at)
    assert [i.value for i in at.info] == [
        "The heatmap needs at least two documents; the index has one."
    ]
    at.selectbox(key="passage").select(trace["customdata"][0]).run()
    assert not at.exception
    assert at.info[0].value == "No other document to compare it with."


@pytest.mark.slow
def test_a_one_passage_index_says_the_map_needs_two(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = build(tmp_path, embedder, {"one.txt": "Just one short line about apples.\n"})
    at = explore(index, monkeypatch)
    assert not charts(at)
    assert at.info[0].value == "The map needs at least two passages; the index has 1 passage."
    (only,) = at.selectbox(key="passage").options
    at.selectbox(key="passage").select(1).run()
    assert not at.exception
    assert "Just one short line about apples\\." in [m.value for m in at.markdown]
    assert only.startswith("1 · ")


@pytest.mark.slow
def test_an_empty_index_says_so(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    Writer(index, embedder).close()  # created, nothing indexed yet
    at = explore(index, monkeypatch)
    assert [i.value for i in at.info] == [
        "The index has no passages yet; index some documents first."
    ]
    assert not charts(at) and not at.selectbox


@pytest.mark.slow
def test_html_in_documents_is_escaped_on_the_charts(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = build(
        tmp_path, embedder,
        {
            "hostile.txt": f"{HOSTILE_TITLE}\n\n{HOSTILE_TEXT}\n",
            "plain.txt": "Apples\n\nApples grow on trees in orchards.\n",
        },
    )  # fmt: skip
    at = explore(index, monkeypatch)
    figures = charts(at)
    spec = json.dumps(figures)
    assert "<script" not in spec and "<a " not in spec
    traces = figures["map"]["data"]
    hostile = next(t for t in traces if "Notes" in t["name"])
    assert hostile["name"] == "Notes &lt;script&gt;alert(1)&lt;/scrip…"
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in h for h in hostile["hovertext"])
    assert "Notes &lt;script&gt;alert(1)&lt;/scrip…" in figures["heatmap"]["data"][0]["x"]
    pairs = [pair for t in traces for pair in zip(t["customdata"], t["hovertext"], strict=True)]
    body = next(i for i, hover in pairs if "Plain words" in hover)
    at.selectbox(key="passage").select(body).run()
    assert literal(HOSTILE_TEXT) in [m.value for m in at.markdown]


def test_alike_pairs_are_the_most_similar_pairs_of_documents() -> None:
    rng = np.random.default_rng(7)
    means = rng.normal(size=(57, 16))
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    similarity = means @ means.T
    every = sorted(
        ((float(similarity[i, j]), i, j) for i in range(57) for j in range(i + 1, 57)),
        key=lambda p: -p[0],
    )
    found = alike_pairs(means, 20)
    assert [(i, j) for i, j, _ in found] == [(i, j) for _, i, j in every[:20]]
    np.testing.assert_allclose([s for _, _, s in found], [s for s, _, _ in every[:20]])
    assert len(alike_pairs(means[:4], 20)) == 6  # every pair, when there are fewer
    assert alike_pairs(means[:1], 20) == []


def _means(searcher: Searcher, documents: list[str]) -> np.ndarray:
    means = np.stack(
        [searcher.index.vectors(searcher.index.passage_ids([d])).mean(axis=0) for d in documents]
    )
    return means / np.linalg.norm(means, axis=1, keepdims=True)


@pytest.mark.slow
def test_many_documents_share_one_trace_and_list_their_most_alike_pairs(
    many_index: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ten documents the map is one trace, coloured per point; past 25 the page lists
    the most alike pairs and draws the heatmap of the documents chosen, not of every pair."""
    searcher = Searcher(Index(many_index), embedder)
    documents = searcher.documents()
    at = explore(many_index, monkeypatch)
    (trace,) = charts(at)["map"]["data"]
    assert len(trace["customdata"]) == 45 and trace["showlegend"] is False
    assert len(set(trace["marker"]["color"])) == 10  # Tableau's ten, repeating
    assert "Past ten documents, colours repeat" in at.caption[0].value
    ids = [d.id for d in documents]
    means = _means(searcher, ids)
    expected = alike_pairs(means, 20)
    table = at.dataframe[0].value
    assert list(table["document"]) == [documents[i].title for i, _, _ in expected]
    assert list(table["most alike"]) == [documents[j].title for _, j, _ in expected]
    np.testing.assert_allclose(table["similarity"], [s for _, _, s in expected], atol=1e-4)
    assert list(table["similarity"]) == sorted(table["similarity"], reverse=True)
    (chooser,) = [m for m in at.multiselect if m.label == "Documents in the heatmap"]
    first = list(dict.fromkeys(ids[k] for i, j, _ in expected for k in (i, j)))[:10]
    assert chooser.value == first
    (heatmap,) = charts(at)["heatmap"]["data"]
    drawn = [d for d in ids if d in first]
    assert heatmap["x"] == [shorten(documents[ids.index(d)].title) for d in drawn]
    rows = [ids.index(d) for d in drawn]
    np.testing.assert_allclose(heatmap["z"], means[rows] @ means[rows].T, atol=1e-4)
    chooser.set_value(first[:1]).run()
    assert "heatmap" not in charts(at)
    assert any(i.value == "Choose two documents or more for the heatmap." for i in at.info)


@pytest.mark.slow
def test_a_large_index_maps_an_even_sample_of_its_passages(
    many_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(page, "MAP_POINTS", 20)
    index = Index(many_index)
    every = sorted(index.passage_ids([d.id for d in index.documents()]))
    data = page.layout.__wrapped__(str(many_index), (), index)  # type: ignore[attr-defined]
    again = page.layout.__wrapped__(str(many_index), (), index)  # type: ignore[attr-defined]
    assert data["passages"] == len(every) == 45
    assert len(data["passage_ids"]) == 20 and data["passage_ids"] == again["passage_ids"]
    assert data["passage_ids"] == sorted(data["passage_ids"]) and set(data["passage_ids"]) < set(
        every
    )
    coords, _ = pca_2d(index.vectors(every))  # the map of all passages, sampled
    rows = [every.index(i) for i in data["passage_ids"]]
    np.testing.assert_allclose(data["coords"], coords[rows], atol=1e-9)
    assert len(data["means"]) == 45 and len(data["pairs"]) == page.ALIKE_PAIRS
