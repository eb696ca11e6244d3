"""A document's position on a question: its best passages, or silence under a calibrated floor.

Every score here is Search's relevance (calibration.relevance): 0 to 1, 0.5 at the index's
silence floor, with the raw cosine beside it (`Hit.cosine`)."""

from __future__ import annotations

from collections.abc import Sequence

from ..calibration import FLOOR_DEVIATIONS, FLOOR_DOCUMENTS, SILENCE, Floor, relevance
from ..errors import InvalidArgumentError
from ..index.keyword import query_terms
from ..search import Hit, Scored, Searcher, check_query

MAX_QUESTIONS = 20  # questions in one grid (app, API): each costs a compare
LEAD_SLACK = 3  # extra candidates per document in compare, for the leads it passes over
LOOKUP_WORDS = 3  # a query of at most this many words (stop words aside) may be a lookup


def silence_floor(
    searcher: Searcher, deviations: float = FLOOR_DEVIATIONS, documents: int = FLOOR_DOCUMENTS
) -> Floor:
    """The index's silence floor (see calibration.Floor): the searcher's own, calibrated once
    per version of the index, for the default settings; calibrated afresh for others.

    A question that a document's subject is near, but that it does not take up, scores well
    above questions on unrelated subjects; so the floor sits well above the null scores.

    Args:
        documents: calibrate on at most this many documents, evenly spread over the index's.
    """
    if deviations == FLOOR_DEVIATIONS and documents == FLOOR_DOCUMENTS:
        return searcher.floor()
    return searcher.calibrate(deviations, documents)


def silent_documents(hits: Sequence[Hit], floor: float = SILENCE) -> set[str]:
    """Ids of the documents that "don't address" a question: their best hit scores under `floor`.

    Args:
        hits: Searcher.compare's hits, where rank 1 is each document's best passage.
        floor: a relevance from 0 to 1; SILENCE (0.5) is the index's silence floor.
    """
    return {h.document_id for h in hits if h.rank == 1 and h.score < floor}


def first_documents(hits: Sequence[Hit], limit: int) -> list[Hit]:
    """The hits of the first `limit` documents of Searcher.compare's `hits` (its documents come
    best first, their hits together); all of them if `limit` is 0.

    Raises:
        InvalidArgumentError: `limit` is negative or not an integer.
    """
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise InvalidArgumentError(f"limit must be 0 (every document) or more, got {limit!r}.")
    if not limit:
        return list(hits)
    kept: set[str] = set()
    out = []
    for hit in hits:
        if hit.document_id not in kept and len(kept) == limit:
            break
        kept.add(hit.document_id)
        out.append(hit)
    return out


def coverage(
    searcher: Searcher, questions: Sequence[str], comments: bool = False,
    documents: Sequence[str] | None = None,
) -> list[dict[str, float]]:  # fmt: skip
    """Which documents address which questions: each question's best score in every document.

    Returns:
        For each question, in order, {document id: its best passage's score (relevance)}, as
        Searcher.compare ranks them (so with its leads passed over, and comments unless
        `comments`); only of `documents` (ids, paths or file names) if given.
    """
    return [
        {
            h.document_id: h.score
            for h in compare(searcher, q, comments=comments, documents=documents)
            if h.rank == 1
        }
        for q in questions
    ]


def grid(
    searcher: Searcher, questions: Sequence[str], floor: float = SILENCE, comments: bool = False,
    documents: Sequence[str] | None = None,
) -> list[dict[str, object]]:  # fmt: skip
    """coverage() as JSON-ready rows, one per question, every document (of `documents`, if
    given: ids, paths or file names) in each.

    Args:
        floor: a relevance from 0 to 1 under which a document is silent; SILENCE (0.5) is the
            index's silence floor.

    Returns:
        [{"query", "floor", "addressed", "documents": [{"document_id", "title", "score",
        "cosine", "silent"}]}], documents by title; `score` is the best passage's relevance,
        `cosine` its raw cosine. A document without passages has both None and is silent, as
        is one whose best score is under `floor`.
    """
    chosen = set(searcher.resolve_documents(documents)) if documents else None
    shown = [d for d in searcher.documents() if chosen is None or d.id in chosen]
    rows = []
    for query in questions:
        best = {
            h.document_id: h
            for h in compare(searcher, query, comments=comments, documents=documents)
            if h.rank == 1
        }
        verdicts = [
            {"document_id": d.id, "title": d.title,
             "score": best[d.id].score if d.id in best else None,
             "cosine": best[d.id].cosine if d.id in best else None,
             "silent": d.id not in best or not best[d.id].score >= floor}
            for d in shown
        ]  # fmt: skip
        addressed = sum(not v["silent"] for v in verdicts)
        rows.append(
            {"query": query.strip(), "floor": floor, "addressed": addressed, "documents": verdicts}
        )
    return rows


