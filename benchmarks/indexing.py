"""Indexing speed, the whole pipeline: precision fp32 against auto on the same documents, same run.

Run: .venv/bin/python benchmarks/indexing.py [DATASET_DIR] [--docs N] [--rounds 2]
DATASET_DIR is a BEIR folder (default ../shared/eval/scifact; its corpus.jsonl only; without
it, the output says it was not run). Each round indexes the first N documents (default: all)
into a fresh index, so nothing comes from the embedding cache: read, split, embed, commit
(SQLite rows, BM25 postings, the vector index). The models are loaded before the clock starts (the int8 build is cached, as after a
user's first run), and rounds alternate between the two precisions, so a burst of load from
other processes hits both alike. Prints a markdown table; --json writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", default=str(ROOT.parent / "shared/eval/scifact"))
    parser.add_argument("--docs", type=int, default=None, help="documents (default: all)")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs of each precision")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from embedding import cpu

    from paraseek.embedder import Embedder
    from paraseek.evaluate import load_beir
    from paraseek.index import Writer

    if not (Path(args.dataset) / "corpus.jsonl").exists():
        print(f"Not run: no BEIR dataset at {args.dataset} (SciFact lies in ../shared/eval).")
        return
    documents = list(load_beir(args.dataset).documents())[: args.docs]
    embedders = {name: Embedder(precision=name) for name in ("fp32", "auto")}
    seconds: dict[str, list[float]] = {name: [] for name in embedders}
    passages = 0
    with tempfile.TemporaryDirectory(prefix="paraseek-bench-") as temp:
        for round_ in range(args.rounds):
            for name, embedder in embedders.items():
                path = Path(temp) / f"{name}-{round_}"
                start = time.perf_counter()
                with Writer(path, embedder) as writer:
                    passages = writer.add(documents).passages
                seconds[name].append(time.perf_counter() - start)
    rates = {name: passages / statistics.median(s) for name, s in seconds.items()}
    ratio = rates["auto"] / rates["fp32"]
    info = cpu()
    print(f"CPU: {info['name']}, {info['cores']} cores, flags: {' '.join(info['flags'])}")
    print(
        f"{len(documents)} documents of {Path(args.dataset).name}, {passages} passages, median "
        f"of {args.rounds} runs each; load average {os.getloadavg()}\n"
    )
    print("| precision | runtime | seconds | passages/s | vs fp32 |")
    print("|---|---|---:|---:|---:|")
    for name, embedder in embedders.items():
        print(
            f"| {name} | {embedder.runtime} | {statistics.median(seconds[name]):.1f} "
            f"| {rates[name]:.1f} | {rates[name] / rates['fp32']:.2f}x |"
        )
    if args.json:
        figures = {"documents": len(documents), "passages": passages, "seconds": seconds,
                   "passages_per_s": rates, "ratio": ratio, "cpu": info}  # fmt: skip
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
