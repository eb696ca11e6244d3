"""Sweep the sentence weight (sentences.with_sentences) on a BEIR split: tune on train, report on test.

Run: .venv/bin/python benchmarks/tune_sentences.py ../shared/eval/scifact --index IDX --split train --sample-index GOLDEN_IDX
IDX must already hold the corpus with its sentence vectors (`paraseek eval DATASET --index IDX`
builds both); GOLDEN_IDX is an index of data/corpus (benchmarks/golden.py builds one), for the
golden questions of tests/golden.json and the 15 older ones of tests/test_search.py (top 3).
Every setting runs the real Searcher in hybrid mode on every query.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tuning import GOLDEN, arguments, older_golden

from paraseek import search as search_module
from paraseek import sentences as sentences_module
from paraseek.embedder import Embedder
from paraseek.evaluate import (
    load_beir,
    run_of,
    score_golden,
    score_run,
)
from paraseek.index import Index
from paraseek.search import Searcher

_TITLES: dict[str, dict[int, np.ndarray]] = {}


def title_vectors(index: Index, embedder: Embedder) -> dict[int, np.ndarray]:
    """passage id -> its document's title, embedded on its own (experiment: the title as one
    more "sentence" of each passage); memoised per index."""
    key = str(index.path)
    if key not in _TITLES:
        with index.snapshot() as conn:
            docs = conn.execute("SELECT id, title FROM documents").fetchall()
            owners = conn.execute("SELECT id, document_id FROM passages").fetchall()
        vectors = embedder.embed_documents([t or " " for _, t in docs])
        by_doc = {d: vectors[n] for n, (d, _) in enumerate(docs)}
        _TITLES[key] = {int(p): by_doc[d] for p, d in owners}
    return _TITLES[key]


_COUNTS: dict[str, dict[int, np.ndarray]] = {}


def token_counts(index: Index, embedder: Embedder) -> dict[int, np.ndarray]:
    """passage id -> the token count of each of its stored sentences (their spans in the
    embedded text, as sentence_vectors.spans finds them); memoised per index."""
    from paraseek.corpus import embedded_text
    from paraseek.index.sentence_vectors import spans

    key = str(index.path)
    if key not in _COUNTS:
        with index.snapshot() as conn:
            found = conn.execute("SELECT id, text, context FROM passages").fetchall()
        out: dict[int, np.ndarray] = {}
        for i, text, context in found:
            wanted = spans(context, text)
            if wanted:
                tokens = embedder.token_spans(embedded_text(context, text))
                out[int(i)] = np.array(
                    [max(1, sum(1 for s, e in tokens if s < b and e > a)) for a, b in wanted],
                    dtype=np.float32,
                )
        _COUNTS[key] = out
    return _COUNTS[key]


def windowed(
    matrix: np.ndarray, sizes: tuple[int, ...], counts: np.ndarray | None = None
) -> np.ndarray:
    """The sentences of one passage plus the normalised mean of each run of `sizes` adjacent
    sentences (experiment: windows computed at query time from the stored vectors), weighted
    by the sentences' token counts if given (unit vectors: an approximation of pooling)."""
    parts = [matrix]
    weighted = matrix if counts is None else matrix * counts[:, None]
    for size in sizes:
        if len(matrix) > size:  # a window of all sentences is about the passage itself
            sums = np.cumsum(np.vstack([np.zeros((1, matrix.shape[1]), np.float32), weighted]), 0)
            means = sums[size:] - sums[:-size]
            parts.append(means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9))
    return np.vstack(parts)


