"""Why a hit matched: where the query's words occur, and the sentence closest to the query."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .corpus import sentence_spans
from .embedder import Embedder
from .index import Index


def best_sentences(
    index: Index, embedder: Embedder, query_vector: np.ndarray, passages: Sequence[tuple[int, str]]
) -> list[tuple[int, int] | None]:
    """For each passage, the span of its sentence most similar to the query.

    Reads the sentence vectors stored at index time (pooled out of each passage's own forward
    pass, `index.sentence_vectors`), the same ones that raised the hit in a hybrid search
    (`paraseek.sentences`), so nothing is embedded: the sentence shown is the one that lifted
    the hit. A passage of two sentences or more whose vectors are not stored (they failed their
    checksum, or the passage is gone) has its sentences embedded one by one instead.

    Args:
        index: the index the passages are in.
        embedder: the index's model (used only where vectors are not stored).
        query_vector: the query's embedding, shape (dimension,).
        passages: (passage id, passage text) of each hit.

    Returns:
        One (start, end) span per passage, offsets into its text; None for an empty text. A
        one-sentence text's span is that sentence.
    """
    spans = [sentence_spans(text) for _, text in passages]
    best: list[tuple[int, int] | None] = [s[0] if s else None for s in spans]
    several = [n for n, s in enumerate(spans) if len(s) > 1]
    stored = index.sentence_vectors([passages[n][0] for n in several]) if several else {}
    query = np.asarray(query_vector, dtype=np.float32)
    lacking = []
    for n in several:
        vectors = stored.get(passages[n][0])
        if vectors is None or len(vectors) != len(spans[n]):
            lacking.append(n)
        else:
            best[n] = spans[n][int(np.argmax(vectors @ query))]
    if lacking:
        embedded = embedded_best_sentences(embedder, query, [passages[n][1] for n in lacking])
        for n, span in zip(lacking, embedded, strict=True):
            best[n] = span
    return best


def embedded_best_sentences(
    embedder: Embedder, query_vector: np.ndarray, texts: Sequence[str]
) -> list[tuple[int, int] | None]:
    """`best_sentences` by embedding each sentence of each text on its own (tens of
    milliseconds per text on a CPU): where no sentence vectors are stored.

    Returns:
        One (start, end) span per text, offsets into that text; None for an empty text.
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
