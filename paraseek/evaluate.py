"""Retrieval evaluation on BEIR-format datasets: nDCG@10, Recall@100, MRR@10."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .corpus import Document
from .errors import InvalidArgumentError, SourceNotFoundError

if TYPE_CHECKING:
    from .search import Searcher

Qrels = dict[str, dict[str, int]]  # query id -> document id -> relevance grade
Run = dict[str, list[str]]  # query id -> document ids, best first
Progress = Callable[[int, int], None]
RUN_DEPTH = 200  # passages per query: enough for 100 distinct documents when a few are split


@dataclass(frozen=True)
class Dataset:
    """A BEIR dataset restricted to one split's judged queries."""

    name: str
    folder: Path
    split: str
    queries: dict[str, str]  # query id -> text, only queries with judgments in the split
    qrels: Qrels

    def documents(self) -> Iterator[Document]:
        """The corpus as Documents: `_id` as id, `title` as title, `text` as text."""
        with open(self.folder / "corpus.jsonl", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                row = json.loads(line)
                text = (row.get("text") or "").strip() or (row.get("title") or "").strip()
                yield Document(
                    id=str(row["_id"]),
                    path=f"beir:{self.name}:{row['_id']}",
                    title=(row.get("title") or "").strip(),
                    date=None,
                    content_hash=hashlib.sha256(
                        f"{row.get('title', '')}\n{text}".encode()
                    ).hexdigest(),
                    text=text,
                )


@dataclass(frozen=True)
class Scores:
    """Mean metrics over the queries of one evaluation run."""

    dataset: str
    split: str
    mode: str
    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    queries: int
    passages: int
    index_seconds: float
    search_seconds: float

    def to_dict(self) -> dict[str, object]:
        """The scores as a JSON-ready dict."""
        return asdict(self)


def load_beir(folder: str | Path, split: str = "test") -> Dataset:
    """Read `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv` from `folder`.

    Raises:
        SourceNotFoundError: a file is missing; the message names it.
    """
    folder = Path(folder)
    qrels_file = folder / "qrels" / f"{split}.tsv"
    for needed in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_file):
        if not needed.exists():
            splits = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
            raise SourceNotFoundError(
                f"'{needed}' is missing; a BEIR dataset folder holds corpus.jsonl, "
                f"queries.jsonl and qrels/<split>.tsv (splits here: {', '.join(splits) or 'none'})."
            )
    qrels: Qrels = {}
    with open(qrels_file, encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                if str(row["_id"]) in qrels:
                    queries[str(row["_id"])] = row["text"]
    return Dataset(folder.name, folder, split, queries, qrels)


# --- metrics (the trec_eval definitions, as BEIR reports them) ------------------------------


def ndcg_at(ranked: Sequence[str], judged: dict[str, int], k: int = 10) -> float:
    """nDCG@k with linear gains (trec_eval `ndcg_cut`): sum rel/log2(rank+1), over the ideal."""
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((r for r in judged.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], judged: dict[str, int], k: int = 100) -> float:
    """Share of the relevant documents (grade > 0) found in the top k."""
    relevant = {d for d, r in judged.items() if r > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], judged: dict[str, int], k: int = 10) -> float:
    """1 / rank of the first relevant document in the top k, else 0."""
    for i, d in enumerate(ranked[:k]):
        if judged.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_run(run: Run, qrels: Qrels) -> tuple[float, float, float]:
    """Mean (nDCG@10, Recall@100, MRR@10) over the judged queries; unanswered ones count 0."""
    if not qrels:
        raise InvalidArgumentError("No judged queries to evaluate.")
    totals = [0.0, 0.0, 0.0]
    for query_id, judged in qrels.items():
        ranked = run.get(query_id, [])
        totals[0] += ndcg_at(ranked, judged)
        totals[1] += recall_at(ranked, judged)
        totals[2] += mrr_at(ranked, judged)
    return (totals[0] / len(qrels), totals[1] / len(qrels), totals[2] / len(qrels))


def documents_in_order(document_ids: Sequence[str], k: int) -> list[str]:
    """The first k distinct document ids (a document scores as its best passage)."""
    seen: dict[str, None] = {}
    for d in document_ids:
        seen.setdefault(d, None)
        if len(seen) == k:
            break
    return list(seen)


def run_of(
    searcher: Searcher, dataset: Dataset, mode: str | None = None,
    passage_ids: Sequence[int] | None = None,
) -> Run:  # fmt: skip
    """Every judged query of `dataset` searched in `mode`: the first 100 distinct documents
    of its RUN_DEPTH passages, best first (a document ranks by its best passage)."""
    ids = list(dataset.queries)
    texts = [dataset.queries[i] for i in ids]
    results = searcher.search_many(texts, k=RUN_DEPTH, mode=mode, passage_ids=passage_ids)
    return {
        q: documents_in_order([h.document_id for h in hits], 100)
        for q, hits in zip(ids, results, strict=True)
    }


