"""Sweep how hybrid search fuses its dense and keyword relevances, on a BEIR split and the golden set.

Run: .venv/bin/python benchmarks/tune_fusion.py ../shared/eval/scifact --index IDX --split train --sample-index GOLDEN_IDX --settings "w=0.8;w=0.75"
IDX must already hold the corpus with its sentence vectors (`paraseek eval DATASET --index IDX`);
GOLDEN_IDX is an index of data/corpus (benchmarks/golden.py builds one). The real Searcher runs
every query once, in hybrid mode, and keeps each query's candidates (their cosines raised by
sentence evidence, their BM25 per query token, the tokens' IDFs); every setting then re-scores
those candidates, so a setting costs seconds on SciFact. The golden questions run the real
Searcher with the setting's fusion. Settings (';' between them) name what differs from the
fusion without query-word coverage, 0.8 x dense relevance + 0.2 x min(1, BM25 / ceiling)
(an empty setting is that fusion; the default of the Searcher is "cov=0.1,c0=2"):
  w: the dense weight; shape: "share" (min(1, x)), "power" (min(1, x) ** p), "sat"
    (x / (x + c) x (1 + c)) with p or c; frac: the ceiling's fraction (BM25 / (frac x ceiling));
  adapt, signal, mid, slope: a keyword weight of (1 - w) + adapt x clip((r - mid) x slope, -1, 1)
    where r is a per-query signal: signal=0 the mean token IDF over the largest IDF, 1 the share
    of tokens in under 1% of passages, 2 the best BM25 over the ceiling, 3 the overlap of the
    dense and keyword top 10 (out of 10), 4 the number of tokens / 20;
  cov: the weight of the query-word coverage (the IDF share of the query's tokens a passage
    holds): (fused + cov x coverage) / (1 + cov); c0: only for queries of rarity >= c0 (summed
    IDFs over the largest IDF; ramp R: rising linearly from c0 - R instead); n0: only for
    queries of n0 tokens or more (ramp R: full from n0 + R - 1); wr: the dense weight of the
    queries of rarity >= c0;
  sw, ww: single sentences' and windows' own weights in the sentence evidence (a candidate's
    cosine + max(0, sw x (best sentence - cosine), ww x (best window - cosine)); without them,
    the Searcher's SENTENCE_WEIGHT for both).
A value "a|b|c" gives a setting for each (a grid). --folds N then checks whether the best
setting's gain over the first holds on queries it was not chosen on; --tokens VARIANT runs on an
index whose postings benchmarks/retokenize.py rebuilt with that tokenization.
"""

from __future__ import annotations

import itertools
import math
import pickle
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tuning import GOLDEN, arguments, older_golden

from paraseek.calibration import Floor
from paraseek.embedder import Embedder
from paraseek.evaluate import (
    RUN_DEPTH,
    documents_in_order,
    load_beir,
    ndcg_at,
    score_golden,
    score_run,
)
from paraseek.index import Index, keyword
from paraseek.search import HYBRID_DEPTH, Scored, Searcher, lookup_units
from paraseek.sentences import with_sentences


@dataclass
class Candidates:
    """One query's hybrid candidates, as the fusion sees them."""

    ids: np.ndarray  # passage ids
    mixed: np.ndarray  # cosines raised by sentence evidence
    cosine: np.ndarray  # passage cosines
    per_token: np.ndarray  # (candidates, tokens) BM25 of each token
    idfs: np.ndarray  # each token's IDF
    dfs: np.ndarray  # each token's document frequency
    count: int  # passages in the collection
    floor: Floor
    units: int  # lookup units (0: not a lookup)
    held: np.ndarray  # how many units each candidate holds
    dense_rank: np.ndarray  # rank on the dense side (large if not a dense candidate)
    keyword_rank: np.ndarray
    single: np.ndarray | None = None  # best single sentence's cosine (the passage's if none)
    window: np.ndarray | None = None  # best window of two's cosine (the passage's if none)


def expand(settings: str) -> list[str]:
    """The settings of `settings` (';' between them), each "key=a|b|c" giving one per value
    (a grid: every combination of the alternatives)."""
    out = []
    for text in settings.split(";"):
        parts = [kv.split("=") for kv in filter(None, text.split(","))]
        choices = [[f"{k}={v}" for v in values.split("|")] for k, values in parts]
        out.extend(",".join(combo) for combo in itertools.product(*choices))
    return out


