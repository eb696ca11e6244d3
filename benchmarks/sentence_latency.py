"""Warm hybrid search with and without sentence-level evidence, on the same index, same run.

Run: .venv/bin/python benchmarks/sentence_latency.py [--size 100000] [--index DIR] [--n 100]
(--index: where to build the scaled index once and find it again; or an existing index.)
Builds (or reuses, with --index) an index of SIZE passages as search_latency.py does (real
SQLite, FTS5 and vector index; each passage's vector pre-cached, and its sentence vectors
stored: its vector plus noise, one per sentence). Then searches alternate between a Searcher
with the sentence weight in use, one with single sentences only (no windows of two: the
evidence as it was first built) and one with weight 0 (passages alone: the search path without
sentence evidence), on different questions, so a burst of load hits them alike. Prints p50 and
p95 in ms of each and the p50 ratios to passages alone.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from search_latency import ab_arguments, alternate, scaled_or_given  # noqa: E402


def single(index, query_vector, cosines, weight):  # type: ignore[no-untyped-def]
    """sentences.with_sentences as it was before windows of two: the best single sentence,
    in the same vectorised form (one product, one reduceat)."""
    import numpy as np

    if weight <= 0 or not cosines:
        return dict(cosines)
    stored = index.sentence_vectors(list(cosines))
    if not stored:
        return dict(cosines)
    order = list(stored)
    scores = np.vstack([stored[i] for i in order]) @ np.asarray(query_vector, dtype=np.float32)
    starts = np.cumsum([0, *(len(stored[i]) for i in order[:-1])])
    best = dict(zip(order, np.maximum.reduceat(scores, starts).tolist(), strict=True))
    return {i: c + weight * max(best.get(i, c) - c, 0.0) for i, c in cosines.items()}


def main() -> None:
    from paraseek import search as search_module
    from paraseek.embedder import Embedder
    from paraseek.index import Index
    from paraseek.search import Searcher
    from paraseek.sentences import SENTENCE_WEIGHT, with_sentences

    parser = ab_arguments(__doc__.splitlines()[0])
    args = parser.parse_args()
    index = Index(scaled_or_given(args.index, args.size, "paraseek-sl-"))
    embedder = Embedder(precision="auto")

    def searching(searcher: Searcher, evidence: Callable[..., object]) -> Callable[[str], object]:
        def run(q: str) -> object:
            search_module.with_sentences = evidence  # type: ignore[attr-defined]
            return searcher.search(q, 10)

        return run

    print(f"{index.stats()['passages']} passages, warm hybrid search, k=10, {args.n} each")
    alternate(
        {f"sentences and windows {SENTENCE_WEIGHT}": searching(Searcher(index, embedder), with_sentences),
         f"single sentences {SENTENCE_WEIGHT}": searching(Searcher(index, embedder), single),
         "passages alone": searching(Searcher(index, embedder, sentence_weight=0.0), with_sentences)},
        args.n,
    )  # fmt: skip


if __name__ == "__main__":
    main()
