"""The explore page: a 2-D map of every passage and how alike the documents are."""

from __future__ import annotations

import html
import os
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from paraseek.search import DocumentInfo, Searcher
from ui.common import (
    literal,
    numbered,
    plural,
    searcher_or_stop,
    shorten,
    show_hit,
    title_link,
)

SIMILAR = 5  # passages from other documents shown for the chosen one
HOVER_CHARS = 200  # characters of a passage shown when hovering over its point
# What a browser draws at ease: a larger index maps an even sample of its passages, colours
# documents without a legend entry each, and lists its most alike documents instead of
# drawing every pair (5,183 documents made a 190 MB heatmap).
MAP_POINTS = 10_000
LEGEND_DOCUMENTS = 10  # one trace, legend entry and colour (Tableau's ten) per document
HEATMAP_DOCUMENTS = 25
ALIKE_PAIRS = 20


class Layout(TypedDict):
    """Everything the page draws, computed once per version of the index.

    A TypedDict, not a dataclass: st.cache_data pickles it, and a class defined in a page
    script cannot be pickled.
    """

    passages: int  # passages in the index
    passage_ids: list[int]  # the passages on the map (all, or MAP_POINTS of them), by id
    document_ids: list[str]  # the document of each, same order
    hover: list[str]  # plotly hover text of each, escaped
    choices: list[str]  # the fallback selectbox's label of each
    coords: np.ndarray | None  # (n, 2) float64 PCA coordinates; None when n < 2
    explained: tuple[float, float]  # share of the variance along each axis, 0 to 1
    documents: list[str]  # ids of the documents that have passages, in title order
    means: np.ndarray  # (m, d) float64 each document's mean vector, normalised
    pairs: list[tuple[int, int, float]]  # the most alike pairs (rows of means), if m is large
    comments: int  # passages left out of the means: comments (Hit.speaker)


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """The first two principal components of `vectors`.

    Args:
        vectors: shape (n, d) with n >= 2.

    Returns:
        (coords, explained): coords of shape (n, 2), float64, the first column along the
        direction of largest variance; explained, the share of the total variance along each
        axis (0 to 1). An axis the data has no variance along (to 1e-6 of the first) has
        coordinates 0 and share 0. Signs are fixed so that each axis's largest loading is
        positive, so the map does not flip between runs.

    Raises:
        ValueError: fewer than two vectors.
    """
    if vectors.ndim != 2 or vectors.shape[0] < 2:
        raise ValueError(f"PCA needs an (n, d) array with n >= 2, got shape {vectors.shape}.")
    centred = vectors.astype(np.float64) - vectors.mean(axis=0, dtype=np.float64)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    biggest = np.argmax(np.abs(vt), axis=1)
    signs = np.sign(vt[np.arange(len(vt)), biggest])
    signs[signs == 0] = 1.0
    coords = np.zeros((len(vectors), 2))
    # An axis with (numerically) no variance stays at 0 rather than plotting rounding noise.
    axes = int(np.sum(s[:2] > float(s[0]) * 1e-6))
    coords[:, :axes] = (u[:, :axes] * s[:axes]) * signs[:axes]
    total = float(np.sum(s**2))
    shares = [float(s[i] ** 2 / total) if i < axes else 0.0 for i in range(2)]
    return coords, (shares[0], shares[1])


