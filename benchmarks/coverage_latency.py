"""Warm hybrid search with and without the query-word coverage of long queries, same index, same run.

Run: .venv/bin/python benchmarks/coverage_latency.py [--size 100000] [--index DIR] [--n 100] [--close]
(--index: where to build the scaled index once and find it again, as sentence_latency.py does;
or an existing index.) Searches alternate, on different questions, between a Searcher that
takes the coverage path on every query (COVERAGE_RARITY set to 0, so even the short generated
questions pay for it: the worst case) and one with coverage_weight 0 whose BM25 scoring also
skips gathering each passage's held IDF (the search path before coverage). With --close, the
coverage with close words (paraseek/words.py) against the coverage of words as written
(close_words=False), both on every query. Prints p50 and p95 in ms of each and their ratio.
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
    parser.add_argument("--close", action="store_true", help="close words against words as written")
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
    if args.close:
        close, exact = Searcher(index, embedder), Searcher(other, embedder, close_words=False)
        print(f"{index.stats()['passages']} passages, {len(index.word_vectors()[0])} words "
              f"with vectors, warm hybrid search, k=10, {args.n} each")  # fmt: skip
        alternate(
            {"close words, every query": lambda q: close.search(q, 10),
             "words as written, every query": lambda q: exact.search(q, 10)},
            args.n,
        )  # fmt: skip
        return
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