def setting(text: str) -> dict[str, float | str]:
    given: ClassVar[dict[str, float | str]] = {}
    for kv in filter(None, text.split(",")):
        key, value = kv.split("=")
        given[key] = value if key == "shape" else float(value)
    return given


def keyword_share(c: Candidates, s: dict[str, float | str]) -> float:
    """The keyword side's weight for this query."""
    w = float(s.get("w", 0.8))
    if "wr" in s and rarity(c) >= float(s.get("c0", 2.0)):  # another dense weight for rare queries
        w = float(s["wr"])
    share = 1 - w
    adapt = float(s.get("adapt", 0.0))
    if adapt and len(c.idfs):
        top = math.log((c.count + 0.5) / 0.5)
        kind = s.get("signal", 0.0)
        if kind == 1.0:  # share of tokens rarer than 1% of passages
            r = float(np.mean(c.dfs < 0.01 * c.count))
        elif kind == 2.0:  # the top BM25 as a share of the ceiling
            r = float(c.per_token.sum(axis=1).max(initial=0.0) / (c.idfs.sum() or 1.0))
        elif kind == 3.0:  # overlap of the dense and keyword top 10
            r = float(np.sum((c.dense_rank < 10) & (c.keyword_rank < 10)) / 10)
        elif kind == 4.0:  # number of tokens
            r = len(c.idfs) / 20
        else:
            r = float(np.mean(c.idfs)) / top
        share += adapt * float(
            np.clip((r - float(s.get("mid", 0.5))) * float(s.get("slope", 4)), -1, 1)
        )
    return float(np.clip(share, 0.0, 1.0))


def rarity(c: Candidates) -> float:
    """The query's summed IDFs in units of the largest IDF."""
    return float(c.idfs.sum()) / math.log((c.count + 0.5) / 0.5)


def keyword_side(bm25: np.ndarray, ceiling: float, s: dict[str, float | str]) -> np.ndarray:
    x = bm25 / (float(s.get("frac", 1.0)) * ceiling) if ceiling else np.zeros_like(bm25)
    shape = s.get("shape", "share")
    if shape == "power":
        return np.minimum(1.0, x) ** float(s.get("p", 1.0))
    if shape == "sat":
        c = float(s.get("c", 1.0))
        return x / (x + c) * (1 + c)  # 1 at x = 1
    return np.minimum(1.0, x)


def best_parts(
    index: Index, vector: np.ndarray, cosines: dict[int, float]
) -> tuple[dict[int, float], dict[int, float]]:
    """Each passage's best single sentence's and best window's cosine, apart (what
    sentences.best_sentence_cosines takes the larger of); a passage without them has its own."""
    stored = index.sentence_vectors(list(cosines))
    single, window = dict(cosines), dict(cosines)
    for i, matrix in stored.items():
        scores = matrix @ np.asarray(vector, dtype=np.float32)
        single[i] = float(scores.max())
        if len(matrix) > 2:
            sums = matrix[:-1] + matrix[1:]
            window[i] = float(
                np.max((scores[:-1] + scores[1:]) / np.maximum(np.linalg.norm(sums, axis=1), 1e-9))
            )
    return single, window


def mixed_of(c: Candidates, s: dict[str, float | str]) -> np.ndarray:
    """The cosines raised by sentence evidence: the cached ones, or with sw (single sentences)
    and ww (windows) given, passage + max(0, sw x (single - passage), ww x (window - passage))."""
    if "sw" not in s and "ww" not in s:
        return c.mixed
    assert c.single is not None and c.window is not None, "regenerate the cache"
    sw, ww = float(s.get("sw", 0.8)), float(s.get("ww", s.get("sw", 0.8)))
    raise_ = np.maximum(sw * (c.single - c.cosine), ww * (c.window - c.cosine))
    return c.cosine + np.maximum(raise_, 0.0)


def relevances(cosines: np.ndarray, floor: Floor) -> np.ndarray:
    """calibration.relevance of each cosine, at once."""
    above = 0.5 + 0.5 * (cosines - floor.score) / max(1.0 - floor.score, 1e-9)
    below = np.maximum(0.0, 0.5 * (cosines - floor.mean) / max(floor.score - floor.mean, 1e-9))
    return np.where(cosines >= floor.score, above, below)


