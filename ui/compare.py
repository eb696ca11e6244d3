"""The compare page: how each document treats a question, two documents side by side, shared points."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from paraseek.compare import (
    MAX_QUESTIONS,
    NULL_QUESTIONS,
    SHARED_THRESHOLD,
    SILENCE,
    Point,
    align,
    compare,
    silent_documents,
    talking_points,
)
from paraseek.corpus import Passage, voice
from paraseek.errors import ParaseekError
from paraseek.search import DocumentInfo, Hit, Searcher
from ui.common import (
    by_author,
    cached_floor,
    fingerprint,
    literal,
    plural,
    read_url,
    searcher_or_stop,
    shorten,
    show_hit,
    title_link,
)

COMPARE_PAGE = 20  # documents whose answers show at first, and at each "Show more"
SILENT_CARDS = 10  # silent documents shown with their closest passage; the rest in a table


@st.cache_data(max_entries=64, show_spinner="Comparing…")
def cached_positions(
    index: str, generation: int, query: str, per_document: int, comments: bool,
    chosen: tuple[str, ...],
) -> list[Hit]:  # fmt: skip
    """compare(), per index version: "Show context" and other reruns must not search
    again."""
    return compare(searcher_or_stop(), query, per_document, comments, list(chosen) or None)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_answers(
    index: str, generation: int, query: str, per_document: int, comments: bool,
    chosen: tuple[str, ...], floor: float, page: int,
) -> list[Hit]:  # fmt: skip
    """The hits of the `page`-th COMPARE_PAGE documents that address the question, with each
    one's sentence closest to it (bold when shown): only what is shown is explained."""
    hits = cached_positions(index, generation, query, per_document, comments, chosen)
    silent = silent_documents(hits, floor)
    order = list(dict.fromkeys(h.document_id for h in hits if h.document_id not in silent))
    wanted = set(order[page * COMPARE_PAGE : (page + 1) * COMPARE_PAGE])
    return searcher_or_stop().explain(query, [h for h in hits if h.document_id in wanted])


@st.cache_data(max_entries=64, show_spinner=False)
def louder_comments(
    index: str, generation: int, query: str, chosen: tuple[str, ...], floor: float
) -> dict[str, tuple[float, str]]:
    """Documents whose comments (left out) address the question, by id: (the best comment's
    score, its voice: "comment by NAME" or "quoting NAME"). Only documents that have comments
    are searched."""
    searcher = searcher_or_stop()
    having = [d for d in comment_documents(index, generation) if not chosen or d in chosen]
    if not having:
        return {}
    hits = compare(searcher, query, 1, comments=True, documents=having)
    return {h.document_id: (h.score, h.voice) for h in hits if h.voice and h.score >= floor}


