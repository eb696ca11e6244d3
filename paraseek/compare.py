"""Comparing documents: a calibrated silence floor, paragraph alignment, shared talking points."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .corpus import Passage
from .index.keyword import words
from .search import Hit, Searcher, check_query

# Questions about nothing in particular, across many subjects. Their best scores in each
# document show how high a score gets by chance: the floor under which a document is silent.
NULL_QUESTIONS = (
    "How do I bake sourdough bread at home?", "What is the best way to train for a marathon?",
    "How do coral reefs form?", "Which programming language should I learn first?",
    "How do you care for a tomato plant?", "What causes the northern lights?",
    "How are violins made?", "What is the rule for offside in football?",
    "How do I change a flat bicycle tyre?", "Why do cats purr?",
    "What is the recipe for a classic lasagne?", "How deep is the Mariana Trench?",
    "How does a refrigerator keep food cold?", "What are the symptoms of the common cold?",
    "How do bees make honey?", "Who painted the Mona Lisa?",
    "How do I knit a scarf?", "What is the speed of light?",
    "How do airplanes stay in the air?", "What should I pack for a beach holiday?",
    "How do you play chess openings well?", "Why is the sky blue?",
    "How often should I water succulents?", "What are black holes made of?",
    "How do I write a cover letter for a job?", "What is the plot of Hamlet?",
    "How are diamonds formed?", "What is the healthiest breakfast?",
    "How do I clean a cast iron pan?", "How many moons does Jupiter have?",
    "What is the difference between a virus and a bacterium?", "How do I tune a guitar?",
    "What is the tallest mountain in Africa?", "How do solar panels produce electricity?",
    "What is a good name for a puppy?", "How do tides work?",
    "How do I make cold brew coffee?", "What dinosaurs lived in the Cretaceous?",
    "How do I improve my handwriting?", "How do vaccines train the immune system?",
)  # fmt: skip
FLOOR_PERCENTILE = 95
SHARED_THRESHOLD = 0.6  # cosine at or above which two paragraphs say nearly the same thing
# Documents the floor is calibrated on, evenly spread: a percentile of 40 x 200 best scores is
# steady, and a collection of thousands of documents is not searched document by document.
FLOOR_DOCUMENTS = 200
POINT_WORDS = 4  # words that name a talking point
MAX_QUESTIONS = 20  # questions in one grid (app, API): each costs a search per document
# Common words that say nothing about a point, beyond keyword.STOPWORDS (which queries use).
_BLAND = frozenset(
    "also any can could even every get got just like made make many may might much must new "
    "now one said say says see shall still thing things two way well what yes".split()
)


@dataclass(frozen=True)
class Floor:
    """The score under which a document "doesn't address" a question, and how it was set.

    Attributes:
        score: the `percentile`-th percentile of `samples`.
        percentile: 0 to 100.
        samples: best score in each document for each null question (questions x documents).
    """

    score: float
    percentile: float
    samples: int


@dataclass(frozen=True)
class Alignment:
    """A paragraph of one document and its closest paragraph in another."""

    passage: Passage
    match: Passage | None  # None when the other document is empty
    score: float  # cosine similarity, -1 to 1
    shared: bool  # score >= the threshold


@dataclass(frozen=True)
class Point:
    """A talking point: passages of several documents that say nearly the same thing.

    Attributes:
        passages: each with its best link score (cosine), in document order.
        words: up to POINT_WORDS words that set it apart, most telling first: used in most of
            its documents and rare in the rest of the collection.
    """

    passages: list[tuple[Passage, float]]
    words: list[str]

    @property
    def documents(self) -> int:
        """How many documents share the point."""
        return len({p.document_id for p, _ in self.passages})


def silence_floor(
    searcher: Searcher, percentile: float = FLOOR_PERCENTILE, documents: int = FLOOR_DOCUMENTS
) -> Floor:
    """Calibrate the floor on this index: best dense score per document for NULL_QUESTIONS.

    Args:
        documents: calibrate on at most this many documents, evenly spread over the index's.
    """
    every = searcher.documents()
    step = max(1, -(-len(every) // max(documents, 1)))  # ceiling division
    sample = every[::step]
    vectors = searcher.embedder.embed_queries(list(NULL_QUESTIONS))
    best: list[float] = []
    for document in sample:
        ids = searcher.index.passage_ids([document.id])
        _, scores = searcher.index.search(vectors, 1, passage_ids=ids)
        best.extend(s[0] for s in scores if s)
    value = float(np.percentile(best, percentile)) if best else 1.0
    return Floor(round(value, 4), percentile, len(best))


def silent_documents(hits: Sequence[Hit], floor: float) -> set[str]:
    """Ids of the documents that "don't address" a question: their best hit scores under `floor`.

    Args:
        hits: Searcher.compare's hits, where rank 1 is each document's best passage.
    """
    return {h.document_id for h in hits if h.rank == 1 and h.score < floor}


def coverage(searcher: Searcher, questions: Sequence[str]) -> list[dict[str, float]]:
    """Which documents address which questions: each question's best score in every document.

    Returns:
        For each question, in order, {document id: its best passage's score (cosine)}, as
        Searcher.compare ranks them (so with its leads passed over).
    """
    return [{h.document_id: h.score for h in searcher.compare(q) if h.rank == 1} for q in questions]


def grid(searcher: Searcher, questions: Sequence[str], floor: float) -> list[dict[str, object]]:
    """coverage() as JSON-ready rows, one per question, every document in each.

    Returns:
        [{"query", "floor", "addressed", "documents": [{"document_id", "title", "score",
        "silent"}]}], documents by title; a document without passages has score None and is
        silent, as is one whose best score is under `floor`.
    """
    documents = searcher.documents()
    rows = []
    for query, best in zip(questions, coverage(searcher, questions), strict=True):
        verdicts = [
            {"document_id": d.id, "title": d.title, "score": best.get(d.id),
             "silent": not best.get(d.id, -1.0) >= floor}
            for d in documents
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

    Whatever the search mode, and without a re-ranker: a hybrid score is relative to the
    other hits (the best is near 1 even for a question nothing answers), a cosine is not.

    Args:
        documents: if given, only passages of these documents (ids, paths or file names).
    """
    vector = searcher.embedder.embed_queries([check_query(query)])
    with searcher.index.snapshot():
        ids = None
        if documents:
            ids = searcher.index.passage_ids(searcher.index.resolve_documents(documents))
        _, scores = searcher.index.search_ids(vector, 1, passage_ids=ids)
    return scores[0][0] if scores[0] else None


def far_note(closest: float | None, floor: float, words: bool) -> str | None:
    """What to tell someone whose query no passage comes close to by meaning; None otherwise.

    The test is compare's: a collection where every document is silent on the question.

    Args:
        closest: `closest_score` of the query.
        floor: the silence floor (`silence_floor`).
        words: whether a hit contains one of the query's words (`Hit.matched`).
    """
    if closest is None or closest >= floor:
        return None
    why = f"under the silence floor {floor:.3f}, what a document scores by chance"
    if words:
        return (
            f"Nothing comes close to this in meaning (the closest passage scores "
            f"{closest:.3f}, {why}); the hits share some of its words."
        )
    return (
        f"No passage seems to address this: the closest in meaning scores {closest:.3f}, {why}, "
        "and none contains its words. The nearest passages follow anyway."
    )


def align(
    searcher: Searcher, document_a: str, document_b: str, threshold: float = SHARED_THRESHOLD
) -> list[Alignment]:
    """Each passage of document A with its closest passage of document B, in A's order."""
    a = searcher.index.document_passages(document_a)
    b = searcher.index.document_passages(document_b)
    if not a:
        return []
    if not b:
        return [Alignment(p, None, 0.0, False) for p in a]
    va = searcher.index.vectors([int(p.id or 0) for p in a])
    vb = searcher.index.vectors([int(p.id or 0) for p in b])
    similarity = va @ vb.T
    best = similarity.argmax(axis=1)
    return [
        Alignment(p, b[j], round(float(similarity[i, j]), 4), bool(similarity[i, j] >= threshold))
        for i, (p, j) in enumerate(zip(a, best, strict=True))
    ]


def talking_points(
    searcher: Searcher, threshold: float = SHARED_THRESHOLD, neighbours: int = 10,
    document_ids: Sequence[str] | None = None,
) -> list[Point]:  # fmt: skip
    """Groups of passages from different documents that say nearly the same thing.

    Passages are linked when one is among the other's `neighbours` nearest passages of another
    document with a cosine of at least `threshold`. Links join groups strongest first, and two
    groups join only if their passages' mean cosine across them is at least `threshold`
    (average linkage), so a point does not drift from one subject to the next along a chain of
    links. A point spans at least two documents; each passage's score is its strongest link in
    the point.

    Returns:
        Points, most documents first, then highest mean link score.
    """
    ids = searcher.index.passage_ids(
        list(document_ids) if document_ids else [d.id for d in searcher.documents()]
    )
    if len(ids) < 2:
        return []
    passages = {int(p.id or 0): p for p in searcher.index.passages(ids)}
    vectors = searcher.index.vectors(ids)
    found, scores = searcher.index.search(vectors, min(neighbours + 1, len(ids)), passage_ids=ids)
    links = sorted(
        (
            (float(score), source, int(other.id or 0))
            for source, row, row_scores in zip(ids, found, scores, strict=True)
            for other, score in zip(row, row_scores, strict=True)
            if score >= threshold and other.document_id != passages[source].document_id
        ),
        reverse=True,
    )
    row_of = {i: n for n, i in enumerate(ids)}
    group_of = _average_linkage(links, lambda i: vectors[row_of[i]], threshold)
    best: dict[int, float] = {}
    for score, a, b in links:
        if group_of[a] is group_of[b]:
            best[a], best[b] = max(best.get(a, 0.0), score), max(best.get(b, 0.0), score)
    result = []
    for members in {id(g): g for g in group_of.values()}.values():
        if len({passages[i].document_id for i in members}) < 2:
            continue
        ordered = sorted(members, key=lambda i: (passages[i].document_id, passages[i].ordinal))
        result.append([(passages[i], round(best[i], 4)) for i in ordered])
    result.sort(key=lambda g: (-len({p.document_id for p, _ in g}), -sum(s for _, s in g) / len(g)))
    rarity = _rarity(list(passages.values()))
    return [Point(group, _telling_words([p for p, _ in group], rarity)) for group in result]


def _average_linkage(
    links: Sequence[tuple[float, int, int]],
    vector: Callable[[int], np.ndarray],
    threshold: float,
) -> dict[int, list[int]]:
    """The group (a shared list) of each linked passage, joined along `links` in their order.

    Two groups join when the mean cosine of their passages' vectors across them is at least
    `threshold`.
    """
    group_of: dict[int, list[int]] = {}
    for _, a, b in links:
        one, two = group_of.setdefault(a, [a]), group_of.setdefault(b, [b])
        if one is two:
            continue
        across = np.stack([vector(i) for i in one]) @ np.stack([vector(i) for i in two]).T
        if float(across.mean()) >= threshold:
            one.extend(two)
            for i in two:
                group_of[i] = one
    return group_of


def _rarity(passages: Sequence[Passage]) -> dict[str, float]:
    """Inverse passage frequency of each lower-cased word: log(passages / passages using it)."""
    used = Counter(w for p in passages for w in {w.lower() for w in words(p.text)})
    return {w: math.log(len(passages) / n) for w, n in used.items()}


def _telling_words(group: Sequence[Passage], rarity: dict[str, float]) -> list[str]:
    """POINT_WORDS words of `group`: in the most of its documents, often, and rare elsewhere.

    A word scores (documents of the group using it) x log(1 + uses in the group) x its rarity;
    it is shown as most often written (so "NATO", "Russia", "elections"), and a word
    beginning with the same six letters as a better one (another form of it) is left out.
    """
    written: dict[str, Counter[str]] = {}
    documents: dict[str, set[str]] = {}
    for p in group:
        for w in words(p.text):
            if len(w) > 2 and not w.isdigit() and w.lower() not in _BLAND:
                written.setdefault(w.lower(), Counter())[w] += 1
                documents.setdefault(w.lower(), set()).add(p.document_id)
    score = {
        w: len(documents[w]) * math.log1p(sum(forms.values())) * rarity.get(w, 0.0)
        for w, forms in written.items()
    }
    top: list[str] = []
    for w in sorted(score, key=lambda w: (-score[w], w)):
        if len(top) == POINT_WORDS or score[w] <= 0:
            break
        if all(w[:6] != t[:6] for t in top):  # one of "imperialis(t|m)"
            top.append(w)
    return [written[w].most_common(1)[0][0] for w in top]
