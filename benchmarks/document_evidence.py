"""Document-level evidence measured on hybrid candidates kept by tune_fusion.py (quality.md).

Run: .venv/bin/python benchmarks/document_evidence.py ../shared/eval/scifact --index IDX --cache CACHE --sample-index GOLDEN_IDX --settings "dv=0.1;db=0.1;xk=0.5"
CACHE is the file `benchmarks/tune_fusion.py ... --cache CACHE` wrote (the split's candidates);
the queries are embedded again for the vector features. Every setting re-scores those
candidates: the default fusion (0.8 x dense relevance + 0.2 x keyword relevance, plus 0.1 x
the query-word coverage of a query of rarity 2 or more, a lookup's words first) with
document-level evidence added (';' between settings, ',' between keys; an empty setting is the
default; "xd=0.95,p=1" is the rule for split paragraphs that was tried and not adopted):
  dv=g: the dense relevance of the query's cosine with the document's vector (the normalised
    mean of its passages' vectors), as (fused + g x it) / (1 + g);
  dvi=l: instead, the passage's (sentence-raised) cosine interpolated with the document's,
    (1 - l) x passage + l x document, before the relevance;
  ds=g, dsi=l: the same with the normalised mean of the document's sentence vectors (a
    passage without stored sentences counts by its own vector);
  db=g: the BM25 of the whole document (term frequencies and lengths summed over its
    passages, document-level IDFs, average document length) as a share of its ceiling (the
    summed IDFs), (fused + g x it) / (1 + g); dbi=l: interpolated into the keyword relevance;
  xk=lambda: the keyword relevance is max(own, lambda x the best other passage of the
    document's); xd=lambda: the same for the dense relevance (sentence-raised cosines);
  xki=l, xdi=l: instead, raised towards the best other passage's: own + l x max(0, other - own);
  p=1: the best other passage among the pieces of the passage's own paragraph only (a
    paragraph split at the model's token limit: at most one character between its passages);
  c=1: with p=1, only the pieces that are candidates themselves;
  m=M: apply the feature only to documents of at most M passages (the sample corpus guard).
The golden questions run the real Searcher with the setting (tune_fusion.Tuned, its candidates
re-scored). The report splits the per-query nDCG@10 change over the first setting by whether
a judged abstract is split into several passages or every judged abstract is whole, and counts
the claims whose nDCG@10 rose and fell.
"""

from __future__ import annotations

import pickle
import sqlite3
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tune_fusion import Candidates, Tuned, rarity, setting
from tuning import GOLDEN, arguments, older_golden

from paraseek.calibration import Floor, relevance
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
from paraseek.search import Scored
from paraseek.sentences import SENTENCE_WEIGHT, best_sentence_cosines


class Corpus:
    """Every passage's document, vector and sentence vectors, read once."""

    def __init__(self, index: Index) -> None:
        with index.snapshot() as conn:
            rows = conn.execute("SELECT id, document_id FROM passages").fetchall()
            self.stats = keyword.collection(conn)
            spans = conn.execute(
                'SELECT id, document_id, ordinal, start, "end" FROM passages '
                "ORDER BY document_id, ordinal"
            ).fetchall()
        ids = [int(i) for i, _ in rows]
        names = sorted({d for _, d in rows})
        number = {d: n for n, d in enumerate(names)}
        self.doc = np.full(max(ids) + 1, -1, dtype=np.int64)
        for i, d in rows:
            self.doc[int(i)] = number[d]
        self.members: list[list[int]] = [[] for _ in names]
        for i in sorted(ids):
            self.members[self.doc[i]].append(i)
        # Pieces of one paragraph, split at the model's token limit (corpus.split_document, at
        # sentence boundaries): the passages of a document next to each other (ordinals n and
        # n + 1) with at most one character, a space or a line break, between them; paragraphs
        # have a blank line between them. The rule of the Searcher tried for split paragraphs
        # (its rows.pieces, an SQL join on document, ordinal and offsets), not adopted.
        self.paragraph = np.full(len(self.doc), -1, dtype=np.int64)
        group, previous = -1, None
        for pid, d, ordinal, start, end in spans:
            if (
                previous is None
                or previous[0] != d
                or ordinal != previous[1] + 1
                or start - previous[2] > 1
            ):
                group += 1
            self.paragraph[int(pid)] = group
            previous = (d, ordinal, end)
        vectors = index.vectors(ids)
        self.vector = np.zeros((len(self.doc), vectors.shape[1]), dtype=np.float32)
        self.vector[ids] = vectors
        self.sentences = index.sentence_vectors(ids)
        self.doc_vector = np.vstack([unit(self.vector[m].mean(axis=0)) for m in self.members])
        self.doc_sentence_vector = np.vstack(
            [
                unit(np.vstack([self.sentences.get(i, self.vector[i : i + 1]) for i in m]).mean(0))
                for m in self.members
            ]
        )
        lengths = self.stats.lengths
        self.doc_length = np.bincount(self.doc[ids], weights=lengths[ids], minlength=len(names))
        self.doc_average = float(self.doc_length.mean())

    def sentence_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """As Index.sentence_vectors, from memory (best_sentence_cosines takes this)."""
        return {int(i): self.sentences[int(i)] for i in ids if int(i) in self.sentences}


def unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


@dataclass
class Features:
    """One query's document-level evidence, per candidate (in the order of Candidates.ids)."""

    doc_cosine: np.ndarray
    doc_sentence_cosine: np.ndarray
    doc_bm25: np.ndarray  # share of its ceiling, at most 1
    other_keyword: np.ndarray  # best keyword relevance of another passage of the document
    other_cosine: np.ndarray  # best sentence-raised cosine of another passage (-1: none)
    passages: np.ndarray  # how many passages the candidate's document has
    other_piece_keyword: np.ndarray  # as other_keyword, over the pieces of its paragraph
    other_piece_cosine: np.ndarray
    other_candidate_cosine: np.ndarray  # as other_piece_cosine, over the candidates only


def features(
    corpus: Corpus, conn: sqlite3.Connection, vector: np.ndarray, c: Candidates, tokens: list[str]
) -> Features:
    docs = corpus.doc[c.ids]
    q = np.asarray(vector, dtype=np.float32)
    stats = corpus.stats
    ceiling = float(c.idfs.sum()) or 1.0
    totals = np.zeros(len(stats.live))
    bm25 = np.zeros(len(corpus.members))
    idf_sum = 0.0
    n_docs = len(corpus.members)
    for token in tokens:
        pids, weights = keyword.postings(conn, token, stats.live)
        if len(pids):
            norm = keyword.K1 * (1 - keyword.B + keyword.B * stats.lengths[pids] / stats.average)
            df = len(pids)
            idf = max(np.log((stats.count - df + 0.5) / (df + 0.5)), 1e-6)
            totals[pids] += idf * weights * (keyword.K1 + 1) / (weights + norm)
        tf = np.bincount(corpus.doc[pids], weights=weights, minlength=n_docs)
        ddf = int(np.count_nonzero(tf))
        didf = max(float(np.log((n_docs - ddf + 0.5) / (ddf + 0.5))), 1e-6)
        idf_sum += didf
        dnorm = keyword.K1 * (1 - keyword.B + keyword.B * corpus.doc_length / corpus.doc_average)
        bm25 += didf * tf * (keyword.K1 + 1) / (tf + dnorm)
    keyword_rel = np.minimum(1.0, totals / ceiling)
    wanted = sorted({p for d in set(docs.tolist()) for p in corpus.members[d]})
    cosines = corpus.vector[wanted] @ q
    best = best_sentence_cosines(corpus, q, wanted)  # type: ignore[arg-type]
    mixed = {
        p: x + SENTENCE_WEIGHT * max(best.get(p, x) - x, 0.0)
        for p, x in zip(wanted, cosines.tolist(), strict=True)
    }
    other_kw, other_cos = np.zeros(len(c.ids)), np.full(len(c.ids), -1.0)
    piece_kw, piece_cos = np.zeros(len(c.ids)), np.full(len(c.ids), -1.0)
    candidate_cos = np.full(len(c.ids), -1.0)
    among = set(c.ids.tolist())
    for n, (pid, d) in enumerate(zip(c.ids.tolist(), docs.tolist(), strict=True)):
        others = [p for p in corpus.members[d] if p != pid]
        if others:
            other_kw[n] = keyword_rel[others].max()
            other_cos[n] = max(mixed[p] for p in others)
        pieces = [p for p in others if corpus.paragraph[p] == corpus.paragraph[pid]]
        if pieces:
            piece_kw[n] = keyword_rel[pieces].max()
            piece_cos[n] = max(mixed[p] for p in pieces)
        near = [p for p in pieces if p in among]
        if near:
            candidate_cos[n] = max(mixed[p] for p in near)
    return Features(
        corpus.doc_vector[docs] @ q,
        corpus.doc_sentence_vector[docs] @ q,
        np.minimum(1.0, bm25[docs] / (idf_sum or 1.0)),
        other_kw,
        other_cos,
        np.array([len(corpus.members[d]) for d in docs]),
        piece_kw,
        piece_cos,
        candidate_cos,
    )


