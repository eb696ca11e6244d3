"""Sweep hybrid fusion settings on a BEIR split (tune on train, report on test).

Run: .venv/bin/python benchmarks/tune_hybrid.py ../shared/eval/scifact --index /tmp/scifact-idx --split train
The index must already hold the corpus (`paraseek eval DATASET --index DIR` builds it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paraseek.embedder import Embedder
from paraseek.evaluate import documents_in_order, load_beir, score_run
from paraseek.index import Index
from paraseek.search import Searcher
from tests.test_search import GOLDEN


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--index", required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--sample-index", help="an index of data/corpus, for the golden questions")
    args = parser.parse_args()
    dataset = load_beir(args.dataset, args.split)
    embedder = Embedder()
    index = Index(args.index)
    sample = Index(args.sample_index) if args.sample_index else None
    ids = list(dataset.queries)
    texts = [dataset.queries[i] for i in ids]
    print("| fusion | dense weight | nDCG@10 | Recall@100 | MRR@10 | golden top-3 |")
    print("|---|---|---|---|---|---|")
    settings = [("score", w) for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]
    settings += [("rrf", w) for w in (0.3, 0.5, 0.7)]
    for fusion, weight in settings:
        searcher = Searcher(index, embedder, hybrid_weight=weight, fusion=fusion)
        results = searcher.search_many(texts, k=200, mode="hybrid")
        run = {
            q: documents_in_order([h.document_id for h in hits], 100)
            for q, hits in zip(ids, results, strict=True)
        }
        ndcg, recall, mrr = score_run(run, dataset.qrels)
        golden = ""
        if sample is not None:
            s = Searcher(sample, embedder, hybrid_weight=weight, fusion=fusion)
            golden = str(
                sum(
                    any(a in h.text for h in s.search(q, 3, mode="hybrid") for a in ans)
                    for q, ans in GOLDEN
                )
            )
        print(
            f"| {fusion} | {weight} | {ndcg:.4f} | {recall:.4f} | {mrr:.4f} | {golden}/{len(GOLDEN)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
