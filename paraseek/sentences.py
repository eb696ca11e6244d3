"""Sentence-level evidence: a passage whose one sentence answers the query ranks by that
sentence too, not only by the passage's mean vector.

Each passage's sentences were pooled out of its own forward pass at index time and stored as
int8 (`index.sentence_vectors`), so a query embeds nothing more: it reads its candidates'
sentence vectors and takes one product. The combined cosine is on the passage cosine's scale
and feeds the same relevance (`calibration.relevance`) as the passage cosine would.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .index import Index

# The best sentence's share in a candidate's dense cosine; chosen on SciFact train
# (docs/quality.md, "Sentence-level evidence").
SENTENCE_WEIGHT = 0.5


def best_sentence_cosines(
    index: Index, query_vector: np.ndarray, ids: Sequence[int]
) -> dict[int, float]:
    """The cosine of each passage's best sentence with the query.

    Args:
        index: the index the passages are in.
        query_vector: the query's embedding, shape (dimension,).
        ids: passage ids.

    Returns:
        passage id -> the largest cosine of its stored sentences; passages without stored
        sentence vectors (one sentence, or none stored) are absent.
    """
    stored = index.sentence_vectors(ids)
    if not stored:
        return {}
    order = list(stored)
    scores = np.vstack([stored[i] for i in order]) @ np.asarray(query_vector, dtype=np.float32)
    starts = np.cumsum([0, *(len(stored[i]) for i in order[:-1])])
    return dict(zip(order, np.maximum.reduceat(scores, starts).tolist(), strict=True))


def with_sentences(
    index: Index, query_vector: np.ndarray, cosines: dict[int, float], weight: float
) -> dict[int, float]:
    """Passage cosines raised towards their best sentence's: passage + weight x (best
    sentence - passage) where the best sentence is closer to the query than the passage as a
    whole; a passage whose sentences are all further (its sense is spread over them) or that
    has no sentence vectors keeps its cosine, so sentences only add evidence.

    Args:
        cosines: passage id -> its cosine with the query.
        weight: the best sentence's share, 0 to 1; 0 returns `cosines` as they are.
    """
    if weight <= 0 or not cosines:
        return dict(cosines)
    best = best_sentence_cosines(index, query_vector, list(cosines))
    return {i: c + weight * max(best.get(i, c) - c, 0.0) for i, c in cosines.items()}
