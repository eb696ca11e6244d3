"""Sweep the weight of the query-word coverage with close words (paraseek/words.py) and where a
close word starts to count (words.CLOSE), on a BEIR split and the golden set.

Run: .venv/bin/python benchmarks/tune_close_words.py ../shared/eval/scifact --index IDX --split train --sample-index GOLDEN_IDX --cache CACHE --settings "g=0.1|0.2|0.3,close=0.3|0.4|0.5" --folds 5
IDX must hold the corpus with its word vectors (`paraseek eval DATASET --index IDX` with this
code); CACHE is the candidates file of `benchmarks/tune_fusion.py ... --index IDX --cache
CACHE` (made there if missing). The first row is the fusion before close words (the coverage
of the query's words as written, weight 0.1); each setting re-scores the same candidates with
the coverage of close words at weight g for the queries of rarity >= COVERAGE_RARITY, computed
by the product's `words.coverage` from the index's stored word vectors. The golden questions
run the real Searcher with the setting; --folds checks the best setting's gain out of sample
(as tune_fusion.py does).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# Candidates: the cache that tune_fusion.py pickles as its __main__ is read here as ours.
from tune_fusion import Candidates, cross_validate, expand, fused, rarity  # noqa: E402, F401
from tuning import GOLDEN, arguments, older_golden  # noqa: E402

from paraseek import search, words  # noqa: E402
from paraseek.embedder import Embedder  # noqa: E402
from paraseek.evaluate import (  # noqa: E402
    RUN_DEPTH,
    documents_in_order,
    load_beir,
    ndcg_at,
    score_golden,
    score_run,
)
from paraseek.index import Index, keyword  # noqa: E402
from paraseek.search import Searcher  # noqa: E402


def features(  # type: ignore[no-untyped-def]
    searcher: Searcher, query: str, ids: np.ndarray, exact: np.ndarray | None = None,
    other_axes: np.ndarray | None = None,
):  # fmt: skip
    """What `words.coverage` takes for one query's candidates (`Searcher._close_inputs`); with
    `exact` (other vectors of the index's words, in their rows' order: the model's own, or their
    4-bit projections on `other_axes`), those instead of the stored."""
    found = searcher._close_inputs(query, ids.tolist())
    assert found is not None, "index the corpus with this code first: it has no word vectors"
    if exact is None:
        return found
    idfs, _, holds, members, _ = found
    known = searcher.index.word_vectors()[0]
    other = np.eye(searcher.index.dimension) if other_axes is None else other_axes
    terms = [w for w in keyword.query_terms(query) if keyword.term_tokens(w)]
    vectors = np.zeros((len(terms), exact.shape[1]), dtype=np.float32)
    for n, w in enumerate(terms):  # as _close_inputs does with the stored vectors
        if w in known:
            vectors[n] = exact[known[w]]
        elif words.embeddable(w):
            vectors[n] = words.project(searcher.embedder.embed_queries([w]), other)[0]
    return idfs, vectors, holds, members, exact


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True)
    parser.add_argument("--settings", default="g=0.2,close=0.4")
    parser.add_argument("--folds", type=int, default=0)
    parser.add_argument(
        "--float-words", action="store_true",
        help="embed the index's words again and use the model's float32 vectors (every dimension), "
        "not the stored 4-bit projections",
    )  # fmt: skip
    parser.add_argument(
        "--dimensions", type=int, default=0,
        help="embed the index's words again and keep this many of the model's axes, 4-bit",
    )  # fmt: skip
    args = parser.parse_args()
    if not Path(args.cache).exists():
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tune_fusion.py"), args.dataset,
                        "--index", args.index, "--split", args.split, "--cache", args.cache,
                        "--no-golden", "--settings", "cov=0.1,c0=2"], check=True)  # fmt: skip
    kept, documents = pickle.loads(Path(args.cache).read_bytes())
    dataset = load_beir(args.dataset, args.split)
    ids = list(dataset.queries)
    index, embedder = Index(args.index), Embedder()
    searcher = Searcher(index, embedder)
    gated = [rarity(c) >= search.COVERAGE_RARITY for c in kept]
    exact = other = None
    if args.float_words or args.dimensions:
        known = index.word_vectors()[0]
        exact = embedder.embed_queries(sorted(known, key=known.__getitem__))
    if args.dimensions:  # the model's first N axes instead of words.DIMENSIONS, 4-bit
        words.DIMENSIONS = args.dimensions
        other = words.basis(embedder, f"tune_close_words-{args.dimensions}")
        exact = words.decode(b"".join(words.rows(exact, other)), len(other))
    found = [
        features(searcher, dataset.queries[q], c.ids, exact, other) if g else None
        for q, c, g in zip(ids, kept, gated, strict=True)
    ]
    sample = Searcher(Index(args.sample_index), embedder) if args.sample_index else None
    print(f"{dataset.name} {args.split}: {len(ids)} queries, {sum(gated)} of rarity >= "
          f"{search.COVERAGE_RARITY}, {len(index.word_vectors()[0])} words, {embedder.runtime}")  # fmt: skip
    print("| setting | nDCG@10 | Recall@100 | MRR@10 | golden hit@1 | golden hit@3 "
          "| golden MRR@10 | older top 3 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    per_query, figures = {}, {}
    for text in ["before", *expand(args.settings)]:
        s = (
            {}
            if text == "before"
            else {k: float(v) for k, v in (kv.split("=") for kv in text.split(","))}
        )
        run = {}
        for q, c, f in zip(ids, kept, found, strict=True):
            if not s:
                score = fused(c, {"cov": 0.1, "c0": search.COVERAGE_RARITY})
            else:
                score = fused(c, {})
                if f is not None:
                    words.CLOSE = s["close"]
                    share = words.coverage(*f)
                    score = (score + s["g"] * share) / (1 + s["g"])
            order = np.lexsort((c.ids, -score))[:RUN_DEPTH]
            run[q] = documents_in_order([documents[int(c.ids[n])] for n in order], 100)
        ndcg, recall, mrr = score_run(run, dataset.qrels)
        per_query[text] = np.array([ndcg_at(run[q], dataset.qrels[q]) for q in ids])
        golden = " | | | "
        if sample is not None:
            sample.close_words = bool(s)
            sample.coverage_weight = s.get("g", 0.1)
            words.CLOSE = s.get("close", words.CLOSE)
            g = score_golden(sample, GOLDEN, "hybrid")
            figures[text] = (g.hit_at_1, g.hit_at_3, g.mrr_at_10, older_golden(sample))
            golden = (
                f"{g.hit_at_1:.3f} | {g.hit_at_3:.3f} | {g.mrr_at_10:.3f} | {figures[text][3]}/15"
            )
        print(f"| {text} | {ndcg:.4f} | {recall:.4f} | {mrr:.4f} | {golden} |", flush=True)
    if args.folds:
        cross_validate(ids, dataset.qrels, per_query, figures, args.folds)


if __name__ == "__main__":
    main()
