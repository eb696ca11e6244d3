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

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from search_latency import ab_arguments, alternate, scaled_or_given  # noqa: E402


def main() -> None:
    from paraseek import search
    from paraseek.embedder import Embedder
    from paraseek.index import Index, keyword
    from paraseek.search import COVERAGE_WEIGHT, Searcher

    parser = ab_arguments(__doc__.splitlines()[0])
    args = parser.parse_args()
    folder = scaled_or_given(args.index, args.size, "paraseek-cl-")
    index, other = Index(folder), Index(folder)
    search.COVERAGE_RARITY = 0.0
    scores = keyword.scores

    def plain_scores(conn, stats, tokens, idfs=None, held=None):  # type: ignore[no-untyped-def]
        return scores(conn, stats, tokens, idfs, None if on["without"] else held)

    on = {"without": False}
    keyword.scores = plain_scores  # type: ignore[assignment]
    embedder = Embedder(precision="auto")
    with_, without = Searcher(index, embedder), Searcher(other, embedder, coverage_weight=0.0)

    def searching(searcher: Searcher, plain: bool) -> Callable[[str], object]:
        def run(q: str) -> object:
            on["without"] = plain
            return searcher.search(q, 10)

        return run

    print(f"{index.stats()['passages']} passages, warm hybrid search, k=10, {args.n} each")
    alternate(
        {f"coverage {COVERAGE_WEIGHT}, every query": searching(with_, False),
         "without": searching(without, True)},
        args.n,
    )  # fmt: skip


if __name__ == "__main__":
    main()
