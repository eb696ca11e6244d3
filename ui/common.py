"""What every page of the app shares: the cached searcher, escaping, and how a hit is shown."""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import os
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from paraseek import settings
from paraseek.compare import Floor, silence_floor
from paraseek.errors import ParaseekError
from paraseek.search import Hit, Searcher, index_path

# ":" too: Streamlit draws ":skull:" as an emoji and ":material/x:" as an icon.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])")
# The query's words in a passage. Streamlit's own :orange-background[] pads the words, which
# showed "Flynn's" as "Flynn 's"; a <mark> without padding keeps the word whole.
_MARK = (
    '<mark style="background-color: rgba(255, 164, 33, 0.28); color: inherit; '
    'padding: 0; border-radius: 0.15em">'
)


def literal(text: str) -> str:
    """`text` escaped so that st.markdown shows it as typed: no Markdown, no HTML, no entities."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


@st.cache_resource(show_spinner="Loading the model and the index…")
def load_searcher(path: str, model: str | None, store: str | None = None) -> Searcher:
    """One Searcher per (index, model, store) for the whole server process."""
    return Searcher.open(path, model=model, store=store)


@st.cache_data(show_spinner="Calibrating the silence floor…", max_entries=8)
def cached_floor(index: str, fingerprint: tuple[tuple[str, str], ...]) -> Floor:
    """The floor of this index's current contents (the fingerprint changes with them)."""
    return silence_floor(searcher_or_stop())


def fingerprint(searcher: Searcher) -> tuple[tuple[str, str], ...]:
    """(document id, content hash) of every document: changes when the index does."""
    return tuple((d.id, d.content_hash) for d in searcher.documents())


def emphasised(hit: Hit) -> str:
    """The passage as Markdown: its best sentence in bold, the query's words marked.

    Every character of the text is escaped, so only this markup is live; show it with
    st.markdown(..., unsafe_allow_html=True) for the <mark> tags.
    """
    text, best = hit.text, hit.best_sentence
    cuts = sorted({0, len(text), *(x for span in hit.matched for x in span), *(best or ())})
    pieces = []  # (inside the best sentence, markdown)
    for a, b in itertools.pairwise(cuts):
        piece = literal(text[a:b])
        if any(s <= a and b <= e for s, e in hit.matched):
            piece = f"{_MARK}{piece}</mark>"
        pieces.append((bool(best and best[0] <= a and b <= best[1]), piece))
    out = []
    for bold, group in itertools.groupby(pieces, key=lambda p: p[0]):
        joined = "".join(piece for _, piece in group)
        out.append(f"**{joined}**" if bold else joined)
    return "".join(out)


READ_PAGE = "read"  # the Read page's URL path (app.py)


def read_url(document_id: str, number: int | None = None, query: str | None = None) -> str:
    """The Read page's URL (relative, like every page's) for a document, at passage `number`
    (1 for its first) with the other hits of `query` marked."""
    params: dict[str, str | int] = {"doc": document_id}
    if number is not None:
        params["p"] = number
    if query:
        params["q"] = query
    return f"{READ_PAGE}?{urlencode(params)}"


def title_link(
    title: str, document_id: str, number: int | None = None, query: str | None = None
) -> str:
    """`title` as a link to the Read page (Markdown with HTML: show it with
    unsafe_allow_html=True). It opens in the same tab, so the browser's Back returns."""
    url = html.escape(read_url(document_id, number, query))
    return f'<a href="{url}" target="_self">{literal(title)}</a>'


def colon_after(text: str) -> str:
    """ ":" to put after `text`, or "" when it already ends in punctuation ("Title.", not
    "Title.:")."""
    return "" if text.rstrip()[-1:] in set(".:;!?…") else ":"


LABEL_CHARS = 30  # characters of a title as a label: an axis, a legend, a column


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def numbered(labels: Sequence[str]) -> list[str]:
    """`labels` with a repeat numbered ("Title (2)"), so that no two are equal."""
    out: list[str] = []
    for label in labels:
        name, n = label, 1
        while name in out:
            n += 1
            name = f"{label} ({n})"
        out.append(name)
    return out


def plural(n: int, word: str) -> str:
    """'1 document', '5 documents', '5,183 documents'."""
    return f"{n} {word}" if n == 1 else f"{n:,} {word}s"


def searcher_or_stop() -> Searcher:
    """The app's searcher (index, model and store from the settings: $PARASEEK_INDEX,
    $PARASEEK_MODEL, $PARASEEK_STORE), or stop the page with the error shown."""
    chosen = settings.current()
    try:
        return load_searcher(str(index_path()), chosen.model, chosen.store)
    except ParaseekError as exc:
        st.error(literal(str(exc)))
        st.stop()
        raise  # unreachable: st.stop() ends the script run