def positions(searcher: Searcher, comments: bool, chosen: list[str]) -> None:
    """A question, then each document's best passage, or a clear "doesn't address this"."""
    query = st.text_input(
        "A question to put to every document", value=st.query_params.get("cq", ""), key="cq",
        placeholder="e.g. Did Russia interfere in the US election?",
    )  # fmt: skip
    per_document = st.slider(
        "Passages per document", 1, 3, 1, key="per_document", bind="query-params"
    )
    floor = cached_floor(str(searcher.path), fingerprint(searcher))
    with st.expander(f"Silence floor: {SILENCE:.1f}: how it was set"):
        st.write(
            f"Scores are the relevance Search shows, from 0 to 1. A document “doesn't "
            f"address” a question when its best passage scores below {SILENCE:.1f}, the silence "
            f"floor: a cosine of {floor.score:.3f} on this index. Each document's best cosine "
            f"for {len(NULL_QUESTIONS)} questions on unrelated subjects ({floor.samples} "
            f"samples) shows what it scores by chance: {floor.mean:.3f} on average (a score of "
            f"0), with a standard deviation of {floor.spread:.3f}. The floor lies "
            f"{floor.deviations:g} standard deviations above that average, since a document on "
            "a nearby subject scores well above chance on a question it never takes up; a "
            "cosine of 1 scores 1."
        )
        st.caption(" · ".join(NULL_QUESTIONS[:6]) + " …")
    if not query.strip():
        st.info("Type a question and press Enter to see how each document treats it.")
        return
    st.query_params["cq"] = query
    path, generation = str(searcher.path), searcher.generation()
    asked = (path, generation, query, per_document, comments, tuple(chosen))
    try:
        hits = cached_positions(*asked)
    except ParaseekError as exc:
        st.error(literal(str(exc)))
        return
    silent = silent_documents(hits, SILENCE)
    if silent and silent == {h.document_id for h in hits}:
        st.info(
            "No document addresses this question: every one's best passage scores under the floor."
        )
    louder = {} if comments else louder_comments(path, generation, query, tuple(chosen), SILENCE)
    best = {h.document_id: h.score for h in hits if h.rank == 1}
    switch = left_out(path, generation)[2]

    def louder_note(document_id: str) -> None:
        """Under a document whose left-out comments address the question more closely."""
        score, said = louder.get(document_id, (-1.0, ""))
        if score > best[document_id]:
            if said.startswith("quoting "):  # "quoting The minister"
                what = f"A quotation in it comes closer: {score:.3f}, {literal(said)}."
            else:  # "comment by Anonymous"
                name = said.removeprefix("comment by ")
                what = f"A comment under it comes closer: {score:.3f}, by {literal(name)}."
            st.caption(f"{what} Switch on “{switch}” to read it.")

    addressing = len(best) - len(silent)
    if addressing > COMPARE_PAGE:
        st.caption(f"{addressing:,} of {plural(len(best), 'document')} address it, closest first.")
    state = f"shown:{asked}"  # how many answering documents show, for this comparison
    shown = min(st.session_state.get(state, COMPARE_PAGE), addressing)
    for page in range(-(-shown // COMPARE_PAGE)):
        answers = cached_answers(*asked, SILENCE, page)
        for n, hit in enumerate(answers):
            show_hit(hit, searcher, similar=False, query=query)
            if n + 1 == len(answers) or answers[n + 1].document_id != hit.document_id:
                louder_note(hit.document_id)
    if addressing > shown:
        more = min(COMPARE_PAGE, addressing - shown)
        st.button(
            f"Show {more} more of the {addressing - shown:,} other documents that address it",
            on_click=lambda: st.session_state.update({state: shown + COMPARE_PAGE}),
        )
    quiet = [h for h in hits if h.rank == 1 and h.document_id in silent]
    for hit in quiet[:SILENT_CARDS]:
        with st.container(border=True):
            title = title_link(hit.title, hit.document_id, hit.ordinal + 1, query)
            st.markdown(f"**{title}** · doesn't address this", unsafe_allow_html=True)
            st.caption(f"best score {hit.score:.3f}, below the silence floor {SILENCE:.1f}")
            louder_note(hit.document_id)
            with st.expander("Its closest passage, to check"):
                st.markdown(literal(" ".join(hit.text.split())))
                st.caption(f"passage {hit.passage_id}")
    if len(quiet) > SILENT_CARDS:
        rest = quiet[SILENT_CARDS:]
        with st.expander(f"{plural(len(rest), 'more document')} that don't address this"):
            st.dataframe(
                pd.DataFrame(
                    {"document": [h.title for h in rest], "best score": [h.score for h in rest],
                     "passage": [h.passage_id for h in rest],
                     "closest passage": [" ".join(h.text.split()) for h in rest]}
                ),
                hide_index=True, column_config={"best score": st.column_config.NumberColumn(format="%.3f")},
            )  # fmt: skip


@st.cache_data(max_entries=32, show_spinner="Comparing…")
def cached_coverage(
    index: str, generation: int, questions: tuple[str, ...], comments: bool,
    chosen: tuple[str, ...],
) -> list[dict[str, tuple[float, int]]]:  # fmt: skip
    """For each question, {document id: (its best score, that passage's number in the
    document)}, per index version: editing another question, or coming back to the tab, must
    not search every document for every question again."""
    return [
        {h.document_id: (h.score, h.ordinal + 1)
         for h in compare(searcher_or_stop(), q, 1, comments, list(chosen) or None)
         if h.rank == 1}
        for q in questions
    ]  # fmt: skip


GRID_DOCUMENTS = 30  # columns of the grid; a larger collection shows those that answer most
GRID_HEADER_LINES = 6  # a title wraps to this many lines in its column's header, then "…"
GRID_STYLE = (
    "<style>"
    ".ps-grid-wrap { overflow-x: auto; }"
    ".ps-grid { border-collapse: collapse; table-layout: fixed; width: 100%; font-size: 0.85rem; }"
    ".ps-grid th, .ps-grid td { border: 1px solid rgba(128,128,128,0.25); padding: 0.25rem 0.4rem; }"
    ".ps-grid thead th { vertical-align: bottom; font-weight: 600; min-width: 4.5rem; }"
    f".ps-grid thead th span {{ display: -webkit-box; -webkit-line-clamp: {GRID_HEADER_LINES};"
    " -webkit-box-orient: vertical; overflow: hidden; white-space: normal;"
    " overflow-wrap: break-word; hyphens: auto; line-height: 1.25; font-size: 0.8rem; }"
    ".ps-grid .q { width: 22%; text-align: left; font-weight: 400; }"
    ".ps-grid .n { width: 5.5rem; text-align: right; }"
    ".ps-grid td.s { text-align: right; }"
    ".ps-grid td.s a { color: inherit; text-decoration: none; display: block; }"
    ".ps-grid td.silent { color: #9a9a9a; background-color: #f4f4f4; }"
    "</style>"
)


def grid_html(
    questions: list[str], documents: list[DocumentInfo], scores: list[dict[str, tuple[float, int]]],
    floor: float, every: int, addressed: list[int],
) -> str:  # fmt: skip
    """The grid as an HTML table: a row per question, a column per document whose header is
    its title, wrapped (the whole title on hover); each cell is the document's best score for
    the question, a link to that passage on the Read page; grey under the floor."""
    esc = html.escape
    head = "".join(
        f'<th title="{esc(d.title)}"><span>{esc(d.title)}</span></th>' for d in documents
    )
    rows = []
    for question, best, count in zip(questions, scores, addressed, strict=True):
        cells = []
        for d in documents:
            if d.id not in best:
                cells.append('<td class="s silent">–</td>')
                continue
            score, number = best[d.id]
            url = esc(read_url(d.id, number, question))
            if score >= floor:
                shade = f"rgba(41, 176, 157, {min(0.15 + 2 * (score - floor), 0.8):.2f})"
                style, kind = f' style="background-color: {shade}"', "s"
            else:
                style, kind = "", "s silent"
            cells.append(
                f'<td class="{kind}"{style} title="{esc(d.title)}: passage {number}">'
                f'<a href="{url}" target="_self">{score:.2f}</a></td>'
            )
        rows.append(
            f'<tr><th class="q">{esc(question)}</th><td class="n">{count:,} of {every:,}</td>'
            + "".join(cells) + "</tr>"
        )  # fmt: skip
    return (
        f'{GRID_STYLE}<div class="ps-grid-wrap"><table class="ps-grid" lang="en"><thead><tr>'
        f'<th class="q">question</th><th class="n">addressed by</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def many_questions(searcher: Searcher, comments: bool, chosen: list[str]) -> None:
    """Several questions against every document: a grid of best scores, silences greyed."""
    text = st.text_area(
        "Questions, one per line (Ctrl+Enter compares)",
        value="\n".join(st.query_params.get_all("mq")), key="mq",
        placeholder="Did Russia interfere in the US election?\nWhat role does religion play?",
    )  # fmt: skip
    questions = list(dict.fromkeys(q.strip() for q in text.splitlines() if q.strip()))
    if not questions:
        st.query_params.pop("mq", None)
        st.info("Type a few questions, one per line, to see which documents address each.")
        return
    if len(questions) > MAX_QUESTIONS:
        st.warning(f"Only the first {MAX_QUESTIONS} of {len(questions)} questions are compared.")
        questions = questions[:MAX_QUESTIONS]
    st.query_params["mq"] = questions
    floor = SILENCE
    try:
        path, generation = str(searcher.path), searcher.generation()
        found = cached_coverage(path, generation, tuple(questions), comments, tuple(chosen))
    except ParaseekError as exc:
        st.error(literal(str(exc)))
        return
    scores = [{d: score for d, (score, _) in row.items()} for row in found]
    every = [d for d in searcher.documents() if not chosen or d.id in chosen]
    documents = most_addressing(every, scores, floor)[:GRID_DOCUMENTS]
    if len(documents) < len(every):
        st.caption(
            f"The grid shows the {len(documents)} of {plural(len(every), 'document')} that "
            "address the most of these questions; choose documents under “Only these "
            "documents” to see others."
        )
    st.caption(
        f"Each cell is a document's best score for a question, from 0 to 1 as Search scores. "
        f"Grey: under the silence floor {floor:.1f}, the document doesn't address it; the "
        "deeper the green, the closer "
        "its best passage. Click a score to read that passage in its document."
    )
    addressed = [sum(row.get(d.id, -1.0) >= floor for d in every) for row in scores]
    st.markdown(
        grid_html(questions, documents, found, floor, len(every), addressed),
        unsafe_allow_html=True,
    )


def most_addressing(
    documents: list[DocumentInfo], scores: list[dict[str, float]], floor: float
) -> list[DocumentInfo]:
    """`documents` as they are if GRID_DOCUMENTS or fewer, else those that address the most
    of the questions first (then by their summed best scores): the grid's columns."""
    if len(documents) <= GRID_DOCUMENTS:
        return documents

    def standing(d: DocumentInfo) -> tuple[int, float]:
        best = [row[d.id] for row in scores if d.id in row]
        return -sum(b >= floor for b in best), -sum(best)

    return sorted(documents, key=standing)


def _position(options: list[str], wanted: str | None) -> int:
    """Where `wanted` is in `options`, else 0 (the first)."""
    return options.index(wanted) if wanted in options else 0


def side_by_side(searcher: Searcher, comments: bool, chosen: list[str]) -> None:
    """Each paragraph of one document aligned to the closest paragraph of another."""
    documents = searcher.documents()
    if len(chosen) >= 2:  # the page's choice, where it leaves two to choose from
        documents = [d for d in documents if d.id in chosen]
    if len(documents) < 2:
        st.info("Side by side needs at least two documents.")
        return
    titles = {d.id: d.title for d in documents}
    left, right, tune = st.columns([3, 3, 2])
    # Kept in the URL (?doc_a=<id>&doc_b=<id>&shared=0.6), so a comparison can be shared. The
    # ids, not the titles that a bound selectbox would put there: titles repeat and change.
    a = left.selectbox(
        "Document", list(titles), format_func=lambda i: titles[i], key="doc_a",
        index=_position(list(titles), st.query_params.get("doc_a")),
    )  # fmt: skip
    others = [i for i in titles if i != a]
    b = right.selectbox(
        "Against", others, format_func=lambda i: titles[i], key="doc_b",
        index=_position(others, st.query_params.get("doc_b")),
    )  # fmt: skip
    st.query_params.update({"doc_a": a, "doc_b": b})
    threshold = tune.slider(
        "Shared from score",
        0.3,
        0.95,
        SHARED_THRESHOLD,
        0.05,
        key="shared",
        bind="query-params",
        help="a score from 0 to 1, as More like this scores: 0.5 is the silence floor",
    )
    rows = align(searcher, a, b, threshold, comments=comments)
    shared = sum(r.shared for r in rows)
    st.caption(
        f"{shared} of {len(rows)} passages of the first document have a counterpart in the "
        f"second (score ≥ {threshold:.2f}); the rest are unique to it."
    )
    short = {d: literal(shorten(titles[d], SIDE_LABEL_CHARS)) for d in (a, b)}
    one, two = st.columns(2)
    one.markdown(f"**{title_link(titles[a], a)}**", unsafe_allow_html=True)
    two.markdown(f"**{title_link(titles[b], b)}** (its closest passage)", unsafe_allow_html=True)
    for row in rows:
        one, two = st.columns(2)
        mark = ":green-badge[shared]" if row.shared else ":gray-badge[unique]"
        number = row.passage.ordinal + 1
        one.markdown(
            f"{mark} {row.score:.2f} · {side_label(short[a], a, number)}{_said(row.passage)}  \n"
            f"{literal(row.passage.text)}",
            unsafe_allow_html=True,
        )
        if row.match is not None:
            number = row.match.ordinal + 1
            two.markdown(
                f"{side_label(short[b], b, number)}{_said(row.match)}  \n{literal(row.match.text)}",
                unsafe_allow_html=True,
            )


SIDE_LABEL_CHARS = 40  # a document's title as a side's label


def side_label(title: str, document_id: str, number: int) -> str:
    """ "Title, passage N" for one side of a pair (`title` already escaped), linked to the
    passage on the Read page."""
    url = html.escape(read_url(document_id, number))
    return f'<a href="{url}" target="_self">{title}, passage {number}</a>'


@st.cache_data(max_entries=16, show_spinner="Finding shared talking points…")
def cached_points(
    index: str, generation: int, threshold: float, comments: bool, chosen: tuple[str, ...]
) -> list[Point]:
    """compare.talking_points, per index version: it searches with every passage (seconds on
    thousands), and coming back to a similarity seen before must not do it again."""
    return talking_points(
        searcher_or_stop(), threshold, document_ids=chosen or None, comments=comments
    )


def shared_points(searcher: Searcher, comments: bool, chosen: list[str]) -> None:
    """Clusters of passages from different documents that say nearly the same thing."""
    if len(chosen) == 1:
        st.info("Talking points are shared by several documents: choose another, or none for all.")
        return
    threshold = st.slider(
        "Score for a shared point",
        0.5,
        0.95,
        SHARED_THRESHOLD,
        0.05,
        key="points",
        bind="query-params",
        help="a score from 0 to 1, as More like this scores: 0.5 is the silence floor",
    )
    path, generation = str(searcher.path), searcher.generation()
    points = cached_points(path, generation, threshold, comments, tuple(chosen))
    titles = {d.id: d.title for d in searcher.documents()}
    if not points:
        st.info("No passages of different documents are that similar; lower the similarity.")
        return
    st.caption(
        f"{len(points)} shared talking points, each a group of passages from several documents "
        f"with a mean score ≥ {threshold:.2f}, named by the words most of its documents use "
        "and the rest of the collection rarely does."
    )
    for number, point in enumerate(points[:20], 1):
        words = ", ".join(point.words)
        with st.expander(
            f"Point {number} · {literal(words)} · {len(point.passages)} passages in "
            f"{point.documents} documents"
        ):
            for passage, score in point.passages:
                title = title_link(titles[passage.document_id], passage.document_id,
                                   passage.ordinal + 1)  # fmt: skip
                st.markdown(f"**{title}** · {score:.2f}{_said(passage)}", unsafe_allow_html=True)
                st.markdown(literal(passage.text))


def _said(passage: Passage) -> str:
    """ " · comment by NAME" (or "quoting NAME") for a passage someone other than the author
    says (corpus.voice)."""
    said = voice(passage.context, passage.text)
    return f" · :violet-badge[{literal(said)}]" if said else ""


@st.cache_data(max_entries=8, show_spinner=False)
def left_out(index: str, generation: int) -> tuple[int, int, str]:
    """How many passages are someone else's words (Hit.speaker: comments and quotations), in
    how many documents, and the switch that brings them in: "Include comments", "Include
    quotations" or "Include comments and quotations", for what the index holds."""
    found = searcher_or_stop().index
    passages = found.passages(sorted(found.comment_ids()))
    kinds = {(voice(p.context, p.text) or "").partition(" ")[0] for p in passages}
    names = [name for kind, name in (("comment", "comments"), ("quoting", "quotations"))
             if kind in kinds]  # fmt: skip
    switch = "Include " + " and ".join(names)
    return len(passages), len({p.document_id for p in passages}), switch


@st.cache_data(max_entries=8, show_spinner=False)
def comment_documents(index: str, generation: int) -> tuple[str, ...]:
    """Ids of the documents that have comments."""
    found = searcher_or_stop().index
    return tuple(sorted({p.document_id for p in found.passages(sorted(found.comment_ids()))}))


def only_these(searcher: Searcher) -> list[str]:
    """The page's "Only these documents" (ids, in the URL as doc=...): none means all."""
    titles = {d.id: d.title for d in searcher.documents()}
    chosen = st.multiselect(
        "Only these documents", list(titles), format_func=lambda i: titles[i],
        default=[d for d in st.query_params.get_all("doc") if d in titles], key="documents",
        placeholder="All documents",
        help="Compare only these: the positions, the grid and the talking points. Side by side "
        "picks its own two.",
    )  # fmt: skip
    st.query_params["doc"] = chosen
    return by_author(searcher, chosen)


def include_comments(searcher: Searcher) -> bool:
    """The page's "Include comments" switch (in the URL), shown when the index has any; named
    for what it holds ("Include quotations", ...)."""
    count, documents, switch = left_out(str(searcher.path), searcher.generation())
    if not count:
        return False
    return st.toggle(
        f"{switch} ({plural(count, 'passage')} in {plural(documents, 'document')})",
        key="comments", bind="query-params",
        help="Passages under a line like “Anonymous said...”, such as a blog's reader comments, "
        "and quotations after a line like “The minister said:”. They are not the document's "
        "own words, so they are left out of its positions, alignments and talking points, "
        "unless it has nothing else.",
    )  # fmt: skip


searcher = searcher_or_stop()
chosen = only_these(searcher)
comments = include_comments(searcher)
# The open tab is in the URL (?tab=Many+questions), and only it runs: the others would search
# or cluster the whole collection on every rerun for nothing.
TABS = {
    "Positions on a question": positions,
    "Many questions": many_questions,
    "Two documents side by side": side_by_side,
    "Shared talking points": shared_points,
}
for tab, show in zip(
    st.tabs(list(TABS), key="tab", bind="query-params"), TABS.values(), strict=True
):
    if tab.open:
        with tab:
            show(searcher, comments, chosen)