def closest_score(
    searcher: Searcher, query: str, documents: Sequence[str] | None = None
) -> float | None:
    """Cosine similarity of the passage closest to `query` by meaning; None if there is none.

    Whatever the search mode, and without a re-ranker: the cosine the silence floor is set in
    (a hybrid score also weighs the query's words).

    Args:
        documents: if given, only passages of these documents (ids, paths or file names).
    """
    vector = searcher.embed([check_query(query)])
    with searcher.snapshot():
        ids = None
        if documents:
            ids = searcher.passage_ids(searcher.resolve_documents(documents))
        _, scores = searcher.nearest_ids(vector, 1, passage_ids=ids)
    return scores[0][0] if scores[0] else None


def far_note(closest: float | None, floor: Floor, words: bool, query: str = "") -> str | None:
    """What to tell someone whose query no passage comes close to by meaning; None otherwise.

    The test is compare's: a collection where every document is silent on the question. A
    lookup of a few words that the hits contain (a name: "Hillary Clinton") gets no note: a
    name's cosine with a passage that uses it is often under the floor, but the hits answer it.
    The note gives the closest passage's score as a relevance (0.5 at the floor), the scale
    of every score shown.

    Args:
        closest: `closest_score` of the query (a cosine).
        floor: the silence floor (`silence_floor`).
        words: whether a hit contains one of the query's words (`Hit.matched`).
        query: the query; if given, a lookup is told apart from a question.
    """
    if closest is None or closest >= floor.score:
        return None
    if words and query and len(query_terms(query)) <= LOOKUP_WORDS:
        return None
    score = relevance(closest, floor)
    why = (
        f"under the silence floor {SILENCE:.3f}, below which a document doesn't address a question"
    )
    if words:
        return (
            f"Nothing comes close to this in meaning (the closest passage scores "
            f"{score:.3f}, {why}); the hits share some of its words."
        )
    return (
        f"No passage seems to address this: the closest in meaning scores {score:.3f}, {why}, "
        "and none contains its words. The nearest passages follow anyway."
    )


def compare(
    searcher: Searcher, query: str, per_document: int = 1, comments: bool = False,
    documents: Sequence[str] | None = None,
) -> list[Hit]:  # fmt: skip
    """The best `per_document` passages of every document for one question.

    Every document is present, even when its best score is low. Documents come in order
    of their best score; each hit's `rank` is its rank within its document. A hit's score is
    Search's relevance (0 to 1, 0.5 at the silence floor: see Hit.score) of its cosine, which
    is in `Hit.cosine`. A document
    answers in its own words: a long question or heading kept as a passage of its own
    (corpus.is_lead: an interviewer's question) is passed over for the passages that
    follow it, unless the document has nothing else.

    Args:
        comments: let comments answer for their document too (passages someone other
            than the author says, under a line like "Anonymous said...": see
            `Hit.speaker`). Left out by default, unless a document has nothing else.
        documents: if given, only these documents (ids, paths or file names).
    """
    query = check_query(query)
    if not isinstance(per_document, int) or not 1 <= per_document <= 100:
        raise InvalidArgumentError(
            f"per_document must be an integer from 1 to 100, got {per_document!r}."
        )
    vector = searcher.embed([query])
    with searcher.snapshot():
        chosen = set(searcher.resolve_documents(documents)) if documents else None
        avoid = set() if comments else searcher.comment_ids()
        found = searcher.best_per_document(vector, per_document + LEAD_SLACK, chosen, avoid)
        # Each document's first choices; the slack behind them only where one is a lead.
        head = searcher.passages([i for _, ids, _ in found[0] for i in ids[:per_document]])
        leads = searcher.leads(head)
        slack = searcher.passages(
            [i for _, ids, _ in found[0] if leads & set(ids[:per_document])
             for i in ids[per_document:]]
        )  # fmt: skip
        leads |= searcher.leads(slack)
        infos = searcher.document_infos({p.document_id for p in head})
        floor = searcher.floor()
    by_id = {int(p.id or 0): p for p in head + slack}
    groups = []
    for _, ids, scores in found[0]:
        pairs = [(by_id[i], s) for i, s in zip(ids, scores, strict=True) if i in by_id]
        best = [(p, s) for p, s in pairs if p.id not in leads][:per_document]
        best = best or pairs[:per_document]
        scored = [Scored(int(p.id or 0), relevance(s, floor), s, None) for p, s in best]
        hits = searcher.hits(
            [p for p, _ in best], [s.score for s in scored], leads, infos, scored=scored
        )
        if hits:
            groups.append(hits)
    groups.sort(key=lambda hits: (-(hits[0].cosine or 0.0), hits[0].title, hits[0].source))
    return [hit for hits in groups for hit in hits]