def variant(name: str, embedder: Embedder):
    """A replacement for sentences.with_sentences forming the dense evidence another way
    (experiments, see --variants): "single", "windows2", "windows23t", "title0.5",
    "windows2+title"..."""
    head = name.split("+")[0]
    sizes = (
        tuple(int(c) for c in head.removeprefix("windows").rstrip("t")) if "windows" in head else ()
    )
    use_title = "title" in name
    by_tokens = "windows" in head and head.endswith("t")
    whole = "+whole" in name
    top2 = "+top2" in name
    split = float(name.split("+s")[1]) if "+s" in name else None
    title_weight = float(name.split("title")[1] or 1) if use_title else 0.0

    def with_evidence(index, query_vector, cosines, weight):
        if weight <= 0 or not cosines:
            return dict(cosines)
        q = np.asarray(query_vector, dtype=np.float32)
        stored = index.sentence_vectors(list(cosines))
        counts = token_counts(index, embedder) if by_tokens else {}
        best = {
            i: float((windowed(m, sizes, counts.get(i) if by_tokens else None) @ q).max())
            for i, m in stored.items()
            if not by_tokens or i not in counts or len(counts[i]) == len(m)
        }
        if split is not None:  # sentences at their own weight, windows at `weight`
            raised = {}
            for i, c in cosines.items():
                m = stored.get(i)
                if m is None or len(m) < 3:
                    raised[i] = c + split * max(
                        (float((m @ q).max()) if m is not None else c) - c, 0
                    )
                    continue
                one = float((m @ q).max())
                two = float((windowed(m, (2,))[len(m) :] @ q).max())
                raised[i] = c + max(split * (one - c), weight * (two - c), 0.0)
            return raised
        if whole:  # the passage's text without its title: the mean of all its sentences
            for i, m in stored.items():
                mean = m.mean(axis=0)
                best[i] = max(best[i], float(mean @ q) / max(float(np.linalg.norm(mean)), 1e-9))
        if top2:  # the mean of the two best units rather than the best
            for i, m in stored.items():
                units = np.sort(windowed(m, sizes) @ q)
                best[i] = float(units[-2:].mean())
        if use_title:
            titles = title_vectors(index, embedder)
            for i in cosines:
                if i in titles:
                    t = cosines[i] + title_weight * (float(titles[i] @ q) - cosines[i])
                    best[i] = max(best.get(i, -1.0), t)
        return {i: c + weight * max(best.get(i, c) - c, 0.0) for i, c in cosines.items()}

    return with_evidence


def main() -> None:
    parser = arguments()
    parser.add_argument("--weights", default="0,0.1,0.2,0.3,0.4,0.5")
    parser.add_argument("--hybrid-weights", default="0.8", help="dense weights of the fusion")
    parser.add_argument(
        "--variants", default="sentences",
        help="how the dense evidence is formed, comma-separated: sentences (the product's: "
        "sentences and windows of two), single (sentences alone), windows2, windows23 "
        "(adjacent sentences' mean vectors too; a trailing t weights them by token counts), "
        "title (the document's title embedded on its own as one more sentence; titleW "
        "scales it), windows23+title, windows2+whole (the mean of all sentences too), "
        "windows2+top2 (the mean of the two best rather than the best), windows2+s0.5 (single "
        "sentences at weight 0.5, windows at the swept weight)",
    )  # fmt: skip
    args = parser.parse_args()
    dataset = load_beir(args.dataset, args.split)
    embedder = Embedder()
    index = Index(args.index)
    sample = Index(args.sample_index) if args.sample_index else None
    ids = list(dataset.queries)
    print(f"{dataset.name} {args.split}: {len(ids)} queries, {embedder.runtime}")
    memo: dict[str, np.ndarray] = {}
    plain = embedder.embed_queries

    def embed_queries(queries):  # each query embedded once for the whole sweep
        todo = [q for q in dict.fromkeys(queries) if q not in memo]
        if todo:
            memo.update(zip(todo, plain(todo), strict=True))
        return np.vstack([memo[q] for q in queries])

    embedder.embed_queries = embed_queries  # type: ignore[method-assign]
    print("| evidence | dense weight | sentence weight | nDCG@10 | Recall@100 | MRR@10 | golden hit@1 | golden hit@3 "
          "| golden MRR@10 | older top 3 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    settings = [
        (v, float(h), float(w))
        for v in args.variants.split(",")
        for h in args.hybrid_weights.split(",")
        for w in args.weights.split(",")
    ]
    for name, hybrid, weight in settings:
        search_module.with_sentences = (  # type: ignore[attr-defined]
            sentences_module.with_sentences if name == "sentences" else variant(name, embedder)
        )
        searcher = Searcher(index, embedder, hybrid_weight=hybrid, sentence_weight=weight)
        ndcg, recall, mrr = score_run(run_of(searcher, dataset, "hybrid"), dataset.qrels)
        golden = " | | | "
        if sample is not None:
            s = Searcher(sample, embedder, hybrid_weight=hybrid, sentence_weight=weight)
            g = score_golden(s, GOLDEN, "hybrid")
            golden = (
                f"{g.hit_at_1:.3f} | {g.hit_at_3:.3f} | {g.mrr_at_10:.3f} | {older_golden(s)}/15"
            )
        print(
            f"| {name} | {hybrid} | {weight} | {ndcg:.4f} | {recall:.4f} | {mrr:.4f} | {golden} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
