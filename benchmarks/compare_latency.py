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
    """What compare(query) replaces: one dense search, filtered to each document, per document."""
    groups = []
    with searcher.snapshot():
        for document in searcher.documents():
            groups.append(searcher.search(query, k=1, documents=[document.id], mode="dense"))
    groups = [hits for hits in groups if hits]
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
    agree: list[float] = []
    for i, q in enumerate(questions):
        order = ("scan", "per_document") if i % 2 else ("per_document", "scan")
        answers = {}
        for name in order:
            started = time.perf_counter()
            answers[name] = searcher.compare(q) if name == "scan" else per_document(searcher, q)
            times[name].append((time.perf_counter() - started) * 1000)
        a = {h.document_id: h.passage_id for h in answers["scan"]}
        b = {h.document_id: h.passage_id for h in answers["per_document"]}
        same &= a.keys() == b.keys()  # compare picks positions, so passages may differ
        agree.append(sum(a[d] == b.get(d) for d in a) / max(len(a), 1))
    stats = searcher.info()
    figures = {
        "index": args.index, "documents": stats["documents"], "passages": stats["passages"],
        "questions": len(questions), "same_documents": same,
        "same_passage_share": statistics.mean(agree),
        **{f"{k}_p50_ms": statistics.median(v) for k, v in times.items()},
    }  # fmt: skip
    figures["ratio"] = figures["per_document_p50_ms"] / figures["scan_p50_ms"]
    print(json.dumps(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
