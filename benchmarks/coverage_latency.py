"""Warm hybrid search with and without the query-word coverage of long queries, same index, same run.

Run: .venv/bin/python benchmarks/coverage_latency.py [--size 100000] [--index DIR] [--n 100]
(--index: where to build the scaled index once and find it again, as sentence_latency.py does;
or an existing index.) Searches alternate, on different questions, between a Searcher that
takes the coverage path on every query (COVERAGE_RARITY set to 0, so even the short generated
questions pay for it: the worst case) and one with coverage_weight 0 whose BM25 scoring also
skips gathering each passage's held IDF (the search path before coverage). Prints p50 and p95
in ms of each and their ratio.
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
    from paraseek import search
    from paraseek.embedder import Embedder
    from paraseek.index import Index, keyword
    from paraseek.search import COVERAGE_WEIGHT, Searcher

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--index", help="an index folder to build once and reuse")
    parser.add_argument("--n", type=int, default=100)
    args = parser.parse_args()
    folder = Path(args.index) if args.index else Path(tempfile.mkdtemp(prefix="paraseek-cl-"))
    if (folder / "manifest.json").exists():  # an index as it is (SciFact's, say)
        index, other = Index(folder), Index(folder)
    else:
        if not (folder / "index" / "manifest.json").exists():
            build_scaled(folder, args.size, "auto")
        index, other = Index(folder / "index"), Index(folder / "index")
    search.COVERAGE_RARITY = 0.0
    scores = keyword.scores

    def plain_scores(conn, stats, tokens, idfs=None, held=None):  # type: ignore[no-untyped-def]
        return scores(conn, stats, tokens, idfs, None if on["without"] else held)

    on = {"without": False}
    keyword.scores = plain_scores  # type: ignore[assignment]
    embedder = Embedder(precision="auto")
    searchers = {
        f"coverage {COVERAGE_WEIGHT}, every query": Searcher(index, embedder),
        "without": Searcher(other, embedder, coverage_weight=0.0),
    }
    times: dict[str, list[float]] = {name: [] for name in searchers}
    for name, searcher in searchers.items():
        on["without"] = name == "without"
        searcher.search("warm up the model and the caches", 10)
    for i, q in enumerate(questions(2 * args.n, 1000)):
        name = list(searchers)[i % 2]
        on["without"] = name == "without"
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
