"""hit@1, hit@3 and MRR@10 of the golden questions (tests/golden.json) on the sample corpus, per mode.

Run: .venv/bin/python benchmarks/golden.py [--index DIR] [--misses]
The index is built from data/corpus into DIR if DIR does not hold it yet (a few seconds).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paraseek.embedder import Embedder  # noqa: E402
from paraseek.evaluate import load_golden, score_golden  # noqa: E402
from paraseek.index import Index, Writer  # noqa: E402
from paraseek.search import MODES, Searcher  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", default="/tmp/paraseek-golden-index")
    parser.add_argument("--golden", default=str(ROOT / "tests" / "golden.json"))
    parser.add_argument("--misses", action="store_true", help="list questions not answered first")
    args = parser.parse_args()
    embedder = Embedder()
    with Writer(args.index, embedder) as writer:
        writer.update([ROOT / "data" / "corpus"])
    searcher = Searcher(Index(args.index), embedder)
    questions = load_golden(args.golden)
    print(f"{len(questions)} golden questions, {embedder.runtime}")
    print("| mode | hit@1 | hit@3 | MRR@10 |")
    print("|---|---:|---:|---:|")
    for mode in MODES:
        scores = score_golden(searcher, questions, mode)
        print(
            f"| {mode} | {scores.hit_at_1:.3f} | {scores.hit_at_3:.3f} | {scores.mrr_at_10:.3f} |"
        )
        if args.misses:
            for question, rank in scores.ranks.items():
                if rank != 1:
                    print(f"    {rank}  {question}")


if __name__ == "__main__":
    main()
