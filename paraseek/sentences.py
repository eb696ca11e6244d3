"""Sentence-level evidence: a passage whose one sentence, or two adjacent sentences, answer
the query ranks by them too, not only by the passage's mean vector.

Each passage's sentences were pooled out of its own forward pass at index time and stored as
int8 (`index.sentence_vectors`), so a query embeds nothing more: it reads its candidates'
sentence vectors and takes one product. A window of two adjacent sentences is scored from the
same product (the normalised mean of their two vectors), so it costs no storage. The combined
cosine is on the passage cosine's scale and feeds the same relevance
(`calibration.relevance`) as the passage cosine would.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .index import Index

# The best sentence's (or window's) share in a candidate's dense cosine; chosen on SciFact
# train and the golden questions (docs/quality.md, "Sentence-level evidence").
SENTENCE_WEIGHT = 0.8


def best_sentence_cosines(
    index: Index, query_vector: np.ndarray, ids: Sequence[int]
) -> dict[int, float]:
    """The cosine of each passage's best sentence, or window of two adjacent sentences, with
    the query.

    A window's vector is the normalised mean of its two sentences' vectors; a passage of two
    sentences has no window (it would be about the passage itself).

    Args:
        index: the index the passages are in.
        query_vector: the query's embedding, shape (dimension,).
        ids: passage ids.

    Returns:
        passage id -> the largest cosine of its stored sentences and windows; passages without
        stored sentence vectors (one sentence, or none stored) are absent.
    """
    stored = index.sentence_vectors(ids)
    if not stored:
        return {}
    order = list(stored)
    counts = np.array([len(stored[i]) for i in order])
    matrix = np.vstack([stored[i] for i in order])
    scores = matrix @ np.asarray(query_vector, dtype=np.float32)
    starts = np.cumsum([0, *counts[:-1]])
    # Window j joins sentences j and j + 1 (rows of one passage of three sentences or more);
    # its cosine is the sum of theirs over the norm of their summed vectors.
    owner = np.repeat(np.arange(len(order)), counts)
    joins = (owner[:-1] == owner[1:]) & (counts[owner[:-1]] > 2)
    windows = np.full(len(scores), -np.inf, dtype=np.float32)
    if joins.any():
        rows = np.flatnonzero(joins)
        norms = np.linalg.norm(matrix[rows] + matrix[rows + 1], axis=1)
        windows[rows] = (scores[rows] + scores[rows + 1]) / np.maximum(norms, 1e-9)
    best = np.maximum.reduceat(np.maximum(scores, windows), starts)
    return dict(zip(order, best.tolist(), strict=True))


def with_sentences(
    index: Index, query_vector: np.ndarray, cosines: dict[int, float], weight: float
) -> dict[int, float]:
    """Passage cosines raised towards their best sentence's or window's
    (`best_sentence_cosines`): passage + weight x (best - passage) where the best is closer to
    the query than the passage as a whole; a passage whose sentences and windows are all
    further (its sense is spread over them) or that has no sentence vectors keeps its cosine,
    so sentences only add evidence.

    Args:
        cosines: passage id -> its cosine with the query.
        weight: the best sentence's or window's share, 0 to 1; 0 returns `cosines` as they
            are.
    """
    if weight <= 0 or not cosines:
        return dict(cosines)
    best = best_sentence_cosines(index, query_vector, list(cosines))
    return {i: c + weight * max(best.get(i, c) - c, 0.0) for i, c in cosines.items()}