def document_means(vectors: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Each group's mean vector, normalised to length 1: shape (len(groups), d), float64.

    Args:
        vectors: shape (n, d), one row per passage.
        groups: for each document, the row numbers of its passages (at least one each).
    """
    if not len(groups):
        return np.zeros((0, vectors.shape[1]))
    means = np.stack([vectors[list(rows)].astype(np.float64).mean(axis=0) for rows in groups])
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return np.asarray(means / np.where(norms > 0, norms, 1.0))


def document_similarity(vectors: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Cosine similarity of the groups' normalised mean vectors (see `document_means`).

    Returns:
        shape (len(groups), len(groups)), float64, symmetric, ones on the diagonal.
    """
    means = document_means(vectors, groups)
    return np.asarray(means @ means.T)


def alike_pairs(means: np.ndarray, count: int) -> list[tuple[int, int, float]]:
    """The `count` most alike pairs (i < j) of rows of `means` (unit rows): (i, j, cosine),
    most alike first; computed in blocks, so memory stays small for many documents."""
    m = len(means)
    block = max(1, 2**22 // max(m, 1))  # rows per block: at most 4M similarities at once
    found: list[tuple[float, int, int]] = []
    for begin in range(0, m, block):
        rows = np.arange(begin, min(begin + block, m))
        similarity = means[rows] @ means.T
        similarity[np.arange(m)[None, :] <= rows[:, None]] = -np.inf  # each pair once
        flat = similarity.ravel()
        top = min(count, int(np.isfinite(flat).sum()))
        for cell in np.argpartition(-flat, top - 1)[:top] if top else []:
            i, j = divmod(int(cell), m)
            found.append((float(flat[cell]), int(rows[i]), j))
    found.sort(key=lambda f: (-f[0], f[1], f[2]))
    return [(i, j, score) for score, i, j in found[:count]]


def hover_text(title: str, text: str, limit: int = HOVER_CHARS) -> str:
    """Plotly hover text: the title in bold, then the start of the passage, wrapped.

    Plotly renders a subset of HTML in hover labels, so the document's own text is escaped;
    only the <b> and <br> added here are live.
    """
    lines = textwrap.wrap(shorten(text, limit), 60) or [""]
    body = "<br>".join(html.escape(line, quote=False) for line in lines)
    return f"<b>{html.escape(shorten(title, 80), quote=False)}</b><br>{body}"


def unique_labels(titles: Sequence[str]) -> list[str]:
    """Shortened, HTML-escaped titles, numbered where two would be equal (plotly merges
    equal category labels into one row)."""
    return numbered([html.escape(shorten(title), quote=False) for title in titles])


def passage_from_selection(selection: Mapping[str, Any] | None) -> int | None:
    """The passage id of the first point of a plotly selection event, or None.

    The map puts each point's passage id in its customdata.
    """
    points = (selection or {}).get("points") or []
    for point in points:
        data = point.get("customdata")
        if isinstance(data, list | tuple):
            data = data[0] if data else None
        if data is not None:
            return int(data)
    return None


@st.cache_data(show_spinner="Laying out the passages…", max_entries=8)
def layout(
    path: str, fingerprint: tuple[tuple[str, str, int, str], ...], _searcher: Searcher
) -> Layout:
    """The map and the heatmap of the index at `path`.

    `fingerprint` is every (document id, content hash, passages, indexed_at): it changes
    whenever the index does, and with `path` it is the cache key (`_searcher` is not hashed).
    """
    documents = {d.id: d for d in _searcher.documents()}
    every = sorted(_searcher.passage_ids(list(documents)))
    passages = _searcher.passages(every)
    vectors = _searcher.vectors(every)  # shape (0, dimension) when there are none
    coords, explained = pca_2d(vectors) if len(every) >= 2 else (None, (0.0, 0.0))
    comments = _searcher.comment_ids()
    rows: dict[str, list[int]] = {}
    own: dict[str, list[int]] = {}  # a document's own words: its passages but comments
    for row, passage in enumerate(passages):
        rows.setdefault(passage.document_id, []).append(row)
        if passage.id not in comments:
            own.setdefault(passage.document_id, []).append(row)
    order = [d for d in documents if d in rows]  # title order, documents with passages
    means = document_means(vectors, [own.get(d) or rows[d] for d in order])
    shown = np.arange(len(every))
    if len(every) > MAP_POINTS:  # an even sample, the same at every run
        shown = np.sort(np.random.default_rng(0).choice(len(every), MAP_POINTS, replace=False))
    drawn = [passages[r] for r in shown]
    titles = [documents[p.document_id].title for p in drawn]
    return Layout(
        passages=len(every),
        passage_ids=[int(p.id or 0) for p in drawn],
        document_ids=[p.document_id for p in drawn],
        hover=[hover_text(t, p.text) for t, p in zip(titles, drawn, strict=True)],
        choices=[
            f"{p.id} · {shorten(t)} · {shorten(p.text, 60)}"
            for t, p in zip(titles, drawn, strict=True)
        ],
        coords=None if coords is None else coords[shown],
        explained=explained,
        documents=order,
        means=means,
        pairs=alike_pairs(means, ALIKE_PAIRS) if len(order) > HEATMAP_DOCUMENTS else [],
        comments=len(comments),
    )


def passage_map(data: Layout, documents: Mapping[str, DocumentInfo]) -> go.Figure:
    """The scatter plot: one trace per document, one point per passage."""
    assert data["coords"] is not None
    figure = go.Figure()
    names = unique_labels([documents[d].title for d in data["documents"]])
    # Tableau's ten colours, each unlike the others (Streamlit's own come in light/dark pairs).
    colours = qualitative.T10
    number = {d: n for n, d in enumerate(data["documents"])}
    rows: dict[str, list[int]] = {}
    for row, document in enumerate(data["document_ids"]):
        rows.setdefault(document, []).append(row)
    few = len(data["documents"]) <= LEGEND_DOCUMENTS
    # Past a few documents, one trace: a trace per document is slow to draw past a few dozen.
    groups = (
        [(d, rows.get(d, [])) for d in data["documents"]]
        if few
        else [("", list(range(len(data["passage_ids"]))))]
    )
    for document, members in groups:
        figure.add_trace(
            go.Scatter(
                x=data["coords"][members, 0].tolist(),
                y=data["coords"][members, 1].tolist(),
                mode="markers",
                name=names[number[document]] if few else "passages",
                showlegend=few,
                customdata=[data["passage_ids"][i] for i in members],
                hovertext=[data["hover"][i] for i in members],
                hoverinfo="text",
                marker={
                    "size": 8 if few else 5, "opacity": 0.8,
                    "color": colours[number[document] % len(colours)] if few else [
                        colours[number[data["document_ids"][i]] % len(colours)] for i in members
                    ],
                },
            )
        )  # fmt: skip
    first, second = data["explained"]
    figure.update_layout(
        height=560,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},  # room for the toolbar above the legend
        xaxis_title=f"PC 1 ({first:.0%})",
        yaxis_title=f"PC 2 ({second:.0%})",
        legend_title_text="Document",
        clickmode="event+select",
    )
    return figure


def heatmap(
    data: Layout, documents: Mapping[str, DocumentInfo], chosen: Sequence[str] | None = None
) -> go.Figure:
    """The document-by-document similarity heatmap, values to 2 decimals.

    Args:
        chosen: the documents to draw (ids, in `data["documents"]`); None means all.
    """
    order = data["documents"] if chosen is None else [d for d in data["documents"] if d in chosen]
    labels = unique_labels([documents[d].title for d in order])
    number = {d: n for n, d in enumerate(data["documents"])}
    means = data["means"][[number[d] for d in order]]
    figure = go.Figure(
        go.Heatmap(
            z=(means @ means.T).round(4).tolist(),
            x=labels,
            y=labels,
            texttemplate="%{z:.2f}",
            hovertemplate="%{y}<br>%{x}<br>similarity %{z:.2f}<extra></extra>",
            colorscale="Viridis",
            zmax=1.0,
        )
    )
    figure.update_layout(
        height=150 + 40 * len(labels),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},  # the toolbar above, not over a cell
        yaxis_autorange="reversed",
    )
    return figure