def fused(c: Candidates, s: dict[str, float | str]) -> np.ndarray:
    dense = relevances(mixed_of(c, s), c.floor)
    bm25 = c.per_token.sum(axis=1)
    kw = np.minimum(1.0, keyword_side(bm25, float(c.idfs.sum()), s))
    share = keyword_share(c, s)
    score = (1 - share) * dense + share * kw
    cover = float(s.get("cov", 0.0))
    if "c0" in s:  # only queries whose IDFs add up to c0 rarest words or more
        mass = rarity(c)
        ramp = float(s.get("ramp", 0.0))
        step = float(mass >= float(s["c0"]))
        cover *= float(np.clip((mass - float(s["c0"])) / ramp + 1, 0, 1)) if ramp else step
    if "n0" in s:  # only long queries: full weight from n0 + ramp - 1 tokens on
        ramp = float(s.get("ramp", 1.0))
        cover *= float(np.clip((len(c.idfs) - float(s["n0"]) + 1) / ramp, 0.0, 1.0))
    if cover:  # the IDF-weighted share of the query's tokens that the passage holds
        held = (c.per_token > 0) @ c.idfs / (c.idfs.sum() or 1.0)
        score = (score + cover * held) / (1 + cover)
    if c.units:
        score = (c.held + score) / (c.units + 1)
    return score


class Tuned(Searcher):
    """A Searcher whose fusion follows `self.given`; with `self.kept` set, it keeps candidates."""

    given: ClassVar[dict[str, float | str]] = {}
    kept: list[Candidates] | None = None

    def _fuse(
        self, query: str, vector: np.ndarray, dense: list[int], dense_scores: list[float],
        k: int, ids: Sequence[int] | None, floor: Floor,
    ) -> list[Scored]:  # fmt: skip
        keyword_ids, _ = self.index.keyword_scores(query, max(k, HYBRID_DEPTH), ids)
        dense_by_id = dict(zip(dense, dense_scores, strict=True))
        candidates = list(dict.fromkeys([*dense_by_id, *keyword_ids]))
        missing = [i for i in candidates if i not in dense_by_id]
        if missing:
            dense_by_id.update(
                zip(missing, (self.index.vectors(missing) @ vector).tolist(), strict=True)
            )
        mixed = with_sentences(self.index, vector, dense_by_id, self.sentence_weight)
        single, window = best_parts(self.index, vector, dense_by_id)
        tokens = keyword.query_tokens(keyword.query_terms(query))
        at = np.array(candidates, dtype=np.int64)
        per_token = np.zeros((len(candidates), len(tokens)))
        idfs, dfs = [], []
        with self.index.snapshot() as conn:
            stats = keyword.collection(conn) if not hasattr(self, "_stats") else self._stats
            self._stats = stats
            for j, token in enumerate(tokens):
                got: list[float] = []
                totals = keyword.scores(conn, stats, [token], got)
                idfs.append(got[0])
                dfs.append(int(np.count_nonzero(totals)))
                per_token[:, j] = totals[at]
        units = lookup_units(query)
        held = np.zeros(len(candidates))
        if units and candidates:
            for h in self.index.containing(units, candidates):
                held += np.array([i in h for i in candidates])
        dense_rank = {i: r for r, i in enumerate(dense)}
        keyword_rank = {i: r for r, i in enumerate(keyword_ids)}
        c = Candidates(
            at, np.array([mixed[i] for i in candidates]),
            np.array([dense_by_id[i] for i in candidates]), per_token, np.array(idfs),
            np.array(dfs), stats.count, floor, len(units), held,
            np.array([dense_rank.get(i, 10**6) for i in candidates]),
            np.array([keyword_rank.get(i, 10**6) for i in candidates]),
            np.array([single[i] for i in candidates]), np.array([window[i] for i in candidates]),
        )  # fmt: skip
        if self.kept is not None:
            self.kept.append(c)
        score = fused(c, self.given)
        order = sorted(range(len(candidates)), key=lambda n: (-score[n], candidates[n]))[:k]
        return [
            Scored(candidates[n], float(score[n]), float(c.cosine[n]), float(per_token[n].sum()))
            for n in order
        ]


