"""Why a hit matched: where the query's words occur, and the sentence closest to the query."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .corpus import sentence_spans
from .embedder import Embedder


def best_sentences(
    embedder: Embedder, query_vector: np.ndarray, texts: Sequence[str]
) -> list[tuple[int, int] | None]:
    """For each text, the span of its sentence most similar to the query.

    Args:
        embedder: the index's model.
        query_vector: the query's embedding, shape (dimension,).
        texts: passage texts.

    Returns:
        One (start, end) span per text, offsets into that text; None for an empty text. A
        one-sentence text's span is the whole sentence and costs no embedding.
    """
    spans = [sentence_spans(t) for t in texts]
    several = [i for i, s in enumerate(spans) if len(s) > 1]
    sentences = [texts[i][a:b] for i in several for a, b in spans[i]]
    scores = embedder.embed_documents(sentences) @ query_vector if sentences else np.zeros(0)
    best: list[tuple[int, int] | None] = [s[0] if s else None for s in spans]
    offset = 0
    for i in several:
        count = len(spans[i])
        best[i] = spans[i][int(np.argmax(scores[offset : offset + count]))]
        offset += count
    return best
