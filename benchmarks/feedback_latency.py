"""Warm hybrid search with and without dense pseudo-relevance feedback, same index, same run.

Run: .venv/bin/python benchmarks/feedback_latency.py [--size 100000] [--index DIR] [--n 100] [--feedback 0.3] [--depth 3]
(--index: where to build the scaled index once and find it again, as sentence_latency.py does;
or an existing index.) Searches alternate between a Searcher with feedback (a second vector
search per query) and one without, on different questions, so a burst of load hits both
alike. Prints p50 and p95 in ms of each and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from app_latency import percentile  # noqa: E402
from search_latency import build_scaled, questions  # noqa: E402


def main() -> None:
    from paraseek.embedder import Embedder
    from paraseek.index import Index
    from paraseek.search import Searcher

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--index", help="an index folder to build once and reuse")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--feedback", type=float, default=0.3)
    parser.add_argument("--depth", type=int, default=3)
    args = parser.parse_args()
    folder = Path(args.index) if args.index else Path(tempfile.mkdtemp(prefix="paraseek-fl-"))
    if (folder / "manifest.json").exists():  # an index as it is (SciFact's, say)
        index = Index(folder)
    else:
        if not (folder / "index" / "manifest.json").exists():
            build_scaled(folder, args.size, "auto")
        index = Index(folder / "index")
    embedder = Embedder(precision="auto")
    searchers = {
        f"feedback {args.feedback} x top {args.depth}": Searcher(
            index, embedder, feedback_weight=args.feedback, feedback_depth=args.depth
        ),
        "no feedback": Searcher(index, embedder, feedback_weight=0.0),
    }
    times: dict[str, list[float]] = {name: [] for name in searchers}
    for searcher in searchers.values():
        searcher.search("warm up the model and the caches", 10)
    for i, q in enumerate(questions(2 * args.n, 1000)):
        name = list(searchers)[i % 2]
        started = time.perf_counter()
        searchers[name].search(q, 10)
        times[name].append((time.perf_counter() - started) * 1000)
    print(f"{index.stats()['passages']} passages, warm hybrid search, k=10, {args.n} each")
    print("| ranking | p50 ms | p95 ms |")
    print("|---|---:|---:|")
    p50 = {}
    for name, t in times.items():
        p50[name] = statistics.median(t)
        print(f"| {name} | {p50[name]:.1f} | {percentile(t, 95):.1f} |")
    with_, without = p50.values()
    print(f"p50 ratio: {with_ / without:.2f}")


if __name__ == "__main__":
    main()