def scored(c: Candidates, f: Features, s: dict[str, float | str]) -> np.ndarray:
    """The default fusion (tune_fusion.fused with cov=0.1,c0=2) with document evidence."""
    floor: Floor = c.floor
    small = f.passages <= float(s.get("m", 10**9))
    mixed = c.mixed.copy()
    for key, doc in (("dvi", f.doc_cosine), ("dsi", f.doc_sentence_cosine)):
        if key in s:
            lam = float(s[key])
            mixed = np.where(small, (1 - lam) * mixed + lam * doc, mixed)
    dense = np.array([relevance(x, floor) for x in mixed])
    ceiling = float(c.idfs.sum()) or 1.0
    kw = np.minimum(1.0, c.per_token.sum(axis=1) / ceiling)
    pieces = "p" in s  # only the other pieces of the passage's paragraph
    other_kw = f.other_piece_keyword if pieces else f.other_keyword
    other_cos = f.other_piece_cosine if pieces else f.other_cosine
    if "c" in s:  # only the pieces among the candidates
        other_cos = f.other_candidate_cosine
    other = np.array([relevance(x, floor) if x > -1 else 0.0 for x in other_cos])
    if "xk" in s:
        kw = np.where(small, np.maximum(kw, float(s["xk"]) * other_kw), kw)
    if "xki" in s:  # raised towards the best other passage's, never lowered
        kw = np.where(small, kw + float(s["xki"]) * np.maximum(other_kw - kw, 0), kw)
    if "xd" in s:
        dense = np.where(small, np.maximum(dense, float(s["xd"]) * other), dense)
    if "xdi" in s:
        dense = np.where(small, dense + float(s["xdi"]) * np.maximum(other - dense, 0), dense)
    if "dbi" in s:
        lam = float(s["dbi"])
        kw = np.where(small, (1 - lam) * kw + lam * f.doc_bm25, kw)
    score = 0.8 * dense + 0.2 * kw
    if rarity(c) >= 2:
        score = (score + 0.1 * ((c.per_token > 0) @ c.idfs / ceiling)) / 1.1
    for key, value in (
        ("dv", np.array([relevance(x, floor) for x in f.doc_cosine])),
        ("ds", np.array([relevance(x, floor) for x in f.doc_sentence_cosine])),
        ("db", f.doc_bm25),
    ):
        if key in s:
            g = float(s[key])
            score = (score + g * np.where(small, value, 0.0)) / (1 + g)
    if c.units:
        score = (c.held + score) / (c.units + 1)
    return score


class DocumentTuned(Tuned):
    """The real Searcher's candidates (tune_fusion.Tuned) re-scored with document evidence."""

    corpus: Corpus | None = None

    def _fuse(
        self, query: str, vector: np.ndarray, dense: list[int], dense_scores: list[float],
        k: int, ids: Sequence[int] | None, floor: Floor,
    ) -> list[Scored]:  # fmt: skip
        self.kept = []
        super()._fuse(query, vector, dense, dense_scores, k, ids, floor)
        c = self.kept[0]
        self.kept = None
        if self.corpus is None:
            self.corpus = Corpus(self.index)
        tokens = keyword.query_tokens(keyword.query_terms(query))
        with self.index.snapshot() as conn:
            f = features(self.corpus, conn, vector, c, tokens)
        score = scored(c, f, self.given)
        order = np.lexsort((c.ids, -score))[:k]
        return [
            Scored(int(c.ids[n]), float(score[n]), float(c.cosine[n]), float(c.per_token[n].sum()))
            for n in order
        ]


