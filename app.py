"""Streamlit entry point: `streamlit run app.py` (or `paraseek serve`, or `make run`)."""

from __future__ import annotations

import itertools
import os
import re

import streamlit as st

from paraseek.errors import ParaseekError
from paraseek.search import MODES, Hit, Searcher, index_path

EXPLAINED = 3
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def literal(text: str) -> str:
    """`text` escaped so that st.markdown shows it as typed: no Markdown, no HTML."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


@st.cache_resource(show_spinner="Loading the model and the index…")
def load_searcher(path: str, model: str | None) -> Searcher:
    """One Searcher per (index, model) for the whole server process."""
    return Searcher.open(path, model=model)


def emphasised(hit: Hit) -> str:
    """The passage as Markdown: its best sentence in bold, the query's words highlighted.

    Every character of the text is escaped, so only this markup is live.
    """
    text, best = hit.text, hit.best_sentence
    cuts = sorted({0, len(text), *(x for span in hit.matched for x in span), *(best or ())})
    pieces = []  # (inside the best sentence, markdown)
    for a, b in itertools.pairwise(cuts):
        piece = literal(text[a:b])
        if any(s <= a and b <= e for s, e in hit.matched):
            piece = f":orange-background[{piece}]"
        pieces.append((bool(best and best[0] <= a and b <= best[1]), piece))
    out = []
    for bold, group in itertools.groupby(pieces, key=lambda p: p[0]):
        joined = "".join(piece for _, piece in group)
        out.append(f"**{joined}**" if bold else joined)
    return "".join(out)


def plural(n: int, word: str) -> str:
    """'1 document', '5 documents'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def show_hit(hit: Hit) -> None:
    """One result: title, date and score, then the context lines and the passage."""
    with st.container(border=True):
        date = f" · {hit.date}" if hit.date else ""
        st.markdown(f"**{literal(hit.title)}**{literal(date)} · score {hit.score:.3f}")
        for line in hit.context.split("\n")[1:]:
            st.caption(literal(line))
        st.markdown(emphasised(hit))
        st.caption(f"{literal(os.path.basename(hit.source))} · passage {hit.passage_id}")


def main() -> None:
    st.set_page_config(page_title="paraseek", page_icon="🔎", layout="wide")
    st.title("paraseek")
    path = str(index_path())
    try:
        searcher = load_searcher(path, os.environ.get("PARASEEK_MODEL"))
    except ParaseekError as exc:
        st.error(str(exc))
        st.stop()
    documents = searcher.documents()
    passages = sum(d.passages for d in documents)
    st.caption(
        f"{plural(len(documents), 'document')} · {plural(passages, 'passage')} · "
        f"model {literal(searcher.index.model)}"
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
    st.query_params.update({"q": query, "k": str(k), "mode": mode})
    st.query_params["doc"] = chosen
    try:
        hits = searcher.search(query, k=k, documents=chosen or None, mode=mode)
        # Best sentences cost an embedding per sentence: the top hits get them.
        hits[:EXPLAINED] = searcher.explain(query, hits[:EXPLAINED])
    except ParaseekError as exc:
        st.error(str(exc))
        return
    if not hits:
        st.warning("No passages found.")
    for hit in hits:
        show_hit(hit)


main()
