"""The search page: a question, filters in the URL, hits with their best sentence emphasised."""

from __future__ import annotations

import re

import streamlit as st

from paraseek.compare import closest_score, far_note
from paraseek.errors import ParaseekError
from paraseek.search import MODES, Hit, Searcher, query_terms
from ui.common import (
    by_author,
    cached_floor,
    colon_after,
    downloads,
    fingerprint,
    group_duplicates,
    literal,
    plural,
    searcher_or_stop,
    show_hit,
    title_link,
)


@st.cache_data(max_entries=128, show_spinner=False)
def explained_search(
    index: str, generation: int, query: str, k: int, mode: str, documents: tuple[str, ...]
) -> list[Hit]:
    """Hits with their best sentences, cached per index version: widgets that do not change
    the search (a toggle, "show context") rerun the page without searching again."""
    searcher = searcher_or_stop()
    hits = searcher.search(query, k=k, documents=list(documents) or None, mode=mode)
    # Each hit's best sentence comes from its stored sentence vectors (milliseconds for all).
    return searcher.explain(query, hits)


@st.cache_data(max_entries=128, show_spinner=False)
def cached_closest(
    index: str, generation: int, query: str, documents: tuple[str, ...]
) -> float | None:
    """The cosine of the passage closest to the query in meaning (see compare.closest_score)."""
    return closest_score(searcher_or_stop(), query, list(documents) or None)


def step_back(trail: list[int]) -> None:
    """Drop the last passage of the more-like-this trail."""
    trail.pop()


def more_like_this(searcher: Searcher, trail: list[int]) -> None:
    """Passages like the last of the trail, with the trail shown and a way back."""
    try:
        seed = searcher.passages([trail[-1]])[0]
    except ParaseekError as exc:
        st.error(literal(str(exc)))
        trail.clear()
        return
    st.button("← Back to the search", on_click=trail.clear, key="back-to-search")
    if len(trail) > 1:
        st.button("← Back one step", on_click=step_back, args=(trail,), key="back-one")
        st.caption("Trail: " + " → ".join(f"passage {p}" for p in trail))
    st.subheader("More like this")
    include_same = st.checkbox("Include the same document", key="same-document")
    similar = searcher.similar(seed.id or 0, k=10, other_documents_only=not include_same)
    title = searcher.document_infos([seed.document_id])[seed.document_id].title
    link = title_link(title, seed.document_id, seed.ordinal + 1)
    st.caption(f"Passage {seed.id} of {link}{colon_after(title)}", unsafe_allow_html=True)
    st.caption(literal(seed.text))
    for hit in similar:
        show_hit(hit, searcher, key="like")


def shared_trail(trail: list[int]) -> None:
    """Keep the more-like-this trail in the URL (`like=12,40`), so it can be shared.

    A page opened on such a URL starts on that trail; from then on the trail leads and the
    URL follows it (back to the search drops the parameter).
    """
    if not st.session_state.get("trail_read"):
        st.session_state["trail_read"] = True
        wanted = st.query_params.get("like", "").split(",")
        trail[:] = trail or [int(p) for p in wanted if p.isdigit()][:50]
    if trail:
        st.query_params["like"] = ",".join(str(p) for p in trail)
    else:
        st.query_params.pop("like", None)


def main() -> None:
    searcher = searcher_or_stop()
    trail = st.session_state.setdefault("trail", [])
    shared_trail(trail)
    if trail:
        more_like_this(searcher, trail)
        return
    documents = searcher.documents()
    passages = sum(d.passages for d in documents)
    st.caption(
        f"{plural(len(documents), 'document')} · {plural(passages, 'passage')} · "
        f"model {literal(searcher.model)}"
    )
    params = st.query_params
    # Keyed widgets: the URL sets their first value only. Unkeyed, a widget's identity would
    # include its `value`, which follows the URL, so every other edit would be thrown away.
    query = st.text_input(
        "Ask a question or type some words", value=params.get("q", ""),
        placeholder="e.g. Why did Flynn resign?", key="query",
    )  # fmt: skip
    left, middle, right = st.columns([2, 2, 5])
    wanted = params.get("k", "")
    k = left.slider(
        "Results", 1, 50, min(max(int(wanted), 1), 50) if wanted.isdigit() else 10, key="k"
    )
    default_mode = Searcher.mode()
    url_mode = params.get("mode", default_mode)
    mode = middle.selectbox(
        "Mode", MODES, index=MODES.index(url_mode if url_mode in MODES else default_mode),
        key="mode", help="hybrid: meaning and exact words together; dense: meaning only; "
        "keyword: BM25 on the words",
    )  # fmt: skip
    titles = {d.id: d.title for d in documents}
    chosen = right.multiselect(
        "Only these documents", list(titles), format_func=lambda i: titles[i],
        default=[d for d in params.get_all("doc") if d in titles], key="documents",
    )  # fmt: skip
    if not query.strip():
        st.query_params.pop("q", None)  # a reload must not bring back a cleared query
        st.info("Type a question and press Enter to search the documents.")
        return
    if not re.search(r"[^\W_]", query):
        st.warning("That query has no words to search for; type a question or some words.")
        return
    if mode != "dense" and not query_terms(query):
        st.caption("Only very common words: no word can match, so the hits are by meaning alone.")
    st.query_params.update({"q": query, "k": str(k), "mode": mode})
    st.query_params["doc"] = chosen
    chosen = by_author(searcher, chosen)
    if not chosen and "author" in st.query_params:
        st.warning("None of the documents chosen is by that author.")
        return
    try:
        hits = explained_search(
            str(searcher.path), searcher.generation(), query, k, mode, tuple(chosen)
        )
    except ParaseekError as exc:
        st.error(literal(str(exc)))
        return
    if not hits:
        st.warning("No passages found.")
        return
    if mode != "keyword":  # keyword hits contain the query's words by definition
        path, generation = str(searcher.path), searcher.generation()
        try:
            closest = cached_closest(path, generation, query, tuple(chosen))
        except ParaseekError:  # e.g. a chosen document removed since: the hits stand alone
            closest = None
        floor = cached_floor(path, fingerprint(searcher))
        note = far_note(closest, floor, any(h.matched for h in hits), query)
        if note:
            st.info(literal(note))
    for hit, also_in in group_duplicates(searcher, hits):
        show_hit(hit, searcher, also_in=also_in, query=query)
    downloads(hits, "paraseek-results")


main()
