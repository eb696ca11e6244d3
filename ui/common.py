"""What every page of the app shares: the cached searcher, escaping, and how a hit is shown."""

from __future__ import annotations

import itertools
import os
import re

import streamlit as st

from paraseek.errors import ParaseekError
from paraseek.search import Hit, Searcher, index_path

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


def searcher_or_stop() -> Searcher:
    """The app's searcher (index from $PARASEEK_INDEX, model from $PARASEEK_MODEL), or stop
    the page with the error shown."""
    try:
        return load_searcher(str(index_path()), os.environ.get("PARASEEK_MODEL"))
    except ParaseekError as exc:
        st.error(str(exc))
        st.stop()
        raise  # unreachable: st.stop() ends the script run


def show_hit(hit: Hit) -> None:
    """One result: title, date and score, then the context lines and the passage."""
    with st.container(border=True):
        date = f" · {hit.date}" if hit.date else ""
        st.markdown(f"**{literal(hit.title)}**{literal(date)} · score {hit.score:.3f}")
        for line in hit.context.split("\n")[1:]:
            st.caption(literal(line))
        st.markdown(emphasised(hit))
        st.caption(f"{literal(os.path.basename(hit.source))} · passage {hit.passage_id}")