def select_from_map() -> None:
    """on_select of the map: the clicked point becomes the chosen passage."""
    chosen = passage_from_selection(st.session_state.get("map", {}).get("selection"))
    if chosen is not None:
        st.session_state["passage"] = chosen


def show_passage(
    searcher: Searcher, passage_id: int, documents: Mapping[str, DocumentInfo]
) -> None:
    """The chosen passage, then the passages most like it in other documents."""
    passage = searcher.passages([passage_id])[0]
    document = documents[passage.document_id]
    with st.container(border=True):
        title = title_link(document.title, document.id, passage.ordinal + 1)
        st.markdown(
            f"**{title}** · chosen passage, {passage.ordinal + 1} of "
            f"{document.passages} in its document",
            unsafe_allow_html=True,
        )
        for line in passage.context.split("\n")[1:]:
            st.caption(literal(line))
        st.markdown(literal(passage.text))
        st.caption(f"{literal(os.path.basename(document.path))} · passage {passage_id}")
    st.subheader("Most alike in other documents")
    hits = searcher.similar(passage_id, SIMILAR, other_documents_only=True)
    if not hits:
        st.info("No other document to compare it with.")
    for hit in hits:
        show_hit(hit)


def main() -> None:
    searcher = searcher_or_stop()
    documents = {d.id: d for d in searcher.documents()}
    fingerprint = tuple(
        (d.id, d.content_hash, d.passages, d.indexed_at) for d in documents.values()
    )
    data = layout(str(searcher.path.resolve()), fingerprint, searcher)
    count = data["passages"]
    if not count:
        st.info("The index has no passages yet; index some documents first.")
        return
    if data["coords"] is None:
        st.info(f"The map needs at least two passages; the index has {plural(count, 'passage')}.")
    else:
        first, second = data["explained"]
        sample = (
            f" It shows {len(data['passage_ids']):,} of them, an even sample."
            if len(data["passage_ids"]) < count else ""
        )  # fmt: skip
        colours = (
            " Past ten documents, colours repeat: hover a point for its document."
            if len(data["documents"]) > LEGEND_DOCUMENTS else ""
        )  # fmt: skip
        st.caption(
            f"PCA of the embeddings of {plural(count, 'passage')}: the two axes explain "
            f"{first:.0%} and {second:.0%} of the variance ({first + second:.0%} together)."
            f"{sample}{colours}"
        )
        st.plotly_chart(
            passage_map(data, documents), on_select=select_from_map,
            selection_mode="points", key="map",
        )  # fmt: skip
    labels = dict(zip(data["passage_ids"], data["choices"], strict=True))
    # The map's on_select sets this same widget, so a click and a choice here share one path.
    chosen = st.selectbox(
        "Passage", data["passage_ids"], index=None, key="passage", format_func=labels.__getitem__,
        placeholder="Click a point on the map, or choose a passage here",
    )  # fmt: skip
    if chosen in labels:  # not a passage id left over from before a re-index
        show_passage(searcher, int(chosen), documents)
    st.subheader("How alike the documents are")
    if len(data["documents"]) < 2:
        st.info("The heatmap needs at least two documents; the index has one.")
        return
    left_out = (
        f" Comments ({plural(data['comments'], 'passage')} under a line like “Anonymous "
        "said...”) are left out: they are not their document's own words."
        if data["comments"]
        else ""
    )
    st.caption(
        "Similarity of two documents: the cosine of their mean passage embeddings, each mean "
        f"normalised to length 1 (1 on the diagonal).{left_out}"
    )
    drawn = None
    if len(data["documents"]) > HEATMAP_DOCUMENTS:
        drawn = alike_documents(data, documents)
        if len(drawn) < 2:
            st.info("Choose two documents or more for the heatmap.")
            return
    st.plotly_chart(heatmap(data, documents, drawn), key="heatmap")