def by_author(searcher: Searcher, chosen: list[str], container: Any = st) -> list[str]:
    """An "Author" choice (in the URL as author=...), shown when documents have bylines:
    `chosen` (document ids; none means all) narrowed to the documents by that author."""
    authors = searcher.authors()
    if not authors:
        return chosen
    wanted = st.query_params.get("author", "")
    author = container.selectbox(
        "Author", ["", *authors], index=authors.index(wanted) + 1 if wanted in authors else 0,
        format_func=lambda a: a or "Any author", key="author",
        help="Only documents by this author, from their bylines.",
    )  # fmt: skip
    if not author:
        st.query_params.pop("author", None)
        return chosen
    st.query_params["author"] = author
    mine = set(searcher.by_author(author))
    return [d for d in chosen if d in mine] if chosen else sorted(mine)


def show_hit(
    hit: Hit, searcher: Searcher | None = None, key: str = "", also_in: Sequence[str] = (),
    similar: bool = True, query: str | None = None,
) -> None:  # fmt: skip
    """One result: title (a link to the passage on the Read page), date and score, context
    lines, the passage, and its actions.

    Args:
        hit: the hit.
        searcher: if given, the hit gets "Show context" and (if `similar`) "More like this",
            which opens on the search page.
        key: makes widget keys unique when a passage appears twice on a page.
        also_in: titles of other documents holding (nearly) the same passage.
        query: the query the hit answers: the Read page marks its other hits.
    """
    with st.container(border=True):
        author = getattr(hit, "author", None)  # where the document names one
        date = (f" · by {author}" if author else "") + (f" · {hit.date}" if hit.date else "")
        said = f" · :violet-badge[{literal(hit.voice)}]" if hit.voice else ""
        title = title_link(hit.title, hit.document_id, hit.ordinal + 1, query)
        st.markdown(
            f"**{title}**{literal(date)} · score {hit.score:.3f}{said}", unsafe_allow_html=True
        )
        lines = hit.context.split("\n") if hit.context else []
        for line in lines[1:] if lines and lines[0] == hit.title else lines:
            st.caption(literal(line))
        st.markdown(emphasised(hit), unsafe_allow_html=True)
        lead = f" · {hit.lead_note()}" if hit.lead else ""
        lead += " · answers the question above" if hit.asked is not None else ""
        st.caption(f"{literal(os.path.basename(hit.source))} · passage {hit.passage_id}{lead}")
        if also_in:
            st.caption("also in: " + literal("; ".join(also_in)))
        if searcher is None:
            return
        # A row sized to its buttons, wrapping when narrow: fixed columns cut the labels to
        # "Show …" and "More like…" in a 700 px window.
        actions = st.container(horizontal=True, vertical_alignment="center")
        show = actions.toggle("Show context", key=f"ctx{key}-{hit.passage_id}")
        if similar:
            actions.button(
                "More like this",
                key=f"mlt{key}-{hit.passage_id}",
                on_click=follow,
                args=(hit.passage_id,),
            )
        if show:
            neighbours(searcher, hit)


def neighbours(searcher: Searcher, hit: Hit) -> None:
    """The passages just before and after `hit` in its document, shown lightly, in place."""
    passages = searcher.document_passages(hit.document_id)
    around = [p for p in passages if abs(p.ordinal - hit.ordinal) == 1]
    for passage in around:
        where = "before" if passage.ordinal < hit.ordinal else "after"
        st.caption(f"{where} (passage {passage.id}): " + literal(passage.text))


def follow(passage_id: int) -> None:
    """Start or extend the more-like-this trail with `passage_id`."""
    trail = st.session_state.setdefault("trail", [])
    if not trail or trail[-1] != passage_id:
        trail.append(passage_id)


def group_duplicates(
    searcher: Searcher, hits: list[Hit], threshold: float = 0.97
) -> list[tuple[Hit, list[str]]]:
    """Hits with identical or near-identical passages folded into the first (best) one.

    Returns:
        (hit, titles of the other documents that hold the same passage), best first.
    """
    if not hits:
        return []
    vectors = searcher.vectors([h.passage_id for h in hits])
    kept: list[int] = []
    also: dict[int, list[str]] = {}
    for i, hit in enumerate(hits):
        same = next((j for j in kept if float(vectors[i] @ vectors[j]) >= threshold), None)
        if same is None:
            kept.append(i)
            also[i] = []
        elif hit.title not in also[same] and hit.title != hits[same].title:
            also[same].append(hit.title)
    return [(hits[i], also[i]) for i in kept]


def downloads(hits: list[Hit], stem: str) -> None:
    """CSV and JSON download buttons for `hits`."""
    rows = [h.to_dict() for h in hits]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["rank"])
    writer.writeheader()
    writer.writerows(rows)
    buttons = st.container(horizontal=True)
    buttons.download_button(
        "Download CSV", buffer.getvalue(), f"{stem}.csv", "text/csv", key=f"csv-{stem}"
    )
    buttons.download_button(
        "Download JSON", json.dumps(rows, ensure_ascii=False, indent=1), f"{stem}.json",
        "application/json", key=f"json-{stem}",
    )  # fmt: skip
