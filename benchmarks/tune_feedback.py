"""Sweep dense pseudo-relevance feedback (Searcher.feedback) and document aggregation on a BEIR split.

Run: .venv/bin/python benchmarks/tune_feedback.py ../shared/eval/scifact --index IDX --split train --sample-index GOLDEN_IDX --settings "feedback=0;feedback=0.3,depth=3"
IDX must already hold the corpus (`paraseek eval DATASET --index IDX` builds it); GOLDEN_IDX is an
index of data/corpus (benchmarks/golden.py builds one). Each setting (';' between settings) names
what differs from the defaults: feedback (Searcher feedback_weight), depth (feedback_depth),
hybrid (hybrid_weight), sentence (sentence_weight), candidates (search.HYBRID_DEPTH), k1 and b
(BM25's, index.keyword.K1 and B); it runs the real Searcher in hybrid mode on every query.
--second S also scores each document by its best passage plus S x its second best (S = 0: the
best alone, as `paraseek eval` does).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tuning import GOLDEN, arguments

from paraseek import search
from paraseek.embedder import Embedder
from paraseek.evaluate import RUN_DEPTH, load_beir, score_golden, score_run
from paraseek.hit import Hit
from paraseek.index import Index, keyword
from paraseek.search import Searcher


def documents_by(hits: Sequence[Hit], second: float, k: int = 100) -> list[str]:
    """Document ids ranked by best passage score + `second` x second best passage score."""
    found: dict[str, list[float]] = {}
    for h in hits:
        found.setdefault(h.document_id, []).append(h.score)
    total = {d: s[0] + second * (s[1] if len(s) > 1 else 0.0) for d, s in found.items()}
    return sorted(total, key=lambda d: -total[d])[:k]


def memoised(embedder: Embedder) -> Embedder:
    """`embedder` with its query embeddings kept, so each setting embeds nothing again."""
    seen: dict[str, np.ndarray] = {}
    plain = embedder.embed_queries

    def embed_queries(texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in seen]
        if new:
            seen.update(zip(new, plain(new), strict=True))
        return np.vstack([seen[t] for t in texts]) if texts else plain(texts)

    embedder.embed_queries = embed_queries  # type: ignore[method-assign]
    return embedder


def main() -> None:
    parser = arguments()
    parser.add_argument("--settings", default="feedback=0;feedback=0.3,depth=3")
    parser.add_argument("--second", default="0", help="shares of the second-best passage")
    args = parser.parse_args()
    dataset = load_beir(args.dataset, args.split)
    embedder = memoised(Embedder())
    index = Index(args.index)
    sample = Index(args.sample_index) if args.sample_index else None
    ids = list(dataset.queries)
    texts = [dataset.queries[i] for i in ids]
    print(f"{dataset.name} {args.split}: {len(ids)} queries, {embedder.runtime}")
    print("| setting | second | nDCG@10 | Recall@100 | MRR@10 | golden hit@1 "
          "| golden hit@3 | golden MRR@10 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for setting in args.settings.split(";"):
        given = {k: float(v) for k, v in (kv.split("=") for kv in setting.split(",") if kv)}
        keyword.K1, keyword.B = given.get("k1", 1.2), given.get("b", 0.75)
        search.HYBRID_DEPTH = int(given.get("candidates", 100))
        options = {
            "hybrid_weight": given.get("hybrid", search.HYBRID_WEIGHT),
            "sentence_weight": given.get("sentence", search.SENTENCE_WEIGHT),
            "feedback_weight": given.get("feedback", search.FEEDBACK_WEIGHT),
            "feedback_depth": int(given.get("depth", search.FEEDBACK_DEPTH)),
        }
        searcher = Searcher(index, embedder, **options)  # type: ignore[arg-type]
        results = searcher.search_many(texts, k=RUN_DEPTH, mode="hybrid")
        golden = " | | "
        if sample is not None:
            s = Searcher(sample, embedder, **options)  # type: ignore[arg-type]
            g = score_golden(s, GOLDEN, "hybrid")
            golden = f"{g.hit_at_1:.3f} | {g.hit_at_3:.3f} | {g.mrr_at_10:.3f}"
        for second in (float(x) for x in args.second.split(",")):
            run = {q: documents_by(hits, second) for q, hits in zip(ids, results, strict=True)}
            ndcg, recall, mrr = score_run(run, dataset.qrels)
            print(
                f"| {setting or 'defaults'} | {second} | {ndcg:.4f} | {recall:.4f} | {mrr:.4f} "
                f"| {golden} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