def main() -> None:
    parser = arguments()
    parser.add_argument("--settings", default="w=0.8;w=0.75")
    parser.add_argument("--no-golden", action="store_true")
    parser.add_argument("--cache", help="a file to keep the candidates in between runs")
    parser.add_argument("--tokens", default="same", help="a tokenization of retokenize.py")
    parser.add_argument(
        "--folds", type=int, default=0,
        help="then N random halvings of the queries: the best setting on one half (of those "
        "whose golden figures are at least the first setting's) scored on the other",
    )  # fmt: skip
    args = parser.parse_args()
    if args.tokens != "same":  # an index rebuilt by benchmarks/retokenize.py with it
        from retokenize import patch

        patch(args.tokens)
    dataset = load_beir(args.dataset, args.split)
    embedder = Embedder()
    index = Index(args.index)
    ids = list(dataset.queries)
    texts = [dataset.queries[i] for i in ids]
    if args.cache and Path(args.cache).exists():
        kept, documents = pickle.loads(Path(args.cache).read_bytes())
    else:
        searcher = Tuned(index, embedder)
        searcher.kept = []
        searcher.search_many(texts, k=RUN_DEPTH, mode="hybrid")
        kept = searcher.kept
        with index.snapshot():
            documents = {
                int(p.id or 0): p.document_id for c in kept for p in index.passages(c.ids.tolist())
            }
        if args.cache:
            Path(args.cache).write_bytes(pickle.dumps((kept, documents)))
    sample = Tuned(Index(args.sample_index), embedder) if args.sample_index else None
    print(f"{dataset.name} {args.split}: {len(ids)} queries, {embedder.runtime}")
    print("| setting | nDCG@10 | Recall@100 | MRR@10 | golden hit@1 | golden hit@3 "
          "| golden MRR@10 | older top 3 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    per_query: dict[str, np.ndarray] = {}  # setting -> each query's nDCG@10
    figures: dict[str, tuple[float, ...]] = {}  # setting -> its golden figures
    for text in expand(args.settings):
        s = setting(text)
        run = {}
        for q, c in zip(ids, kept, strict=True):
            order = np.lexsort((c.ids, -fused(c, s)))[:RUN_DEPTH]
            run[q] = documents_in_order([documents[int(c.ids[n])] for n in order], 100)
        ndcg, recall, mrr = score_run(run, dataset.qrels)
        per_query[text] = np.array([ndcg_at(run[q], dataset.qrels[q]) for q in ids])
        golden = " | | | "
        if sample is not None and not args.no_golden:
            sample.given = s
            g = score_golden(sample, GOLDEN, "hybrid")
            older = older_golden(sample)
            figures[text] = (g.hit_at_1, g.hit_at_3, g.mrr_at_10, older)
            golden = f"{g.hit_at_1:.3f} | {g.hit_at_3:.3f} | {g.mrr_at_10:.3f} | {older}/15"
        print(f"| {text or 'default'} | {ndcg:.4f} | {recall:.4f} | {mrr:.4f} | {golden} |",
              flush=True)  # fmt: skip
    if args.folds:
        cross_validate(ids, dataset.qrels, per_query, figures, args.folds)


def cross_validate(
    ids: list[str], qrels: dict[str, dict[str, int]], per_query: dict[str, np.ndarray],
    figures: dict[str, tuple[float, ...]], folds: int,
) -> None:  # fmt: skip
    """Is the best setting's gain over the first one real? Halve the queries at random
    (queries judged on the same documents, such as a claim and its negation, stay together),
    choose the best of the settings whose golden figures are at least the first's on one half,
    and score its gain on the other; both ways, `folds` times."""
    first = next(iter(per_query))
    floor = figures.get(first)
    allowed = [
        t for t in per_query
        if floor is None or all(a >= b for a, b in zip(figures[t], floor, strict=True))
    ]  # fmt: skip
    groups: dict[frozenset[str], list[int]] = {}
    for n, q in enumerate(ids):
        groups.setdefault(frozenset(d for d, g in qrels[q].items() if g > 0), []).append(n)
    keys = list(groups)
    print(f"\n{len(allowed)} of {len(per_query)} settings keep the golden figures of {first!r}")
    gains = []
    for seed in range(folds):
        random.Random(seed).shuffle(keys)
        half = np.zeros(len(ids), dtype=bool)
        for key in keys[: len(keys) // 2]:
            half[groups[key]] = True
        for chosen_on in (half, ~half):
            best = max(allowed, key=lambda t: float(per_query[t][chosen_on].mean()))
            inside = per_query[best][chosen_on].mean() - per_query[first][chosen_on].mean()
            outside = per_query[best][~chosen_on].mean() - per_query[first][~chosen_on].mean()
            gains.append(outside)
            print(f"  fold {seed}: {best}: {inside:+.4f} on the half it was chosen on, "
                  f"{outside:+.4f} on the other")  # fmt: skip
    print(f"  mean gain on the other half: {np.mean(gains):+.4f}")


if __name__ == "__main__":
    main()