def alike_documents(data: Layout, documents: Mapping[str, DocumentInfo]) -> list[str]:
    """For many documents: the most alike pairs as a table, and the documents to draw in the
    heatmap (at most HEATMAP_DOCUMENTS; at first those of the pairs at the top of the table)."""
    order = data["documents"]
    st.caption(
        f"The {len(order):,} documents are too many for one heatmap: here are the "
        f"{len(data['pairs'])} most alike pairs, and the heatmap draws the documents you choose."
    )
    st.dataframe(
        pd.DataFrame(
            {"similarity": [round(score, 4) for _, _, score in data["pairs"]],
             "document": [documents[order[i]].title for i, _, _ in data["pairs"]],
             "most alike": [documents[order[j]].title for _, j, _ in data["pairs"]]}
        ),
        hide_index=True, key="alike",
        column_config={"similarity": st.column_config.NumberColumn(format="%.2f")},
    )  # fmt: skip
    first = list(dict.fromkeys(order[k] for i, j, _ in data["pairs"] for k in (i, j)))[:10]
    return st.multiselect(
        "Documents in the heatmap", order, default=first, key="heatmap_documents",
        format_func=lambda d: documents[d].title, max_selections=HEATMAP_DOCUMENTS,
    )  # fmt: skip


if __name__ == "__main__":  # Streamlit runs pages as __main__; tests import the helpers
    main()
