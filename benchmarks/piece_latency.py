"""Warm hybrid search with and without the pieces of split paragraphs, same index, same run.

Run: .venv/bin/python benchmarks/piece_latency.py [--size 100000] [--index DIR] [--n 100]
(--index: where to build the scaled index once and find it again, as sentence_latency.py does;
or an existing index, such as SciFact's, where most abstracts are split in pieces: the worst
case.) Searches alternate, on different questions, between a Searcher with the piece weight in
use (each candidate's paragraph pieces looked up, and those that are not candidates scored from
their stored vectors and sentence vectors) and one with piece_weight 0 (the search path before).
Prints p50 and p95 in ms of each and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from search_latency import alternate, scaled_or_given  # noqa: E402


def main() -> None:
    from paraseek.embedder import Embedder
    from paraseek.index import Index
    from paraseek.search import PIECE_WEIGHT, Searcher

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--index", help="an index folder to build once and reuse")
    parser.add_argument("--n", type=int, default=100)
    args = parser.parse_args()
    folder = scaled_or_given(args.index, args.size, "paraseek-pl-")
    index, other = Index(folder), Index(folder)
    embedder = Embedder(precision="auto")
    with_, without = Searcher(index, embedder), Searcher(other, embedder, piece_weight=0.0)

    def searching(searcher: Searcher) -> Callable[[str], object]:
        return lambda q: searcher.search(q, 10)

    print(f"{index.stats()['passages']} passages, warm hybrid search, k=10, {args.n} each")
    times = alternate(
        {f"pieces {PIECE_WEIGHT}": searching(with_), "without": searching(without)}, args.n
    )
    p50 = [statistics.median(t) for t in times.values()]
    print(f"p50 ratio: {p50[0] / p50[1]:.2f}")


if __name__ == "__main__":
    main()