def main() -> None:
    parser = arguments()
    parser.add_argument("--cache", required=True)
    parser.add_argument("--settings", default=";dv=0.1")
    parser.add_argument("--features", help="a file to keep the features in between runs")
    args = parser.parse_args()
    kept, documents = pickle.loads(Path(args.cache).read_bytes())
    dataset = load_beir(args.dataset, args.split)
    ids = list(dataset.queries)
    embedder = Embedder()
    index = Index(args.index)
    corpus = Corpus(index)
    if args.features and Path(args.features).exists():
        every = pickle.loads(Path(args.features).read_bytes())
    else:
        vectors = embedder.embed_queries([dataset.queries[q] for q in ids])
        every = []
        with index.snapshot() as conn:
            for q, c, v in zip(ids, kept, vectors, strict=True):
                tokens = keyword.query_tokens(keyword.query_terms(dataset.queries[q]))
                every.append(features(corpus, conn, v, c, tokens))
        if args.features:
            Path(args.features).write_bytes(pickle.dumps(every))
    split = {
        q: any(len(corpus.members[number]) > 1 for number in judged_numbers(corpus, index, j))
        for q, j in dataset.qrels.items()
    }
    sample = DocumentTuned(Index(args.sample_index), embedder) if args.sample_index else None
    print(f"{dataset.name} {args.split}: {len(ids)} queries ({sum(split.values())} with a split "
          f"judged abstract), {embedder.runtime}")  # fmt: skip
    print("| setting | nDCG@10 | Recall@100 | MRR@10 | change, split (n) | change, whole (n) "
          "| claims up / down | golden hit@1 | golden hit@3 | golden MRR@10 | older top 3 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    base: dict[str, float] = {}
    for text in args.settings.split(";"):
        s = setting(text)
        run = {}
        for q, c, f in zip(ids, kept, every, strict=True):
            score = scored(c, f, s)
            order = np.lexsort((c.ids, -score))[:RUN_DEPTH]
            run[q] = documents_in_order([documents[int(c.ids[n])] for n in order], 100)
        ndcg, recall, mrr = score_run(run, dataset.qrels)
        per = {q: ndcg_at(run.get(q, []), j) for q, j in dataset.qrels.items()}
        if not base:
            base = per
        moved = defaultdict(float)
        counts = defaultdict(int)
        up = sum(per[q] > base[q] + 1e-9 for q in per)  # claims whose nDCG@10 rose over the first
        down = sum(per[q] < base[q] - 1e-9 for q in per)
        for q in per:
            moved[split[q]] += per[q] - base[q]
            counts[split[q]] += 1
        golden = " | | | "
        if sample is not None:
            sample.given = s
            g = score_golden(sample, GOLDEN, "hybrid")
            golden = (
                f"{g.hit_at_1:.3f} | {g.hit_at_3:.3f} | {g.mrr_at_10:.3f} "
                f"| {older_golden(sample)}/15"
            )
        print(
            f"| {text or 'default'} | {ndcg:.4f} | {recall:.4f} | {mrr:.4f} "
            f"| {moved[True] / len(per):+.4f} ({counts[True]}) "
            f"| {moved[False] / len(per):+.4f} ({counts[False]}) | {up} / {down} | {golden} |",
            flush=True,
        )


def judged_numbers(corpus: Corpus, index: Index, judged: dict[str, int]) -> list[int]:
    """The corpus numbers of the judged (relevant) documents that the index holds."""
    if not hasattr(corpus, "_number"):
        with index.snapshot() as conn:
            rows = conn.execute("SELECT id, document_id FROM passages").fetchall()
        corpus._number = {d: int(corpus.doc[int(i)]) for i, d in rows}  # type: ignore[attr-defined]
    number = corpus._number  # type: ignore[attr-defined]
    return [number[d] for d, r in judged.items() if r > 0 and d in number]


if __name__ == "__main__":
    main()
