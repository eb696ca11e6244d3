"""Warm hybrid search with and without close words in the query-word coverage, same index, same run.

Run: .venv/bin/python benchmarks/close_words_latency.py [--size 100000] [--index DIR] [--n 100]
(--index: where to build the scaled index once and find it again, as sentence_latency.py does;
or an existing index.) Searches alternate, on different questions, between a Searcher whose
coverage counts close words (paraseek/words.py) and one that counts the query's words as
written (close_words=False), both taking the coverage path on every query (COVERAGE_RARITY set
to 0, so even the short generated questions pay for it: the worst case). Prints p50 and p95 in
ms of each and their ratio.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from search_latency import ab_arguments, alternate, scaled_or_given  # noqa: E402


def main() -> None:
    from paraseek import search
    from paraseek.embedder import Embedder
    from paraseek.index import Index
    from paraseek.search import Searcher

    parser = ab_arguments(__doc__.splitlines()[0])
    args = parser.parse_args()
    folder = scaled_or_given(args.index, args.size, "paraseek-cw-")
    index, other = Index(folder), Index(folder)
    search.COVERAGE_RARITY = 0.0
    embedder = Embedder(precision="auto")
    close, exact = Searcher(index, embedder), Searcher(other, embedder, close_words=False)
    words = len(index.word_vectors()[0])
    print(f"{index.stats()['passages']} passages, {words} words with vectors, warm hybrid "
          f"search, k=10, {args.n} each")  # fmt: skip
    alternate(
        {"close words, every query": lambda q: close.search(q, 10),
         "words as written, every query": lambda q: exact.search(q, 10)},
        args.n,
    )  # fmt: skip


if __name__ == "__main__":
    main()
