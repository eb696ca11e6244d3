"""Relevance: scores mapped to 0-1 on the index's silence floor, the same scale on every query."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .embedder import Embedder
from .index import Index

# Questions about nothing in particular, across many subjects. Their best scores in each
# document show how high a score gets by chance; the silence floor lies well above them.
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
# How far above a document's null-question scores it must reach to address a question, in
# standard deviations of those scores. With one floor per document and their median, 5.5
# calls the hand-labelled sample pairs as the pooled mean + 5 sd did (docs/quality.md).
FLOOR_DEVIATIONS = 5.5
# Documents the floor is calibrated on, evenly spread: a collection of thousands of documents
# gives the same floor from a sample.
FLOOR_DOCUMENTS = 200
# The relevance of a cosine at the silence floor: a passage under it does not address a question.
SILENCE = 0.5


@dataclass(frozen=True)
class Floor:
    """The cosine under which a document "doesn't address" a question, and how it was set.

    Each calibration document's best cosine for every null question shows what that document
    scores by chance; its own floor lies `deviations` standard deviations above their mean.
    The index's floor is the median of the documents' floors, so that adding a document on
    another subject (which scores high on some null questions) leaves it where it was.

    Attributes:
        score: the median over documents of mean + `deviations` x spread.
        mean: the median over documents of their null scores' mean.
        spread: the median over documents of their null scores' standard deviation.
        deviations: how many standard deviations above the mean a document's floor lies.
        samples: how many best scores (null questions x documents).
    """

    score: float
    mean: float
    spread: float
    deviations: float
    samples: int


def calibrate(
    embedder: Embedder, index: Index, deviations: float = FLOOR_DEVIATIONS,
    documents: int = FLOOR_DOCUMENTS,
) -> Floor:  # fmt: skip
    """The silence floor of `index` (see `Floor`) from each document's best cosine for every
    NULL_QUESTIONS, on at most `documents` documents evenly spread over the index's."""
    every = index.documents()
    step = max(1, -(-len(every) // max(documents, 1)))  # ceiling division
    sample = {d.id for d in every[::step]}
    vectors = embedder.embed_queries(list(NULL_QUESTIONS))
    found = index.best_per_document(vectors, 1, sample)
    by_document: dict[str, list[float]] = {}
    for per_query in found:
        for document_id, _, scores in per_query:
            by_document.setdefault(document_id, []).append(scores[0])
    if not by_document:
        return Floor(1.0, 1.0, 0.0, deviations, 0)
    best = [np.asarray(s) for s in by_document.values()]
    means = np.array([b.mean() for b in best])
    spreads = np.array([b.std() for b in best])
    return Floor(
        round(float(np.median(means + deviations * spreads)), 4), float(np.median(means)),
        float(np.median(spreads)), deviations, sum(len(b) for b in best),
    )  # fmt: skip


def relevance(cosine: float, floor: Floor) -> float:
    """A cosine as a 0-1 relevance: 0.5 at the silence floor, 1 at cosine 1, 0 at or under
    the null questions' mean; linear in between."""
    if cosine >= floor.score:
        return 0.5 + 0.5 * (cosine - floor.score) / max(1.0 - floor.score, 1e-9)
    return max(0.0, 0.5 * (cosine - floor.mean) / max(floor.score - floor.mean, 1e-9))


def cosine_at(score: float, floor: Floor) -> float:
    """The cosine whose `relevance` is `score` (0 to 1): the inverse of `relevance`, for
    thresholds given as relevance; 0 gives the null questions' mean."""
    if score >= SILENCE:
        return floor.score + (score - SILENCE) / 0.5 * (1.0 - floor.score)
    return floor.mean + score / 0.5 * (floor.score - floor.mean)


def keyword_relevance(bm25: float, ceiling: float | None, best: float) -> float:
    """A BM25 score as a 0-1 relevance: its share of `ceiling` (the score of a passage of
    average length holding each query word once: see Index.keyword_ceiling), at most 1; where
    there is no ceiling, its share of `best`, the query's best BM25."""
    top = ceiling or best or 1.0
    return min(1.0, max(0.0, bm25 / top))
