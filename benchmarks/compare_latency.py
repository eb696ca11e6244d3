"""Compare's latency: one scan of the cached vectors against a filtered search per document.

Run by hand: .venv/bin/python benchmarks/compare_latency.py INDEX [--questions 20]

For each question, in alternating order, `Searcher.compare` (each document's best passage:
one exact scan of every passage's cached vector, grouped by document) and the way compare
worked before 2026-11-23, reproduced here as the baseline: a filtered vector search per
document, then its passages, leads and document read one document at a time. Reports both
medians, their ratio, and whether both give every document the same passage (scores equal to
1e-5). Both run warm, after one untimed call; the scan's table of vectors is built then.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app_latency import QUESTIONS  # noqa: E402  (the same questions as the app benchmark)

SCIENCE = [
    "Does vitamin D reduce fracture risk?", "What causes insulin resistance?",
    "Is aspirin linked to lower cancer risk?", "How do T cells recognise antigens?",
    "Does smoking affect tuberculosis outcomes?",
]  # fmt: skip


def per_document(searcher, query: str):  # type: ignore[no-untyped-def]
    """compare(query) as it was: one filtered search per document."""
    from paraseek.search import LEAD_SLACK

    vector = searcher.embedder.embed_queries([query])
    groups = []
    with searcher.index.snapshot():
        skip = searcher.index.comment_ids()
        for document in searcher.index.documents():
            every = searcher.index.passage_ids([document.id])
            ids = [i for i in every if i not in skip] or every
            found, scores = searcher.index.search(vector, 1 + LEAD_SLACK, passage_ids=ids)
            pairs = list(zip(found[0], scores[0], strict=True))
            leads = searcher.leads(found[0])
            best = [(p, s) for p, s in pairs if p.id not in leads][:1] or pairs[:1]
            if best:
                groups.append(searcher._hits([p for p, _ in best], [s for _, s in best], leads))
    groups.sort(key=lambda hits: -hits[0].score)
    return [hit for hits in groups for hit in hits]


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from paraseek.search import Searcher

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("index")
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    searcher = Searcher.open(args.index)
    pool = QUESTIONS + SCIENCE
    questions = [f"{pool[i % len(pool)]}" + " ?" * (i // len(pool)) for i in range(args.questions)]
    searcher.compare("warm up"), per_document(searcher, "warm up")
    times: dict[str, list[float]] = {"scan": [], "per_document": []}
    same = True
    for i, q in enumerate(questions):
        order = ("scan", "per_document") if i % 2 else ("per_document", "scan")
        answers = {}
        for name in order:
            started = time.perf_counter()
            answers[name] = searcher.compare(q) if name == "scan" else per_document(searcher, q)
            times[name].append((time.perf_counter() - started) * 1000)
        a = {h.document_id: (h.passage_id, h.score) for h in answers["scan"]}
        b = {h.document_id: (h.passage_id, h.score) for h in answers["per_document"]}
        same &= a.keys() == b.keys() and all(
            a[d][0] == b[d][0] and abs(a[d][1] - b[d][1]) <= 1e-5 for d in a
        )
    stats = searcher.index.stats()
    figures = {
        "index": args.index, "documents": stats["documents"], "passages": stats["passages"],
        "questions": len(questions), "same_answers": same,
        **{f"{k}_p50_ms": statistics.median(v) for k, v in times.items()},
    }  # fmt: skip
    figures["ratio"] = figures["per_document_p50_ms"] / figures["scan_p50_ms"]
    print(json.dumps(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
