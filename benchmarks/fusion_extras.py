"""Keyword-side ideas measured on hybrid candidates kept by tune_fusion.py, none adopted (quality.md).

Run: .venv/bin/python benchmarks/fusion_extras.py ../shared/eval/scifact --index IDX --cache CACHE {sentence,document,rm3,context}
CACHE is the file `benchmarks/tune_fusion.py ... --cache CACHE` wrote (the train split's
candidates). Each idea re-scores those candidates on top of the default fusion (0.8 x dense
relevance + 0.2 x keyword relevance, plus 0.1 x the query-word coverage of a query of rarity
2 or more) and prints train nDCG@10, Recall@100 and MRR@10 for a few weights:
  sentence: the BM25 (share of the ceiling) or the query-word coverage of a passage's best
    sentence, added with weight g;
  document: the query-word coverage of the passage's whole document (all its passages);
  rm3: expansion terms from the top 10 fused passages (their share of each passage's tokens,
    weighted by the passage's score and the term's IDF), T terms, their BM25 added with weight g;
  context: the title/heading's weight in BM25 (CONTEXT_WEIGHT, 0.5), recomputed per candidate;
  bigram: the share (by the two words' IDFs) of the query's pairs of neighbouring words (stop
    words aside) that the passage holds as neighbours too, with weight g, for queries of
    rarity 2 or more.
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tune_fusion import Candidates, rarity

from paraseek.calibration import relevance
from paraseek.corpus.structure import sentence_spans
from paraseek.evaluate import documents_in_order, load_beir, score_run
from paraseek.index import keyword


def default(c: Candidates, per_token: np.ndarray | None = None) -> np.ndarray:
    pt = c.per_token if per_token is None else per_token
    ceiling = c.idfs.sum() or 1.0
    dense = np.array([relevance(x, c.floor) for x in c.mixed])
    score = 0.8 * dense + 0.2 * np.minimum(1, pt.sum(axis=1) / ceiling)
    if rarity(c) >= 2:
        score = (score + 0.1 * ((pt > 0) @ c.idfs / ceiling)) / 1.1
    return score


def lookup(c: Candidates, score: np.ndarray) -> np.ndarray:
    """`score` with a lookup's words held first, as Searcher does."""
    return (c.held + score) / (c.units + 1) if c.units else score


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--index", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("idea", choices=["sentence", "document", "rm3", "context", "bigram"])
    args = parser.parse_args()
    kept, documents = pickle.loads(Path(args.cache).read_bytes())
    dataset = load_beir(args.dataset, "train")
    ids = list(dataset.queries)
    tokens = [keyword.query_tokens(keyword.query_terms(dataset.queries[q])) for q in ids]
    conn = sqlite3.connect(f"file:{Path(args.index) / 'paraseek.db'}?mode=ro", uri=True)
    stats = keyword.collection(conn)

    def report(label: str, scores: list[np.ndarray]) -> None:
        run = {}
        for q, c, s in zip(ids, kept, scores, strict=True):
            s = lookup(c, s)
            order = np.lexsort((c.ids, -s))[:200]
            run[q] = documents_in_order([documents[int(c.ids[n])] for n in order], 100)
        ndcg, recall, mrr = score_run(run, dataset.qrels)
        print(f"| {label} | {ndcg:.4f} | {recall:.4f} | {mrr:.4f} |", flush=True)

    def texts(wanted: list[int]) -> dict[int, tuple[str, str]]:
        marks = ",".join(map(str, wanted))
        rows = conn.execute(f"SELECT id, text, context FROM passages WHERE id IN ({marks})")
        return {int(i): (t, cx) for i, t, cx in rows}

    base = [default(c) for c in kept]
    report("default", base)
    if args.idea == "sentence":
        every = texts(sorted({int(i) for c in kept for i in c.ids}))
        rows, owner = [], []
        for pid, (text, _) in every.items():
            for a, b in sentence_spans(text):
                rows.append((len(rows) + 1, text[a:b], ""))
                owner.append(pid)
        counted, lengths = keyword.count_terms(rows)
        tf: dict[int, dict[str, float]] = defaultdict(dict)
        for term, sid, w in counted:
            tf[sid][term] = w
        size = dict(lengths)
        average = float(np.mean(list(size.values())))
        by_passage: dict[int, list[int]] = defaultdict(list)
        for sid, pid in enumerate(owner, 1):
            by_passage[pid].append(sid)
        best_bm25, best_cover = [], []
        for c, toks in zip(kept, tokens, strict=True):
            idf = dict(zip(toks, c.idfs, strict=True))
            ceiling = c.idfs.sum() or 1.0
            sb, sc = np.zeros(len(c.ids)), np.zeros(len(c.ids))
            for n, pid in enumerate(c.ids):
                for sid in by_passage.get(int(pid), []):
                    norm = keyword.K1 * (1 - keyword.B + keyword.B * size[sid] / average)
                    held = [t for t in toks if tf[sid].get(t)]
                    s = sum(
                        idf[t] * tf[sid][t] * (keyword.K1 + 1) / (tf[sid][t] + norm) for t in held
                    )
                    sb[n] = max(sb[n], min(1.0, s / ceiling))
                    sc[n] = max(sc[n], sum(idf[t] for t in held) / ceiling)
            best_bm25.append(sb)
            best_cover.append(sc)
        for g in (0.03, 0.05, 0.1):
            report(
                f"best sentence BM25, g {g}",
                [(b + g * s) / (1 + g) for b, s in zip(base, best_bm25, strict=True)],
            )
            report(
                f"best sentence coverage, g {g}",
                [(b + g * s) / (1 + g) for b, s in zip(base, best_cover, strict=True)],
            )
    elif args.idea == "document":
        rows = conn.execute("SELECT id, document_id FROM passages").fetchall()
        number = {d: n for n, d in enumerate(sorted({d for _, d in rows}))}
        of = np.full(max(i for i, _ in rows) + 1, -1)
        for i, d in rows:
            of[i] = number[d]
        whole = []
        for c, toks in zip(kept, tokens, strict=True):
            cover = np.zeros(len(c.ids))
            for j, t in enumerate(toks):
                pids, _ = keyword.postings(conn, t, stats.live)
                held = np.zeros(len(number), bool)
                held[of[pids]] = True
                cover += c.idfs[j] * held[of[c.ids]]
            whole.append(cover / (c.idfs.sum() or 1.0))
        for g in (0.05, 0.1, 0.2):
            report(
                f"document coverage, g {g}",
                [(b + g * s) / (1 + g) for b, s in zip(base, whole, strict=True)],
            )
    elif args.idea == "rm3":
        tops = [c.ids[np.lexsort((c.ids, -b))[:10]] for c, b in zip(kept, base, strict=True)]
        every = texts(sorted({int(i) for t in tops for i in t}))
        counted, lengths = keyword.count_terms([(i, *every[i]) for i in every])
        tf = defaultdict(dict)
        for term, i, w in counted:
            tf[i][term] = w
        size = dict(lengths)
        cache: dict[str, tuple[float, np.ndarray]] = {}

        def idf_scores(t: str) -> tuple[float, np.ndarray]:
            if t not in cache:
                got: list[float] = []
                cache[t] = (0.0, keyword.scores(conn, stats, [t], got))
                cache[t] = (got[0], cache[t][1])
            return cache[t]

        for terms in (10, 20):
            extra = []
            for c, toks, top, b in zip(kept, tokens, tops, base, strict=True):
                score = dict(zip(c.ids.tolist(), b, strict=True))
                weight: dict[str, float] = defaultdict(float)
                for i in top.tolist():
                    for term, f in tf[i].items():
                        if term not in toks and not term.isdigit() and len(term) > 2:
                            weight[term] += score[i] * f / max(size[i], 1)
                chosen = sorted(weight, key=lambda t: -weight[t] * idf_scores(t)[0])[:terms]
                num, den = np.zeros(len(c.ids)), 0.0
                for t in chosen:
                    idf, totals = idf_scores(t)
                    num += weight[t] * idf * totals[c.ids]
                    den += weight[t] * idf * idf
                extra.append(np.minimum(1.0, num / (den or 1.0)))
            for g in (0.05, 0.1, 0.2):
                report(
                    f"RM3, {terms} terms, g {g}",
                    [(b + g * e) / (1 + g) for b, e in zip(base, extra, strict=True)],
                )
    elif args.idea == "bigram":
        every = texts(sorted({int(i) for c in kept for i in c.ids}))
        stop = {t for w in keyword.STOPWORDS for t in keyword.term_tokens(w)}
        scratch = keyword._scratch()
        scratch.executemany(
            "INSERT INTO t (rowid, text, context) VALUES (?, ?, ?)",
            [(i, t, cx) for i, (t, cx) in every.items()],
        )
        runs: dict[tuple[int, str], list[tuple[int, str]]] = defaultdict(list)
        for term, doc, col, offset in scratch.execute("SELECT term, doc, col, offset FROM v"):
            runs[(doc, col)].append((offset, term))
        pairs_of: dict[int, set[tuple[str, str]]] = defaultdict(set)
        for (doc, _), found in runs.items():
            words = [t for _, t in sorted(found) if t not in stop]
            pairs_of[doc].update(itertools.pairwise(words))
        shares = []
        for c, toks in zip(kept, tokens, strict=True):
            idf = dict(zip(toks, c.idfs, strict=True))
            pairs = list(itertools.pairwise(toks))
            weights = [idf[a] + idf[b] for a, b in pairs]
            held = [
                sum(w for p, w in zip(pairs, weights, strict=True) if p in pairs_of[int(i)])
                for i in c.ids
            ]
            shares.append(np.array(held) / (sum(weights) or 1.0))
        for g in (0.02, 0.05, 0.1, 0.2):
            report(
                f"neighbouring pairs, g {g}",
                [
                    (b + g * s) / (1 + g) if rarity(c) >= 2 else b
                    for b, s, c in zip(base, shares, kept, strict=True)
                ],
            )
    else:
        every = texts(sorted({int(i) for c in kept for i in c.ids}))
        in_text, _ = keyword.count_terms([(i, t, "") for i, (t, _) in every.items()])
        in_context, _ = keyword.count_terms([(i, "", cx) for i, (_, cx) in every.items()])
        text_tf: dict[int, dict[str, float]] = defaultdict(dict)
        context_tf: dict[int, dict[str, float]] = defaultdict(dict)
        for term, i, w in in_text:
            text_tf[i][term] = w
        for term, i, w in in_context:
            context_tf[i][term] = w / keyword.CONTEXT_WEIGHT
        for weight in (0.0, 0.25, 0.5, 1.0, 2.0):
            scores = []
            for c, toks in zip(kept, tokens, strict=True):
                norm = keyword.K1 * (
                    1 - keyword.B + keyword.B * stats.lengths[c.ids] / stats.average
                )
                pt = np.zeros((len(c.ids), len(toks)))
                for j, t in enumerate(toks):
                    f = np.array(
                        [
                            text_tf[int(i)].get(t, 0) + weight * context_tf[int(i)].get(t, 0)
                            for i in c.ids
                        ]
                    )
                    pt[:, j] = c.idfs[j] * f * (keyword.K1 + 1) / (f + norm)
                scores.append(default(c, pt))
            report(f"context weight {weight}", scores)


if __name__ == "__main__":
    main()