def evaluate(
    dataset: Dataset, index_path: str | Path, mode: str | None = None,
    progress: Progress | None = None, model: str | None = None, first_passage: bool = False,
    precision: str | None = None, ann: str | None = None, store: str | None = None,
    device: str | None = None,
) -> Scores:  # fmt: skip
    """Index the dataset's corpus (reusing what `index_path` already holds), run every judged
    query, and score the ranking of documents (each scored by its best passage).

    Args:
        dataset: from `load_beir`.
        index_path: the index folder; an existing one is updated, so a re-run embeds nothing.
        mode: the search mode; None means the default.
        progress: indexing progress, as (passages done, passages expected).
        model: the embedding model; None means the bundled default.
        first_passage: score each document by its first passage only, the equivalent of
            truncating it to the model's limit (how MTEB and BEIR report their figures).
        precision: the embedding path, "auto" or "fp32" (see `Embedder`).
        ann: the vector index, "auto", "flat", "hnsw" or "ivf" (see `Writer`).
        store: where the vectors live, "faiss" or "milvus" (see `Writer`).
        device: where passages and queries are embedded, "auto", "cpu" or "cuda" (see
            `Embedder`).
    """
    from .corpus import split_record
    from .embedder import Embedder
    from .index import Index, Writer
    from .search import Searcher

    started = time.perf_counter()
    embedder = Embedder(model, precision=precision, device=device)
    with Writer(index_path, embedder, ann=ann, store=store) as writer:
        report = writer.add(dataset.documents(), splitter=split_record, progress=progress)
    index_seconds = time.perf_counter() - started
    searcher = Searcher(Index(index_path, model=embedder.model_id), embedder)
    started = time.perf_counter()
    only = searcher.index.first_passage_ids() if first_passage else None
    run = run_of(searcher, dataset, mode, only)
    search_seconds = time.perf_counter() - started
    ndcg, recall, mrr = score_run(run, dataset.qrels)
    return Scores(
        dataset=dataset.name, split=dataset.split,
        mode=searcher.mode(mode) + (" (first passage)" if first_passage else ""), ndcg_at_10=round(ndcg, 4),
        recall_at_100=round(recall, 4), mrr_at_10=round(mrr, 4), queries=len(run),
        passages=report.passages, index_seconds=round(index_seconds, 1),
        search_seconds=round(search_seconds, 1),
    )  # fmt: skip


# --- golden questions on a corpus of one's own ---------------------------------------------


@dataclass(frozen=True)
class Golden:
    """A question with the passage(s) that answer it, named by file and text, not by id.

    Attributes:
        question: the question, in a user's own words.
        document: the file name of the document that answers it.
        answers: distinctive substrings of the passages a reader accepts as the answer.
    """

    question: str
    document: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class GoldenScores:
    """hit@1, hit@3 and MRR@10 of one mode over a golden set, and each question's rank."""

    mode: str
    hit_at_1: float
    hit_at_3: float
    mrr_at_10: float
    ranks: dict[str, int | None]  # question -> rank of its first accepted answer (1-10), or None


def load_golden(path: str | Path) -> list[Golden]:
    """Read a golden set: {"questions": [{"question", "document", "answers": [...]}]}."""
    with open(path, encoding="utf-8") as f:
        rows = json.load(f)["questions"]
    return [Golden(r["question"], r["document"], tuple(r["answers"])) for r in rows]


def answer_rank(golden: Golden, hits: Sequence[object]) -> int | None:
    """Rank (from 1) of the first hit that is an accepted answer of `golden`, else None."""
    for rank, hit in enumerate(hits, 1):
        source, text = str(getattr(hit, "source", "")), str(getattr(hit, "text", ""))
        if Path(source).name == golden.document and any(a in text for a in golden.answers):
            return rank
    return None


def score_golden(searcher: object, questions: Sequence[Golden], mode: str) -> GoldenScores:
    """Search every golden question (k=10) in `mode` and score where its answer lands."""
    results = searcher.search_many([g.question for g in questions], k=10, mode=mode)  # type: ignore[attr-defined]
    ranks = {g.question: answer_rank(g, hits) for g, hits in zip(questions, results, strict=True)}
    found = list(ranks.values())
    n = len(found) or 1
    return GoldenScores(
        mode=mode,
        hit_at_1=round(sum(r == 1 for r in found) / n, 4),
        hit_at_3=round(sum(r is not None and r <= 3 for r in found) / n, 4),
        mrr_at_10=round(sum(1 / r for r in found if r) / n, 4),
        ranks=ranks,
    )
