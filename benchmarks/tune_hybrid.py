"""Sweep hybrid fusion settings on a BEIR split (tune on train, report on test).

Run: .venv/bin/python benchmarks/tune_hybrid.py ../shared/eval/scifact --index /tmp/scifact-idx --split train --sample-index IDX
(IDX: an index of data/corpus, for the golden questions of tests/golden.json)
The index must already hold the corpus (`paraseek eval DATASET --index DIR` builds it).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tuning import GOLDEN, arguments

from paraseek.embedder import Embedder
from paraseek.evaluate import load_beir, run_of, score_golden, score_run
from paraseek.index import Index
from paraseek.search import Searcher


def main() -> None:
    parser = arguments()
    parser.add_argument(
        "--fusion", action="append", help="relevance, score or rrf (repeatable; default all)"
    )
    args = parser.parse_args()
    dataset = load_beir(args.dataset, args.split)
    embedder = Embedder()
    index = Index(args.index)
    sample = Index(args.sample_index) if args.sample_index else None
    print("| fusion | dense weight | nDCG@10 | Recall@100 | MRR@10 | golden hit@1 | golden hit@3 |")
    print("|---|---|---|---|---|---|---|")
    chosen = args.fusion or ["relevance", "score", "rrf"]
    settings = [("relevance", w) for w in (0.6, 0.7, 0.8, 0.85, 0.9, 0.95)]
    settings += [("score", w) for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]
    settings += [("rrf", w) for w in (0.3, 0.5, 0.7)]
    settings = [(f, w) for f, w in settings if f in chosen]
    for fusion, weight in settings:
        searcher = Searcher(index, embedder, hybrid_weight=weight, fusion=fusion)
        ndcg, recall, mrr = score_run(run_of(searcher, dataset, "hybrid"), dataset.qrels)
        golden = " | "
        if sample is not None:
            s = Searcher(sample, embedder, hybrid_weight=weight, fusion=fusion)
            scores = score_golden(s, GOLDEN, "hybrid")
            golden = f"{scores.hit_at_1:.3f} | {scores.hit_at_3:.3f}"
        print(
            f"| {fusion} | {weight} | {ndcg:.4f} | {recall:.4f} | {mrr:.4f} | {golden} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
