"""Warm hybrid search with and without dense pseudo-relevance feedback, same index, same run.

Run: .venv/bin/python benchmarks/feedback_latency.py [--size 100000] [--index DIR] [--n 100] [--feedback 0.3] [--depth 3]
(--index: where to build the scaled index once and find it again, as sentence_latency.py does;
or an existing index.) Searches alternate between a Searcher with feedback (a second vector
search per query) and one without, on different questions, so a burst of load hits both
alike. Prints p50 and p95 in ms of each and their ratio.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from search_latency import ab_arguments, alternate, scaled_or_given  # noqa: E402


def main() -> None:
    from paraseek.embedder import Embedder
    from paraseek.index import Index
    from paraseek.search import Searcher

    parser = ab_arguments(__doc__.splitlines()[0])
    parser.add_argument("--feedback", type=float, default=0.3)
    parser.add_argument("--depth", type=int, default=3)
    args = parser.parse_args()
    index = Index(scaled_or_given(args.index, args.size, "paraseek-fl-"))
    embedder = Embedder(precision="auto")
    with_ = Searcher(index, embedder, feedback_weight=args.feedback, feedback_depth=args.depth)
    without = Searcher(index, embedder, feedback_weight=0.0)
    print(f"{index.stats()['passages']} passages, warm hybrid search, k=10, {args.n} each")
    alternate(
        {f"feedback {args.feedback} x top {args.depth}": lambda q: with_.search(q, 10),
         "no feedback": lambda q: without.search(q, 10)},
        args.n,
    )  # fmt: skip


if __name__ == "__main__":
    main()
