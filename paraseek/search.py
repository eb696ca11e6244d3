"""Searcher: query -> list[Hit] (dense search, more like this, compare across documents)."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import settings
from .corpus import Document, Passage, embedded_text, is_lead, speaker, voice
from .embedder import Embedder, Reranker, resolve_model
from .errors import EmptyQueryError, InvalidArgumentError, InvalidTextError, UnknownPassageError
from .explain import best_sentences
from .hit import Hit
from .index import DocumentInfo, Index, UpdateReport, Writer, check_k, read_manifest
from .index.keyword import matched_spans
from .index.keyword import query_terms as query_terms  # for front ends: a query's words
from .index.stores import HYBRID

MAX_QUERY_CHARS = 2000
MAX_PASSAGE_ID = 2**63 - 1  # SQLite's largest integer
MODES = ("dense", "keyword", "hybrid")
DEFAULT_MODE = "hybrid"
HYBRID_WEIGHT = 0.8  # share of the dense score in hybrid; chosen on SciFact train (docs/quality.md)
HYBRID_DEPTH = 100  # candidates taken from each side before fusion
RERANK_DEPTH = 30  # candidates a re-ranker scores (at least k)


MAX_PAGE = 1000  # passages in one page of a document (read)


@dataclass(frozen=True)
class Reading:
    """A page of one document's passages, in order, for reading it.

    Attributes:
        document: the document.
        first: the number of `passages[0]` in the document (1 for its first passage).
        passages: the page's passages.
        leads: ids of those that are leads (corpus.is_lead: an interviewer's question).
    """

    document: DocumentInfo
    first: int
    passages: list[Passage]
    leads: frozenset[int]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: the document's fields, then each passage with its number (1-based),
        its id, text, context, offsets and who says it (Hit.speaker, Hit.voice)."""
        d = self.document
        return {
            "id": d.id, "title": d.title, "author": getattr(d, "author", None), "date": d.date,
            "source": d.path, "passages": d.passages, "first": self.first,
            "items": [
                {"number": self.first + n, "passage_id": int(p.id or 0), "text": p.text,
                 "context": p.context, "start": p.start, "end": p.end,
                 "lead": p.id in self.leads, "speaker": speaker(p.context),
                 "voice": voice(p.context, p.text)}
                for n, p in enumerate(self.passages)
            ],
        }  # fmt: skip


def index_path(path: str | os.PathLike[str] | None = None) -> Path:
    """`path`, else `$PARASEEK_INDEX`, else ./paraseek-index."""
    return Path(path or settings.current().index)


def check_query(query: str) -> str:
    """The query stripped; raises EmptyQueryError or InvalidArgumentError for unusable ones."""
    if not isinstance(query, str) or not query.strip():
        raise EmptyQueryError("The query is empty; type a question or some words to search for.")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidArgumentError(
            f"The query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}."
        )
    check_text(query, "The query")
    return query.strip()


def check_text(text: str, what: str) -> None:
    """Raise InvalidTextError when `text` holds bytes that were not UTF-8.

    Python keeps such bytes of a command line (or of standard input read with surrogateescape)
    as lone surrogates, which no tokenizer accepts.
    """
    for at, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            raw = "\udc80" <= char <= "\udcff"  # a byte that Python could not decode
            what_is = f"byte 0x{ord(char) - 0xDC00:02x}" if raw else f"U+{ord(char):04X}"
            raise InvalidTextError(
                f"{what} is not valid UTF-8 text: {what_is} at character {at + 1} is not a "
                "character; give it in UTF-8."
            )


class Searcher:
    """Answers queries from one index with the embedder it was built with."""

    def __init__(
        self, index: Index, embedder: Embedder, hybrid_weight: float = HYBRID_WEIGHT,
        fusion: str = "score", reranker: Reranker | None = None,
    ) -> None:  # fmt: skip
        """Args:
        index: an open index.
        embedder: the model the index was built with.
        hybrid_weight: in hybrid mode, the weight of the dense score (0 to 1).
        fusion: how hybrid mode fuses: "score" (weighted, normalised scores) or "rrf"
            (reciprocal rank fusion, k=60).
        reranker: if given, re-scores the top 30 (or k) candidates of every search with a
            cross-encoder; hits then carry its scores.
        """
        self.index = index
        self.embedder = embedder
        self.hybrid_weight = hybrid_weight
        self.fusion = fusion
        self.reranker = reranker

    @staticmethod
    def mode(mode: str | None = None) -> str:
        """`mode`, else `$PARASEEK_MODE`, else the default (hybrid); checked."""
        chosen = settings.current(mode=mode).mode
        if chosen not in MODES:
            raise InvalidArgumentError(
                f"Unknown search mode '{chosen}'; valid modes: {', '.join(MODES)}."
            )
        return chosen

    @classmethod
    def open(
        cls, path: str | os.PathLike[str] | None = None, model: str | None = None,
        reranker: str | None = None, precision: str | None = None, store: str | None = None,
        device: str | None = None,
    ) -> Searcher:  # fmt: skip
        """Open the index at `path` (see `index_path`) and load its model.

        Args:
            path: the index folder.
            model: the model to embed queries with; None means the one the index was built
                with (or `$PARASEEK_MODEL` if set, which must then match).
            reranker: a CrossEncoder name or folder (else `$PARASEEK_RERANKER`, else none).
            precision: how queries are embedded: "auto" or "fp32" (see `Embedder`).
            store: the vector store the caller expects, "faiss" or "milvus" (else
                `$PARASEEK_STORE`); the index's own is used, and another is an error.
            device: where queries are embedded (see `Embedder`); None means
                `$PARASEEK_DEVICE`, else "auto".

        Raises:
            IndexNotFoundError, IndexFormatError, ModelMismatchError, ModelLoadError,
            StoreMismatchError, StoreUnavailableError, DeviceUnavailableError.
        """
        folder = index_path(path)
        manifest = read_manifest(folder)  # fails fast, before the model loads
        chosen = settings.current(model=model, reranker=reranker)
        model_id = resolve_model(chosen.model)[0] if chosen.model else None
        index = Index(folder, model=model_id, store=store)
        return cls(
            index, Embedder(chosen.model or str(manifest["model"]), precision=precision,
                            device=device),
            reranker=Reranker(chosen.reranker) if chosen.reranker else None,
        )  # fmt: skip

    # --- the index, read through the façade --------------------------------------------
    # Front ends (CLI, API, app) and paraseek.compare read the index only through these.

    @property
    def path(self) -> Path:
        """The index folder."""
        return self.index.path

    @property
    def model(self) -> str:
        """The model id the index was built with."""
        return self.index.model

    def snapshot(self) -> AbstractContextManager[object]:
        """One consistent view of the index: the reads made inside it see one version.

        Snapshots nest, so a caller can make several of the methods below one view.
        """
        return self.index.snapshot()

    def generation(self) -> int:
        """The number of the index's committed version; it grows with every change."""
        return self.index.generation()

    def info(self) -> dict[str, object]:
        """The index's settings and counts (its manifest, with counts read now)."""
        return self.index.stats()

    def health(self) -> dict[str, object]:
        """What a health check reports: the generation, the vector store's kind and how
        hybrid search gets its keyword side."""
        with self.snapshot():
            store = self.index.store
            return {
                "generation": self.generation(),
                "store": store.kind,
                "hybrid": HYBRID,
            }

    def documents(self) -> list[DocumentInfo]:
        """Every document in the index, ordered by title."""
        return self.index.documents()

    def document_infos(self, document_ids: Iterable[str]) -> dict[str, DocumentInfo]:
        """The documents with these ids, by id; ids not in the index are left out."""
        return self.index.document_infos(document_ids)

    def document(self, name: str) -> DocumentInfo:
        """The one document `name` (an id, path, file name or stem) names.

        Raises:
            UnknownDocumentError: it names none.
            InvalidArgumentError: it names several (files of the same name in two folders).
        """
        with self.snapshot():
            found = self.index.resolve_document(name)
            return self.index.document_infos([found])[found]

    def resolve_documents(self, names: Sequence[str]) -> list[str]:
        """Document ids for ids, paths, file names or file stems.

        Raises:
            UnknownDocumentError: a name matches no document; the message lists valid ids.
        """
        return self.index.resolve_documents(names)

    def passages(self, ids: Sequence[int]) -> list[Passage]:
        """The passages with these ids, in the same order.

        Raises:
            UnknownPassageError: an id is not in the index.
        """
        return self.index.passages(ids)

    def document_passages(
        self, document_id: str, start: int = 0, count: int | None = None
    ) -> list[Passage]:
        """The passages of one document in order: those from ordinal `start`, at most
        `count` of them (all if None); an unknown document has none."""
        passages = self.index.document_passages(document_id)
        return passages[start : None if count is None else start + count]

    def document_text(self, document_id: str) -> str:
        """The document's full extracted text: passage offsets (`start`, `end`) index into it.

        Raises:
            UnknownDocumentError: no document has this id.
        """
        return self.index.document_text(document_id)

    def read(self, document: str, first: int = 1, count: int = 100) -> Reading:
        """A page of a document's passages: `count` of them from number `first` (1-based).

        Args:
            document: an id, path, file name or stem.
            first: 1 to the document's passage count (1 for an empty document).
            count: 1 to MAX_PAGE.

        Raises:
            UnknownDocumentError, InvalidArgumentError (a bad `first` or `count`; the
            message gives the valid range).
        """
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_PAGE:
            raise InvalidArgumentError(
                f"count must be an integer from 1 to {MAX_PAGE}, got {count!r}."
            )
        with self.snapshot():
            info = self.document(document)
            last = max(info.passages, 1)
            if not isinstance(first, int) or isinstance(first, bool) or not 1 <= first <= last:
                raise InvalidArgumentError(
                    f"'{info.title}' has {info.passages} passages, numbered 1 to "
                    f"{info.passages}; there is no passage {first!r}."
                )
            passages = self.document_passages(info.id, first - 1, count)
            leads = frozenset(int(i) for i in self.leads(passages) if i is not None)
        return Reading(info, first, passages, leads)

    def passage_ids(self, document_ids: Sequence[str]) -> list[int]:
        """Ids of every passage of these documents."""
        return self.index.passage_ids(document_ids)

    def comment_ids(self) -> set[int]:
        """Ids of the passages someone other than the author says (see `Hit.speaker`)."""
        return self.index.comment_ids()

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The exact unit vectors of these passages, float32 (len(ids), dimension)."""
        return self.index.vectors(ids)

    def embed(self, queries: Sequence[str]) -> np.ndarray:
        """The queries' unit vectors, float32 (len(queries), dimension)."""
        return self.embedder.embed_queries(list(queries))

    def nearest(
        self, vectors: np.ndarray, k: int, passage_ids: Sequence[int] | None = None,
        exclude: Sequence[int] = (),
    ) -> tuple[list[list[Passage]], list[list[float]]]:  # fmt: skip
        """Per row of `vectors`, the k passages of highest inner product and their scores,
        best first; only of `passage_ids` if given, never of `exclude`."""
        return self.index.search(vectors, k, passage_ids=passage_ids, exclude=exclude)

    def nearest_ids(
        self, vectors: np.ndarray, k: int, passage_ids: Sequence[int] | None = None
    ) -> tuple[list[list[int]], list[list[float]]]:
        """`nearest` without loading the passages: per row, (passage ids, scores)."""
        return self.index.search_ids(vectors, k, passage_ids=passage_ids)

    def best_per_document(
        self, vectors: np.ndarray, top: int, documents: Collection[str] | None = None,
        avoid: Collection[int] = (),
    ) -> list[list[tuple[str, list[int], list[float]]]]:  # fmt: skip
        """Per row of `vectors`, each document's `top` closest passages by exact cosine:
        [(document id, passage ids, scores)], best first within a document; only of
        `documents` (ids) if given; `avoid` (passage ids) answer only where their document
        has nothing else."""
        return self.index.best_per_document(vectors, top, documents, avoid)

    def add(
        self, documents: Iterable[Document], progress: Callable[[int, int], None] | None = None
    ) -> UpdateReport:
        """Add (or update) these documents in the index with this searcher's model; no other
        document is touched.

        Raises:
            IndexLockedError: another process writes the index.
        """
        with Writer(self.path, self.embedder) as writer:
            return writer.add(documents, progress=progress)

    def remove(self, document_ids: Sequence[str]) -> int:
        """Remove these documents (ids) from the index; returns how many were removed."""
        with Writer(self.path, self.embedder) as writer:
            return writer.remove(document_ids)

    def search(
        self, query: str, k: int = 10, documents: Sequence[str] | None = None,
        mode: str | None = None, explain: bool = False,
    ) -> list[Hit]:  # fmt: skip
        """The k passages closest to `query`, best first.

        Args:
            query: a question or some words.
            k: how many hits, 1 to 10,000.
            documents: if given, only passages of these documents (ids, paths or file names).
            mode: "dense" (embeddings), "keyword" (BM25) or "hybrid" (both, fused); None
                means `$PARASEEK_MODE`, else hybrid. Scores differ by mode: cosine for
                dense, BM25 for keyword, a 0-1 fusion for hybrid.
            explain: fill each hit's `best_sentence` (embeds the hits' sentences: tens of
                milliseconds per hit on a CPU).
        """
        return self.search_many([query], k, documents, mode, explain=explain)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 10, documents: Sequence[str] | None = None,
        mode: str | None = None, passage_ids: Sequence[int] | None = None,
        explain: bool = False,
    ) -> list[list[Hit]]:  # fmt: skip
        """`search` for several queries at once: one list of hits per query, in order.

        `passage_ids`, if given, limits the search to those passages (after `documents`).
        """
        cleaned = [check_query(q) for q in queries]
        check_k(k)
        mode = self.mode(mode)
        if not cleaned:
            return []
        # One embedding per query, shared by the dense side and the explanations.
        vectors = None
        if mode != "keyword" or explain:
            vectors = self.embedder.embed_queries(cleaned)
        depth = max(k, RERANK_DEPTH) if self.reranker else k
        with self.index.snapshot():  # every read of this search sees one version of the index
            results = self._search_many(cleaned, vectors, depth, documents, mode, passage_ids)
            if self.reranker:
                results = [
                    self._rerank(q, hits, k) for q, hits in zip(cleaned, results, strict=True)
                ]
            results = [self._mark(q, hits) for q, hits in zip(cleaned, results, strict=True)]
        if explain:
            assert vectors is not None
            results = [
                self._best_sentences(v, hits) for v, hits in zip(vectors, results, strict=True)
            ]
        return results

    def explain(self, query: str, hits: list[Hit]) -> list[Hit]:
        """`hits` (from `search(query)`) with `best_sentence` filled in."""
        return self._best_sentences(self.embedder.embed_queries([check_query(query)])[0], hits)

    def _rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        assert self.reranker is not None
        scores = self.reranker.scores(query, [embedded_text(h.context, h.text) for h in hits])
        order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))[:k]
        return [
            replace(hits[i], rank=r, score=round(float(scores[i]), 6))
            for r, i in enumerate(order, 1)
        ]

    def _mark(self, query: str, hits: list[Hit]) -> list[Hit]:
        matched = matched_spans(query, [(h.passage_id, h.text) for h in hits])
        return [replace(h, matched=tuple(matched.get(h.passage_id, ()))) for h in hits]

    def _best_sentences(self, vector: np.ndarray, hits: list[Hit]) -> list[Hit]:
        best = best_sentences(self.embedder, vector, [h.text for h in hits])
        return [replace(h, best_sentence=b) for h, b in zip(hits, best, strict=True)]

    def _search_many(
        self, cleaned: list[str], vectors: np.ndarray | None, k: int,
        documents: Sequence[str] | None, mode: str, passage_ids: Sequence[int] | None,
    ) -> list[list[Hit]]:  # fmt: skip
        """Hits per query in `mode`; `vectors` are the queries' embeddings (None for keyword)."""
        ids = list(passage_ids) if passage_ids is not None else None
        if documents:
            allowed = self.index.passage_ids(self.index.resolve_documents(documents))
            ids = allowed if ids is None else sorted(set(ids).intersection(allowed))
        if mode == "keyword":
            results = [self.index.keyword_search(q, k, ids) for q in cleaned]
            return [self.hits(p, s) for p, s in results]
        assert vectors is not None
        if mode == "dense":
            found, scores = self.index.search(vectors, k, passage_ids=ids)
            return [self.hits(p, s) for p, s in zip(found, scores, strict=True)]
        dense_ids, scores = self.index.search_ids(vectors, max(k, HYBRID_DEPTH), passage_ids=ids)
        return [
            self._fuse(query, vector, dense, dense_scores, k, ids)
            for query, vector, dense, dense_scores in zip(
                cleaned, vectors, dense_ids, scores, strict=True
            )
        ]

    def _fuse(
        self, query: str, vector: np.ndarray, dense: list[int], dense_scores: list[float],
        k: int, ids: Sequence[int] | None,
    ) -> list[Hit]:  # fmt: skip
        """Hybrid: the union of the dense and BM25 candidates, each scored exactly on both sides.

        BM25 comes from the index's own postings (FTS5's scores), whatever the vector store.
        """
        keyword, keyword_scores = self.index.keyword_scores(query, max(k, HYBRID_DEPTH), ids)
        dense_by_id = dict(zip(dense, dense_scores, strict=True))
        candidates = list(dict.fromkeys([*dense_by_id, *keyword]))
        missing = [i for i in candidates if i not in dense_by_id]
        if missing:
            dense_by_id.update(
                zip(missing, (self.index.vectors(missing) @ vector).tolist(), strict=True)
            )
        bm25 = dict(zip(keyword, keyword_scores, strict=True))
        unscored = [i for i in candidates if i not in bm25]
        if keyword and unscored:  # exact BM25 of dense-only candidates (0 if no term matches)
            extra, extra_scores = self.index.keyword_scores(query, len(unscored), unscored)
            bm25.update(zip(extra, extra_scores, strict=True))
        fused = fuse(dense_by_id, bm25, self.hybrid_weight, self.fusion)
        best = sorted(fused, key=lambda i: (-fused[i], i))[:k]
        # Candidates are fused by id; only the passages returned are loaded.
        return self.hits(self.index.passages(best), [fused[i] for i in best])

    def similar(
        self, passage_id: int, k: int = 10, other_documents_only: bool = False
    ) -> list[Hit]:
        """The k passages most like passage `passage_id` (itself excluded), best first.

        Args:
            passage_id: a passage id from a hit.
            k: how many hits, 1 to 10,000.
            other_documents_only: leave out passages of the same document.
        """
        check_k(k)
        if not 0 <= passage_id <= MAX_PASSAGE_ID:  # SQLite cannot even look it up
            raise UnknownPassageError(
                f"No passage with id {passage_id} in index '{self.index.path}'; ids come from "
                "the passage_id field of search results."
            )
        with self.index.snapshot():
            passage = self.index.passages([passage_id])[0]
            vector = self.index.vectors([passage_id])
            exclude = [passage_id]
            if other_documents_only:
                exclude = self.index.passage_ids([passage.document_id])
            found, scores = self.index.search(vector, k, exclude=exclude)
            return self.hits(found[0], scores[0])

    def compare(
        self, query: str, per_document: int = 1, comments: bool = False,
        documents: Sequence[str] | None = None,
    ) -> list[Hit]:  # fmt: skip
        """The best `per_document` passages of every document for one question: see
        `paraseek.compare.compare`, where comparing lives."""
        from .compare import compare

        return compare(self, query, per_document, comments, documents)

    def leads(self, passages: list[Passage]) -> set[int | None]:
        """Ids of those of `passages` that are leads (corpus.is_lead): an interviewer's long
        question or a heading kept as a passage of its own."""
        after = self.index.following([p for p in passages if not p.context])  # leads have none
        return {p.id for p in passages if is_lead(p, after.get(int(p.id or 0)))}

    def hits(
        self, passages: list[Passage], scores: list[float], leads: set[int | None] | None = None,
        documents: dict[str, DocumentInfo] | None = None,
    ) -> list[Hit]:  # fmt: skip
        """Hits of `passages` with these scores, ranked in order; `leads` (see `leads`) and
        their `documents` (by id) when the caller already knows them. A passage whose document
        is gone (removed by a re-index between two reads) is left out."""
        if documents is None:
            documents = self.index.document_infos({p.document_id for p in passages})
        leads = self.leads(passages) if leads is None else leads
        hits: list[Hit] = []
        for p, score in zip(passages, scores, strict=True):
            d = documents.get(p.document_id)
            if d is None:  # removed by a re-index between the two reads: no longer a result
                continue
            hits.append(
                Hit(len(hits) + 1, round(score, 6), int(p.id or 0), d.id, d.title, d.date,
                    d.path, p.text, p.context, p.start, p.end, p.ordinal, lead=p.id in leads,
                    speaker=speaker(p.context), voice=voice(p.context, p.text))
            )  # fmt: skip
        return hits


