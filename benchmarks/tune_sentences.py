"""Sweep the sentence weight (sentences.with_sentences) on a BEIR split: tune on train, report on test.

Run: .venv/bin/python benchmarks/tune_sentences.py ../shared/eval/scifact --index IDX --split train --sample-index GOLDEN_IDX
IDX must already hold the corpus with its sentence vectors (`paraseek eval DATASET --index IDX`
builds both); GOLDEN_IDX is an index of data/corpus (benchmarks/golden.py builds one), for the
golden questions of tests/golden.json and the 15 older ones of tests/test_search.py (top 3).
Every setting runs the real Searcher in hybrid mode on every query.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paraseek.embedder import Embedder
from paraseek.evaluate import (
    RUN_DEPTH,
    documents_in_order,
    load_beir,
    load_golden,
    score_golden,
    score_run,
)
from paraseek.index import Index
from paraseek.search import Searcher

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = load_golden(ROOT / "tests" / "golden.json")


def older_golden(searcher: Searcher) -> int:
    """How many of the 15 questions of tests/test_search.py have an answer in the top 3."""
    from tests.test_search import GOLDEN as OLDER

    results = searcher.search_many([q for q, _ in OLDER], k=3, mode="hybrid")
    return sum(
        any(a in h.text for h in hits for a in answers)
        for (_, answers), hits in zip(OLDER, results, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--index", required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--sample-index", help="an index of data/corpus, for the golden questions")
    parser.add_argument("--weights", default="0,0.1,0.2,0.3,0.4,0.5")
    parser.add_argument("--hybrid-weights", default="0.8", help="dense weights of the fusion")
    args = parser.parse_args()
    dataset = load_beir(args.dataset, args.split)
    embedder = Embedder()
    index = Index(args.index)
    sample = Index(args.sample_index) if args.sample_index else None
    ids = list(dataset.queries)
    texts = [dataset.queries[i] for i in ids]
    print(f"{dataset.name} {args.split}: {len(ids)} queries, {embedder.runtime}")
    print("| dense weight | sentence weight | nDCG@10 | Recall@100 | MRR@10 | golden hit@1 | golden hit@3 "
          "| golden MRR@10 | older top 3 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    settings = [
        (float(h), float(w))
        for h in args.hybrid_weights.split(",")
        for w in args.weights.split(",")
    ]
    for hybrid, weight in settings:
        searcher = Searcher(index, embedder, hybrid_weight=hybrid, sentence_weight=weight)
        results = searcher.search_many(texts, k=RUN_DEPTH, mode="hybrid")
        run = {
            q: documents_in_order([h.document_id for h in hits], 100)
            for q, hits in zip(ids, results, strict=True)
        }
        ndcg, recall, mrr = score_run(run, dataset.qrels)
        golden = " | | | "
        if sample is not None:
            s = Searcher(sample, embedder, hybrid_weight=hybrid, sentence_weight=weight)
            g = score_golden(s, GOLDEN, "hybrid")
            golden = (
                f"{g.hit_at_1:.3f} | {g.hit_at_3:.3f} | {g.mrr_at_10:.3f} | {older_golden(s)}/15"
            )
        print(
            f"| {hybrid} | {weight} | {ndcg:.4f} | {recall:.4f} | {mrr:.4f} | {golden} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
