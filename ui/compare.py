"""The compare page: how each document treats a question, two documents side by side, shared points."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from paraseek.compare import (
    MAX_QUESTIONS,
    NULL_QUESTIONS,
    Point,
    align,
    coverage,
    silent_documents,
    talking_points,
)
from paraseek.corpus import Passage, voice
from paraseek.errors import ParaseekError
from paraseek.index import DocumentInfo
from paraseek.search import Hit, Searcher
from ui.common import (
    cached_floor,
    fingerprint,
    literal,
    numbered,
    plural,
    searcher_or_stop,
    shorten,
    show_hit,
)

COMPARE_PAGE = 20  # documents whose answers show at first, and at each "Show more"
SILENT_CARDS = 10  # silent documents shown with their closest passage; the rest in a table


@st.cache_data(max_entries=64, show_spinner="Comparing…")
def cached_positions(
    index: str, generation: int, query: str, per_document: int, comments: bool,
    chosen: tuple[str, ...],
) -> list[Hit]:  # fmt: skip
    """Searcher.compare, per index version: "Show context" and other reruns must not search
    again."""
    return searcher_or_stop().compare(query, per_document, comments, list(chosen) or None)


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
    hits = searcher.compare(query, 1, comments=True, documents=having)
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
    floor = cached_floor(str(searcher.index.path), fingerprint(searcher))
    with st.expander(f"Silence floor: {floor.score:.3f}: how it was set"):
        st.write(
            f"A document “doesn't address” a question when its best passage scores below "
            f"{floor.score:.3f}. Each document's best score for {len(NULL_QUESTIONS)} questions "
            f"on unrelated subjects ({floor.samples} samples) shows what it scores by chance: "
            f"{floor.mean:.3f} on average, with a standard deviation of {floor.spread:.3f}. The "
            f"floor lies {floor.deviations:g} standard deviations above that average, since a "
            "document on a nearby subject scores well above chance on a question it never "
            "takes up."
        )
        st.caption(" · ".join(NULL_QUESTIONS[:6]) + " …")
    if not query.strip():
        st.info("Type a question and press Enter to see how each document treats it.")
        return
    st.query_params["cq"] = query
    path, generation = str(searcher.index.path), searcher.index.generation()
    asked = (path, generation, query, per_document, comments, tuple(chosen))
    try:
        hits = cached_positions(*asked)
    except ParaseekError as exc:
        st.error(literal(str(exc)))
        return
    silent = silent_documents(hits, floor.score)
    if silent and silent == {h.document_id for h in hits}:
        st.info(
            "No document addresses this question: every one's best passage scores under the floor."
        )
    louder = (
        {} if comments else louder_comments(path, generation, query, tuple(chosen), floor.score)
    )
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
        answers = cached_answers(*asked, floor.score, page)
        for n, hit in enumerate(answers):
            show_hit(hit, searcher, similar=False)
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
            st.markdown(f"**{literal(hit.title)}** · doesn't address this")
            st.caption(f"best score {hit.score:.3f}, below the floor {floor.score:.3f}")
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
) -> list[dict[str, float]]:  # fmt: skip
    """compare.coverage, per index version: editing another question, or coming back to the
    tab, must not search every document for every question again."""
    return coverage(searcher_or_stop(), list(questions), comments, list(chosen) or None)


GRID_LABEL_CHARS, GRID_COLUMN_PX = 15, 112  # a document's column in the grid
GRID_ROW_PX, GRID_SCROLLBAR_PX = 35, 16  # the grid's rows, and room for a sideways scrollbar
GRID_DOCUMENTS = 30  # columns of the grid; a larger collection shows those that answer most


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
    floor = cached_floor(str(searcher.index.path), fingerprint(searcher)).score
    try:
        path, generation = str(searcher.index.path), searcher.index.generation()
        scores = cached_coverage(path, generation, tuple(questions), comments, tuple(chosen))
    except ParaseekError as exc:
        st.error(literal(str(exc)))
        return
    every = [d for d in searcher.documents() if not chosen or d.id in chosen]
    documents = most_addressing(every, scores, floor)[:GRID_DOCUMENTS]
    if len(documents) < len(every):
        st.caption(
            f"The grid shows the {len(documents)} of {plural(len(every), 'document')} that "
            "address the most of these questions; choose documents under “Only these "
            "documents” to see others."
        )
    # One narrow column per document, its full title on hover: five fit beside the questions
    # on a laptop's screen before the grid scrolls sideways.
    columns = numbered([shorten(d.title, GRID_LABEL_CHARS) for d in documents])
    grid = pd.DataFrame(
        [[row.get(d.id, float("nan")) for d in documents] for row in scores],
        index=pd.Index(questions, name="question"), columns=columns,
    )  # fmt: skip
    grid.insert(
        0,
        "addressed by",
        [f"{sum(row.get(d.id, -1.0) >= floor for d in every):,} of {len(every):,}"
         for row in scores],
    )  # fmt: skip

    def shade(score: float) -> str:
        if not score >= floor:  # under the floor, or no passage at all (NaN)
            return "color: #9a9a9a; background-color: #f4f4f4"
        return f"background-color: rgba(41, 176, 157, {min(0.15 + 1.5 * (score - floor), 0.8):.2f})"

    st.caption(
        f"Each cell is a document's best score for a question (cosine). Grey: under the silence "
        f"floor {floor:.3f}, the document doesn't address it; the deeper the green, the closer "
        "its best passage. Hover a document's name for its full title; click a score to read "
        "the passage."
    )
    styled = grid.style.format("{:.2f}", subset=columns).map(shade, subset=columns)
    titles = {
        c: st.column_config.NumberColumn(c, help=d.title, width=GRID_COLUMN_PX)
        for c, d in zip(columns, documents, strict=True)
    }
    event = st.dataframe(
        styled, column_config=titles, on_select="rerun", selection_mode="single-cell", key="grid",
        height=GRID_ROW_PX * (len(questions) + 1) + GRID_SCROLLBAR_PX,  # rows stay in view
    )  # fmt: skip
    picked = [(row, column) for row, column in event.selection.cells if column in columns]
    if picked:
        row, column = picked[0]
        document = documents[columns.index(column)]
        path, generation = str(searcher.index.path), searcher.index.generation()
        asked = (path, generation, questions[row], 1, comments, (document.id,))
        hits = cached_positions(*asked)
        st.markdown(f"**{literal(questions[row])}**")
        if hits and hits[0].score < floor:
            st.caption(
                f"{literal(document.title)} doesn't address this: its best passage scores "
                f"{hits[0].score:.3f}, under the floor {floor:.3f}."
            )
        else:
            hits = cached_answers(*asked, floor, 0)  # its best sentence in bold
        for hit in hits:
            show_hit(hit, searcher, key="grid", similar=False)


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
        "Shared from similarity", 0.3, 0.95, 0.6, 0.05, key="shared", bind="query-params"
    )
    rows = align(searcher, a, b, threshold, comments=comments)
    shared = sum(r.shared for r in rows)
    st.caption(
        f"{shared} of {len(rows)} passages of the first document have a counterpart in the "
        f"second (cosine ≥ {threshold:.2f}); the rest are unique to it."
    )
    for row in rows:
        one, two = st.columns(2)
        mark = ":green-badge[shared]" if row.shared else ":gray-badge[unique]"
        one.markdown(f"{mark} {row.score:.2f}{_said(row.passage)}  \n{literal(row.passage.text)}")
        if row.match is not None:
            two.caption(literal(row.match.text) + _said(row.match))


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
        "Similarity for a shared point", 0.4, 0.95, 0.6, 0.05, key="points", bind="query-params"
    )
    path, generation = str(searcher.index.path), searcher.index.generation()
    points = cached_points(path, generation, threshold, comments, tuple(chosen))
    titles = {d.id: d.title for d in searcher.documents()}
    if not points:
        st.info("No passages of different documents are that similar; lower the similarity.")
        return
    st.caption(
        f"{len(points)} shared talking points, each a group of passages from several documents "
        f"with a mean cosine ≥ {threshold:.2f}, named by the words most of its documents use "
        "and the rest of the collection rarely does."
    )
    for number, point in enumerate(points[:20], 1):
        words = ", ".join(point.words)
        with st.expander(
            f"Point {number} · {literal(words)} · {len(point.passages)} passages in "
            f"{point.documents} documents"
        ):
            for passage, score in point.passages:
                title = literal(titles[passage.document_id])
                st.markdown(f"**{title}** · {score:.2f}{_said(passage)}")
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
    return chosen


def include_comments(searcher: Searcher) -> bool:
    """The page's "Include comments" switch (in the URL), shown when the index has any; named
    for what it holds ("Include quotations", ...)."""
    count, documents, switch = left_out(str(searcher.index.path), searcher.index.generation())
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
