"""The read page: one document as written, every passage numbered, one highlighted
(/read?doc=ID&p=N&q=QUERY)."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from urllib.parse import urlencode

import streamlit as st

from paraseek.corpus import Passage, speaker, voice
from paraseek.errors import ParaseekError
from paraseek.search import DocumentInfo, Searcher
from ui.common import literal, plural, read_url, searcher_or_stop

WINDOW = 200  # passages drawn at once: a document of 50,000 draws as fast as one of 200
QUERY_HITS = 10  # hits of the query looked for in the document, to mark

# Passage text is html-escaped and shown in pre-wrap: exactly as written, no Markdown, no
# emoji shortcodes. Comments and quotations are set apart; the passage asked for is marked.
STYLE = """<style>
.ps-doc { font-size: 1rem; line-height: 1.6; }
.ps-passage { display: flex; gap: 0.8rem; padding: 0.35rem 0.5rem; border-radius: 0.4rem;
  scroll-margin-top: 5rem; }
.ps-num { flex: 0 0 3.2rem; text-align: right; color: #8a8a8a; font-size: 0.8rem;
  text-decoration: none; padding-top: 0.2rem; }
.ps-text { white-space: pre-wrap; overflow-wrap: anywhere; flex: 1 1 auto; margin: 0; }
.ps-target { background: rgba(255, 164, 33, 0.22); outline: 2px solid rgba(255, 164, 33, 0.8); }
.ps-hit { background: rgba(41, 176, 157, 0.14); }
.ps-said { margin-left: 2.5rem; border-left: 3px solid #b39ddb; }
.ps-question .ps-text { font-weight: 600; }
.ps-who { margin: 0.6rem 0 0 2.5rem; color: #6a5acd; font-size: 0.85rem; }
.ps-heading { margin: 1.2rem 0 0.3rem 4rem; font-size: 1.15rem; font-weight: 700; }
.ps-ask { margin: 1rem 0 0.2rem 4rem; font-weight: 600; font-style: italic; }
.ps-front { margin: 0 0 0.3rem 4rem; color: #6b6b6b; }
.ps-tag { font-size: 0.75rem; color: #555; margin-left: 0.4rem; }
</style>"""


@dataclass(frozen=True)
class Opened:
    """A document as the page draws it: its record, its passages in order and its text."""

    info: DocumentInfo
    passages: list[Passage]
    text: str


@st.cache_resource(max_entries=4, show_spinner="Opening the document…")
def opened(index: str, generation: int, document_id: str) -> Opened:
    """The document's passages and text, read once per version of the index (not copied
    per run: a document of 50,000 passages is megabytes)."""
    searcher = searcher_or_stop()
    with searcher.snapshot():
        info = searcher.document_infos([document_id])[document_id]
        return Opened(
            info, searcher.document_passages(document_id), searcher.document_text(document_id)
        )


@st.cache_data(max_entries=64, show_spinner=False)
def query_hits(index: str, generation: int, query: str, document_id: str) -> list[int]:
    """Ids of the query's best passages in this document (hybrid search), best first."""
    searcher = searcher_or_stop()
    hits = searcher.search(query, QUERY_HITS, documents=[document_id])
    return [h.passage_id for h in hits]


def kind(line: str) -> str:
    """How a line between passages reads: "who" (a speaker line: "Anonymous said..."),
    "ask" (a question: an interviewer's) or "heading"."""
    stripped = line.strip()
    if speaker(stripped) is not None:
        return "who"
    if stripped.endswith("?") or stripped.startswith(("- ", "– ", "Q:", "Q.")):
        return "ask"
    return "heading"


def between(text: str, first: bool, title: str) -> str:
    """HTML of the lines between two passages (headings, questions, speaker lines); before
    the first passage, the lines above the text (the title, a byline, a date), muted."""
    out = []
    for line in text.splitlines():
        if not line.strip() or (first and line.strip() == title.strip()):
            continue
        shown = html.escape(line.strip())
        role = "front" if first else kind(line)
        tag = "h4" if role == "heading" else "p"
        out.append(f'<{tag} class="ps-{role}">{shown}</{tag}>')
    return "".join(out)


def passage_html(
    passage: Passage, number: int, target: bool, hit: int | None, lead: bool, said: str | None,
    tag: str,
) -> str:  # fmt: skip
    """One passage: its number (an anchor), its text as written, its marks."""
    classes = ["ps-passage"]
    classes += ["ps-target"] if target else []
    classes += ["ps-hit"] if hit is not None else []
    classes += ["ps-said"] if said else []
    classes += ["ps-question"] if lead else []
    marks = []
    if hit is not None:
        marks.append(f"hit {hit} of the query")
    if lead:
        marks.append("question" if passage.text.rstrip().endswith("?") else "lead-in")
    note = "".join(f'<span class="ps-tag">· {html.escape(m)}</span>' for m in marks)
    return (
        f'<div id="{tag}" class="{" ".join(classes)}" data-passage="{passage.id}">'
        f'<a class="ps-num" href="#{tag}" title="passage id {passage.id}">{number}</a>'
        f'<div class="ps-text">{html.escape(passage.text)}{note}</div></div>'
    )


def body(
    document: Opened, start: int, end: int, target: int | None, hits: list[int],
    leads: set[int | None],
) -> str:  # fmt: skip
    """HTML of passages start..end-1 (0-based) and the lines between them."""
    rank = {pid: n for n, pid in enumerate(hits, 1)}
    out = [STYLE, '<div class="ps-doc">']
    text = document.text
    passages = document.passages
    previous_end = passages[start - 1].end if start else 0
    previous_voice: str | None = None
    for i in range(start, end):
        passage = passages[i]
        gap = text[previous_end : passage.start] if passage.start >= previous_end else ""
        out.append(between(gap, i == 0, document.info.title))
        said = voice(passage.context, passage.text)
        if said and said != previous_voice:
            out.append(f'<p class="ps-who">{html.escape(said)}</p>')
        previous_voice = said
        out.append(
            passage_html(passage, i + 1, i == target, rank.get(int(passage.id or 0)),
                         passage.id in leads, said, f"p{i + 1}")
        )  # fmt: skip
        previous_end = max(previous_end, passage.end)
    out.append("</div>")
    if target is not None and start <= target < end:
        # Scroll the asked-for passage into view once it is drawn.
        out.append(
            "<script>setTimeout(function () { var e = document.getElementById("
            f"'p{target + 1}'); if (e) {{ e.scrollIntoView({{block: 'center'}}); }} }}, 300);"
            "</script>"
        )
    return "".join(out)


def metadata(info: DocumentInfo) -> str:
    """The document's line of facts: author, date, source, passages (plain text)."""
    author = getattr(info, "author", None)
    facts = [
        *([f"by {author}"] if author else []),
        *([info.date] if info.date else []),
        os.path.basename(info.path),
        plural(info.passages, "passage"),
    ]
    return " · ".join(facts)


def number_from(value: str | None, count: int) -> int | None:
    """A passage number from the URL (1 to `count`), or None when it is missing or not one."""
    if value is None or not value.strip().isdigit():
        return None
    number = int(value)
    return number if 1 <= number <= count else None


def choose(searcher: Searcher) -> str | None:
    """With no document in the URL: a chooser of every document; its id, or None."""
    documents = searcher.documents()
    if not documents:
        st.info("The index holds no documents yet.")
        return None
    titles = {d.id: d.title for d in documents}
    return st.selectbox(
        "Document", list(titles), format_func=lambda i: titles[i], index=None, key="read-doc",
        placeholder="Choose a document to read",
    )  # fmt: skip


def main() -> None:
    searcher = searcher_or_stop()
    params = st.query_params
    query = params.get("q", "").strip()
    if query:  # the search page keeps its query in the URL: this returns to its hits
        back = html.escape("./?" + urlencode({"q": query}))
        st.markdown(
            f'<a href="{back}" target="_self">← Back to the search</a>', unsafe_allow_html=True
        )
    wanted = params.get("doc")
    try:
        document_id = searcher.document(wanted).id if wanted else choose(searcher)
    except ParaseekError as exc:
        st.error(literal(str(exc)))
        return
    if document_id is None:
        return
    path, generation = str(searcher.path), searcher.generation()
    document = opened(path, generation, document_id)
    count = len(document.passages)
    number = number_from(params.get("p"), count)
    if params.get("p") is not None and number is None:
        st.warning(
            literal(f"There is no passage {params.get('p')} in this document; its passages "
                    f"are numbered 1 to {count}.")
        )  # fmt: skip
    st.header(literal(document.info.title), anchor=False)
    st.caption(literal(metadata(document.info)))
    if not count:
        st.info("This document has no passages.")
        return
    target = None if number is None else number - 1
    pages = -(-count // WINDOW)
    asked = params.get("page", "")
    page = int(asked) - 1 if asked.isdigit() and 1 <= int(asked) <= pages else None
    if page is None:
        page = 0 if target is None else target // WINDOW
    start, end = page * WINDOW, min(count, (page + 1) * WINDOW)
    try:
        hits = query_hits(path, generation, query, document_id) if query else []
    except ParaseekError as exc:  # an unusable query (too long, say): the page stands alone
        st.warning(literal(str(exc)))
        query, hits = "", []
    if query:
        where = [str(i + 1) for i, p in enumerate(document.passages) if int(p.id or 0) in set(hits)]
        st.caption(
            literal(f"Marked: the query's {plural(len(hits), 'best passage')} in this document"
                    + (f" (passages {', '.join(where)})" if where else "")
                    + f": “{query}”")
        )  # fmt: skip
    if pages > 1:
        pager(document_id, number, query, page, pages, count, "top")
    window = document.passages[start:end]
    leads = searcher.leads(window)
    st.html(body(document, start, end, target, hits, leads), unsafe_allow_javascript=True)
    if pages > 1:
        pager(document_id, number, query, page, pages, count, "bottom")


def pager(
    document_id: str, number: int | None, query: str, page: int, pages: int, count: int,
    where: str,
) -> None:  # fmt: skip
    """Links to the previous and next WINDOW passages, and where this window stands."""
    first, last = page * WINDOW + 1, min(count, (page + 1) * WINDOW)
    left, middle, right = st.columns([2, 3, 2])
    middle.caption(f"Passages {first:,} to {last:,} of {count:,}")
    for column, step, label in ((left, -1, "← Earlier passages"), (right, 1, "Later passages →")):
        if 0 <= page + step < pages:
            url = read_url(document_id, number, query or None) + f"&page={page + step + 1}"
            column.markdown(
                f'<a href="{html.escape(url)}" target="_self">{html.escape(label)}</a>',
                unsafe_allow_html=True,
            )


if __name__ == "__main__":  # Streamlit runs pages as __main__; tests import the helpers
    main()