def fuse(
    dense: dict[int, float], keyword: dict[int, float], weight: float, method: str
) -> dict[int, float]:
    """Fuse dense and keyword scores of the same candidates into one score, higher is better.

    Args:
        dense: passage id -> cosine similarity, for every candidate.
        keyword: passage id -> BM25 score; a candidate missing here matched no query term.
        weight: share of the dense side, 0 to 1.
        method: "score": min-max normalised dense plus max-normalised BM25, weighted;
            "rrf": reciprocal rank fusion (k=60) with the same weights.

    Returns:
        passage id -> fused score (0 to 1 for "score").
    """
    if method == "rrf":
        ranked_dense = sorted(dense, key=lambda i: -dense[i])
        ranked_keyword = sorted(keyword, key=lambda i: -keyword[i])
        fused = dict.fromkeys(dense, 0.0)
        for rank, i in enumerate(ranked_dense, 1):
            fused[i] += weight / (60 + rank)
        for rank, i in enumerate(ranked_keyword, 1):
            fused[i] += (1 - weight) / (60 + rank)
        return fused
    if not dense:  # an empty index: no candidates
        return {}
    low, high = min(dense.values()), max(dense.values())
    span = (high - low) or 1.0
    top = max(keyword.values(), default=0.0) or 1.0
    return {
        i: weight * (dense[i] - low) / span + (1 - weight) * keyword.get(i, 0.0) / top
        for i in dense
    }
