"""The compare page: how each document treats a question, two documents side by side, shared points."""

from __future__ import annotations

import streamlit as st

from paraseek.compare import (
    FLOOR_PERCENTILE,
    NULL_QUESTIONS,
    align,
    silent_documents,
    talking_points,
)
from paraseek.errors import ParaseekError
from paraseek.search import Searcher
from ui.common import cached_floor, fingerprint, literal, searcher_or_stop, show_hit


def positions(searcher: Searcher) -> None:
    """A question, then each document's best passage, or a clear "doesn't address this"."""
    query = st.text_input(
        "A question to put to every document", value=st.query_params.get("cq", ""), key="cq",
        placeholder="e.g. Did Russia interfere in the US election?",
    )  # fmt: skip
    per_document = st.slider("Passages per document", 1, 3, 1, key="per_document")
    floor = cached_floor(str(searcher.index.path), fingerprint(searcher))
    with st.expander(f"Silence floor: {floor.score:.3f}: how it was set"):
        st.write(
            f"A document “doesn't address” a question when its best passage scores below "
            f"{floor.score:.3f}: the {FLOOR_PERCENTILE:g}th percentile of the best score each "
            f"document gives to {len(NULL_QUESTIONS)} questions on unrelated subjects "
            f"({floor.samples} samples), i.e. what a document scores by chance."
        )
        st.caption(" · ".join(NULL_QUESTIONS[:6]) + " …")
    if not query.strip():
        st.info("Type a question and press Enter to see how each document treats it.")
        return
    st.query_params["cq"] = query
    try:
        hits = searcher.compare(query, per_document=per_document)
    except ParaseekError as exc:
        st.error(literal(str(exc)))
        return
    silent = silent_documents(hits, floor.score)
    if silent and silent == {h.document_id for h in hits}:
        st.info(
            "No document addresses this question: every one's best passage scores under the floor."
        )
    for hit in hits:
        if hit.document_id not in silent:
            show_hit(hit, searcher, similar=False)
    for hit in (h for h in hits if h.rank == 1 and h.document_id in silent):
        with st.container(border=True):
            st.markdown(f"**{literal(hit.title)}** · doesn't address this")
            st.caption(f"best score {hit.score:.3f}, below the floor {floor.score:.3f}")
            with st.expander("Its closest passage, to check"):
                st.markdown(literal(" ".join(hit.text.split())))
                st.caption(f"passage {hit.passage_id}")


def side_by_side(searcher: Searcher) -> None:
    """Each paragraph of one document aligned to the closest paragraph of another."""
    documents = searcher.documents()
    if len(documents) < 2:
        st.info("Side by side needs at least two documents.")
        return
    titles = {d.id: d.title for d in documents}
    left, right, tune = st.columns([3, 3, 2])
    a = left.selectbox("Document", list(titles), format_func=lambda i: titles[i], key="doc_a")
    b = right.selectbox(
        "Against", [i for i in titles if i != a], format_func=lambda i: titles[i], key="doc_b"
    )
    threshold = tune.slider("Shared from similarity", 0.3, 0.95, 0.6, 0.05, key="shared")
    rows = align(searcher, a, b, threshold)
    shared = sum(r.shared for r in rows)
    st.caption(
        f"{shared} of {len(rows)} passages of the first document have a counterpart in the "
        f"second (cosine ≥ {threshold:.2f}); the rest are unique to it."
    )
    for row in rows:
        one, two = st.columns(2)
        mark = ":green-badge[shared]" if row.shared else ":gray-badge[unique]"
        one.markdown(f"{mark} {row.score:.2f}  \n{literal(row.passage.text)}")
        if row.match is not None:
            two.caption(literal(row.match.text))


def shared_points(searcher: Searcher) -> None:
    """Clusters of passages from different documents that say nearly the same thing."""
    threshold = st.slider("Similarity for a shared point", 0.4, 0.95, 0.6, 0.05, key="points")
    points = talking_points(searcher, threshold)
    titles = {d.id: d.title for d in searcher.documents()}
    if not points:
        st.info("No passages of different documents are that similar; lower the similarity.")
        return
    st.caption(
        f"{len(points)} shared talking points at cosine ≥ {threshold:.2f}, each named by the "
        "words most of its documents use and the rest of the collection rarely does."
    )
    for number, point in enumerate(points[:20], 1):
        words = ", ".join(point.words)
        with st.expander(
            f"Point {number} · {literal(words)} · {len(point.passages)} passages in "
            f"{point.documents} documents"
        ):
            for passage, score in point.passages:
                st.markdown(f"**{literal(titles[passage.document_id])}** · {score:.2f}")
                st.markdown(literal(passage.text))


searcher = searcher_or_stop()
ask, pair, points = st.tabs(
    ["Positions on a question", "Two documents side by side", "Shared talking points"]
)
with ask:
    positions(searcher)
with pair:
    side_by_side(searcher)
with points:
    shared_points(searcher)
