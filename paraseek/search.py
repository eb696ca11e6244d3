"""Searcher: query -> list[Hit] (dense search, more like this, compare across documents)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import settings, words
from .calibration import Floor, calibrate, keyword_relevance, relevance
from .corpus import Document, Passage, embedded_text, is_lead, sentence_spans, speaker, voice
from .embedder import Embedder, Reranker, resolve_model
from .errors import (
    EmptyQueryError,
    InvalidArgumentError,
    InvalidTextError,
    UnknownAuthorError,
    UnknownPassageError,
)
from .explain import best_sentences
from .hit import Hit
from .index import MAX_K, DocumentInfo, Index, UpdateReport, Writer, check_k, keyword, read_manifest
from .index.keyword import matched_spans
from .index.keyword import query_terms as query_terms  # for front ends: a query's words
from .index.stores import HYBRID
from .sentences import SENTENCE_WEIGHT, with_sentences

MAX_QUERY_CHARS = 2000
MAX_PASSAGE_ID = 2**63 - 1  # SQLite's largest integer
MODES = ("dense", "keyword", "hybrid")
HYBRID_WEIGHT = 0.8  # share of the dense relevance in hybrid; chosen on SciFact train (quality.md)
# In hybrid, a query whose words are rare enough together (their IDFs add up to COVERAGE_RARITY
# words that no passage holds) also ranks by the share of its words a passage holds, the same
# or a close word (paraseek/words.py), with this weight beside the dense and keyword
# relevances (chosen on SciFact train and the golden questions: quality.md).
COVERAGE_WEIGHT = 0.2
COVERAGE_RARITY = 2.0
HELD_WORDS = 50_000  # passages whose words close words keep (about 2 KB each)
ANSWER_SLACK = 5  # extra candidates, for the questions that give way to their answers
LOOKUP_TERMS = 3  # a query of at most this many words (stop words aside), not a question
_QUESTION_WORDS = frozenset(
    "who what when where why how which whose whom is are was were do does did can could "
    "should would will may might must shall has have had".split()
)
_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”')
HYBRID_DEPTH = 100  # candidates taken from each side before fusion
RERANK_DEPTH = 30  # candidates a re-ranker scores (at least k)
# Dense pseudo-relevance feedback in hybrid mode (Rocchio on vectors): the query vector moved
# towards the mean of its first search's top FEEDBACK_DEPTH passages by FEEDBACK_WEIGHT, then
# searched again; 0 turns it off (docs/quality.md, "Pseudo-relevance feedback").
FEEDBACK_WEIGHT = 0.0
FEEDBACK_DEPTH = 3


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
        self, index: Index, embedder: Embedder | None, hybrid_weight: float = HYBRID_WEIGHT,
        fusion: str = "relevance", reranker: Reranker | None = None,
        load: Callable[[], Embedder] | None = None, sentence_weight: float = SENTENCE_WEIGHT,
        feedback_weight: float = FEEDBACK_WEIGHT, feedback_depth: int = FEEDBACK_DEPTH,
        coverage_weight: float = COVERAGE_WEIGHT, close_words: bool = True,
    ) -> None:  # fmt: skip
        """Args:
        index: an open index.
        embedder: the model the index was built with; None to have `load` load it when a
            query is first embedded (`open(..., reading=True)`).
        hybrid_weight: in hybrid mode, the weight of the dense score (0 to 1).
        fusion: how hybrid mode fuses: "relevance" (the weighted sum of the dense and keyword
            relevances, each 0-1 on the same scale for every query: see Hit.score), "score"
            (weighted scores normalised over the candidates: min-max cosine, max BM25) or
            "rrf" (reciprocal rank fusion, k=60).
        reranker: if given, re-scores the top 30 (or k) candidates of every search with a
            cross-encoder; hits then carry its scores.
        load: loads the embedder, where `embedder` is None.
        sentence_weight: in hybrid mode, the share of a candidate's best sentence or window of
            two sentences in its dense cosine (see `sentences.with_sentences`); 0 ranks by
            passages alone.
        feedback_weight: in hybrid mode, how far the query vector moves towards the mean of
            its top `feedback_depth` dense passages before a second search (see `feedback`);
            0 searches once.
        coverage_weight: in hybrid mode with relevance fusion, the weight of the share of
            the query's words (by IDF) that a candidate holds, for queries whose words are
            rare enough together (COVERAGE_RARITY); 0 leaves it out.
        close_words: the coverage counts a word the passage holds in another form or as
            another word of the same sense (see `words.coverage`), where the index has word
            vectors; False counts the query's words as written (stemmed) only.
        """
        if embedder is None and load is None:
            raise TypeError("Searcher needs an embedder or a function that loads one (load=).")
        self.index = index
        self._embedder = embedder
        self._load = load
        self.sentence_weight = sentence_weight
        self.feedback_weight = feedback_weight
        self.feedback_depth = feedback_depth
        self.hybrid_weight = hybrid_weight
        self.coverage_weight = coverage_weight
        self.close_words = close_words
        self.fusion = fusion
        self.reranker = reranker
        self._floor: tuple[int, Floor] | None = None  # (index generation, its silence floor)
        self._held: dict[int, tuple[frozenset[str], np.ndarray]] = {}  # see _words_of
        self._held_of: dict[str, int] | None = None
        self._held_lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        """The model queries are embedded with (loaded now, the first time, if `open` was told
        the searcher is for `reading`)."""
        if self._embedder is None:
            assert self._load is not None
            self._embedder = self._load()
        return self._embedder

    def calibrate(self, deviations: float, documents: int) -> Floor:
        """A silence floor of this index with other settings than `floor`'s (see
        calibration.calibrate), calibrated afresh."""
        return calibrate(self.embedder, self.index, deviations, documents)

    def floor(self) -> Floor:
        """The index's silence floor (calibration.Floor), calibrated once per version of the
        index: embeds 40 short questions the first time (tens of milliseconds)."""
        generation = self.index.generation()
        if self._floor is None or self._floor[0] != generation:
            self._floor = (generation, calibrate(self.embedder, self.index))
        return self._floor[1]

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
        device: str | None = None, reading: bool = False,
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
            reading: the searcher is for reading documents and passages: the model loads
                only when a query is first embedded, and there is no re-ranker.

        Raises:
            IndexNotFoundError, IndexFormatError, ModelMismatchError, ModelLoadError,
            StoreMismatchError, StoreUnavailableError, DeviceUnavailableError.
        """
        folder = index_path(path)
        manifest = read_manifest(folder)  # fails fast, before the model loads
        chosen = settings.current(model=model, reranker=reranker)
        model_id = resolve_model(chosen.model)[0] if chosen.model else None
        index = Index(folder, model=model_id, store=store)

        def load() -> Embedder:
            return Embedder(chosen.model or str(manifest["model"]), precision=precision,
                            device=device)  # fmt: skip

        if reading:
            return cls(index, None, load=load)
        return cls(index, load(), reranker=Reranker(chosen.reranker) if chosen.reranker else None)

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

    def authors(self) -> list[str]:
        """Every author named in the index (DocumentInfo.author), sorted."""
        return sorted({d.author for d in self.documents() if d.author})

    def by_author(self, author: str) -> list[str]:
        """Ids of the documents whose author holds `author` (case and accents aside: "sean"
        finds "Sean O'Torain", "korchagin" an interview he conducted).

        Raises:
            UnknownAuthorError: no document is by that author; the message names the authors.
        """
        wanted = _folded(author)
        found = [d.id for d in self.documents() if d.author and wanted in _folded(d.author)]
        if not wanted or not found:
            known = "; ".join(self.authors()) or "none (no document has a byline)"
            raise UnknownAuthorError(f"No document by '{author.strip()}'; authors: {known}.")
        return found

    def documents_by(self, author: str | None, documents: Sequence[str] | None) -> list[str] | None:
        """`documents` (ids, paths or file names) narrowed to those by `author`, as ids."""
        if author is None:
            return list(documents) if documents else None
        found = self.by_author(author)
        if documents:
            chosen = set(self.index.resolve_documents(documents))
            found = [d for d in found if d in chosen]
            if not found:
                raise UnknownAuthorError(
                    f"None of the documents chosen is by '{author.strip()}'; leave out the "
                    "document filter or the author."
                )
        return found

    def search(
        self, query: str, k: int = 10, documents: Sequence[str] | None = None,
        mode: str | None = None, explain: bool = False, author: str | None = None,
    ) -> list[Hit]:  # fmt: skip
        """The k passages closest to `query`, best first.

        Args:
            query: a question or some words.
            k: how many hits, 1 to 10,000.
            documents: if given, only passages of these documents (ids, paths or file names).
            mode: "dense" (embeddings), "keyword" (BM25) or "hybrid" (both, fused); None
                means `$PARASEEK_MODE`, else hybrid. Every mode scores 0-1 (see Hit.score),
                with the raw cosine and BM25 in `Hit.cosine` and `Hit.bm25`.
            explain: fill each hit's `best_sentence` from the sentence vectors stored at
                index time (see `paraseek.explain`).
            author: if given, only documents by this author (see `by_author`).

        A question or heading kept as a passage of its own never comes back: where it
        matches, the passage that answers it does (`Hit.asked`), with it as its context.
        """
        return self.search_many([query], k, documents, mode, explain=explain, author=author)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 10, documents: Sequence[str] | None = None,
        mode: str | None = None, passage_ids: Sequence[int] | None = None,
        explain: bool = False, author: str | None = None,
    ) -> list[list[Hit]]:  # fmt: skip
        """`search` for several queries at once: one list of hits per query, in order.

        `passage_ids`, if given, limits the search to those passages (after `documents`).
        """
        cleaned = [check_query(q) for q in queries]
        check_k(k)
        mode = self.mode(mode)
        documents = self.documents_by(author, documents)
        if not cleaned:
            return []
        # One embedding per query, shared by the dense side and the explanations.
        vectors = None
        if mode != "keyword" or explain:
            vectors = self.embedder.embed_queries(cleaned)
        depth = max(k, RERANK_DEPTH) if self.reranker else k
        floor = self.floor() if mode != "keyword" else None
        with self.index.snapshot():  # every read of this search sees one version of the index
            results = self._search_many(
                cleaned, vectors, depth, documents, mode, passage_ids, floor
            )
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
        best = best_sentences(
            self.index, self.embedder, vector, [(h.passage_id, h.text) for h in hits]
        )
        return [replace(h, best_sentence=b) for h, b in zip(hits, best, strict=True)]

    def _search_many(
        self, cleaned: list[str], vectors: np.ndarray | None, k: int,
        documents: Sequence[str] | None, mode: str, passage_ids: Sequence[int] | None,
        floor: Floor | None,
    ) -> list[list[Hit]]:  # fmt: skip
        """Hits per query in `mode`; `vectors` are the queries' embeddings (None for keyword)."""
        ids = list(passage_ids) if passage_ids is not None else None
        if documents:
            allowed = self.index.passage_ids(self.index.resolve_documents(documents))
            ids = allowed if ids is None else sorted(set(ids).intersection(allowed))
        depth = min(k + ANSWER_SLACK, MAX_K)
        if mode == "keyword":
            ranked = []
            for query in cleaned:
                found, bm25s = self.index.keyword_scores(query, depth, ids)
                ceiling = self.index.keyword_ceiling(query)
                top = max(bm25s, default=0.0)
                ranked.append(
                    [Scored(i, keyword_relevance(b, ceiling, top), None, b)
                     for i, b in zip(found, bm25s, strict=True)]
                )  # fmt: skip
            return [self._answer_first(r, k, query=q) for r, q in zip(ranked, cleaned, strict=True)]
        assert vectors is not None and floor is not None
        if mode == "dense":
            found_ids, found_scores = self.index.search_ids(vectors, depth, passage_ids=ids)
            return [
                self._answer_first(
                    [Scored(i, relevance(c, floor), c, None) for i, c in zip(f, s, strict=True)],
                    k,
                    vector,
                )
                for f, s, vector in zip(found_ids, found_scores, vectors, strict=True)
            ]
        dense_ids, scores = self.index.search_ids(
            vectors, max(depth, HYBRID_DEPTH), passage_ids=ids
        )
        if self.feedback_weight > 0:
            vectors = self.feedback(vectors, dense_ids)
            dense_ids, scores = self.index.search_ids(
                vectors, max(depth, HYBRID_DEPTH), passage_ids=ids
            )
        return [
            self._answer_first(
                self._fuse(query, vector, dense, dense_scores, depth, ids, floor), k, vector, query
            )
            for query, vector, dense, dense_scores in zip(
                cleaned, vectors, dense_ids, scores, strict=True
            )
        ]

    def feedback(self, vectors: np.ndarray, found: list[list[int]]) -> np.ndarray:
        """Query vectors moved towards their pseudo-relevant passages (Rocchio, positive side
        only): normalise(q + feedback_weight x mean of the top `feedback_depth` of `found`).

        Args:
            vectors: the queries' unit vectors, float32 (n, dimension).
            found: per query, passage ids best first (a first dense search).

        Returns:
            float32 (n, dimension), unit rows; a query with no passages found keeps its vector.
        """
        moved = np.array(vectors, dtype=np.float32, copy=True)
        for row, ids in enumerate(found):
            top = ids[: self.feedback_depth]
            if top:
                moved[row] += self.feedback_weight * self.index.vectors(top).mean(axis=0)
                moved[row] /= np.linalg.norm(moved[row]) or 1.0
        return moved

    def _fuse(
        self, query: str, vector: np.ndarray, dense: list[int], dense_scores: list[float],
        k: int, ids: Sequence[int] | None, floor: Floor,
    ) -> list[Scored]:  # fmt: skip
        """Hybrid: the union of the dense and BM25 candidates, each scored exactly on both
        sides; the best k, best first.

        BM25 comes from the index's own postings (FTS5's scores), whatever the vector store.
        A query whose words are rare together (COVERAGE_RARITY) also weighs the share of its
        words (by IDF) that each candidate holds. A lookup (see `lookup_units`) ranks first
        the candidates that hold the most of its words and quoted phrases.
        """
        keyword, keyword_scores = self.index.keyword_scores(query, max(k, HYBRID_DEPTH), ids)
        dense_by_id = dict(zip(dense, dense_scores, strict=True))
        candidates = list(dict.fromkeys([*dense_by_id, *keyword]))
        missing = [i for i in candidates if i not in dense_by_id]
        if missing:
            dense_by_id.update(
                zip(missing, (self.index.vectors(missing) @ vector).tolist(), strict=True)
            )
        # Sentence-level evidence enters the ranking here, and only here (see sentences.py).
        mixed = with_sentences(self.index, vector, dense_by_id, self.sentence_weight)
        bm25 = dict(zip(keyword, keyword_scores, strict=True))
        unscored = [i for i in candidates if i not in bm25]
        if keyword and unscored:  # exact BM25 of dense-only candidates (0 if no term matches)
            extra, extra_scores = self.index.keyword_scores(query, len(unscored), unscored)
            bm25.update(zip(extra, extra_scores, strict=True))
        if self.fusion == "relevance":
            ceiling = self.index.keyword_ceiling(query)
            top = max(bm25.values(), default=0.0)
            w = self.hybrid_weight
            fused = {
                i: w * relevance(mixed[i], floor)
                + (1 - w) * keyword_relevance(bm25.get(i, 0.0), ceiling, top)
                for i in candidates
            }
            if self.coverage_weight > 0 and candidates:
                # A long claim of rare words (a scientific claim) is held by the passages
                # that hold most of its words; a short question of common words is not.
                shares, rarity = self.index.keyword_coverage(query, candidates)
                if rarity >= COVERAGE_RARITY:
                    shares = self._close_coverage(query, candidates) or shares
                    g = self.coverage_weight  # (fused + g x share) / (1 + g) stays 0-1
                    fused = {
                        i: (fused[i] + g * share) / (1 + g)
                        for i, share in zip(candidates, shares, strict=True)
                    }
        else:
            fused = fuse(mixed, bm25, self.hybrid_weight, self.fusion)
        units = lookup_units(query)
        if units and candidates:
            # The share of the lookup's words a candidate holds comes first, its fused score
            # second: (words held + fused) / (words + 1) keeps the score 0-1 and in rank order.
            holding = self.index.containing(units, candidates)
            fused = {
                i: (sum(i in held for held in holding) + fused[i]) / (len(units) + 1) for i in fused
            }
        best = sorted(fused, key=lambda i: (-fused[i], i))[:k]
        return [Scored(i, fused[i], dense_by_id[i], bm25.get(i, 0.0)) for i in best]

    def _close_coverage(self, query: str, candidates: list[int]) -> list[float] | None:
        """`words.coverage` of each candidate; None where the index has no word vectors."""
        found = self._close_inputs(query, candidates)
        return None if found is None else words.coverage(*found).tolist()

    def _close_inputs(
        self, query: str, candidates: list[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray], np.ndarray] | None:
        """What `words.coverage` takes for these candidates (the query words' IDFs and vectors,
        which words each candidate holds as written, its words' rows, the word vectors); None
        where the index has no word vectors."""
        known, matrix, axes = self.index.word_vectors() if self.close_words else ({}, None, None)
        if not known or matrix is None or axes is None:
            return None
        terms = [w for w in keyword.query_terms(query) if keyword.term_tokens(w)]
        idf = self.index.keyword_idfs(query)
        idfs = np.array([max(idf.get(t, 0.0) for t in keyword.term_tokens(w)) for w in terms])
        held, members = self._words_of(candidates, known)
        vectors = np.zeros((len(terms), len(axes)), dtype=np.float32)
        stored = [n for n, w in enumerate(terms) if w in known]
        vectors[stored] = matrix[[known[terms[n]] for n in stored]]
        new = [n for n, w in enumerate(terms) if w not in known and words.embeddable(w)]
        if new:  # a word no passage holds may still be close to one that a passage does
            vectors[new] = words.project(self.embedder.embed_queries([terms[n] for n in new]), axes)
        exact = np.array([[w in h for w in terms] for h in held], dtype=np.float64)
        return idfs, vectors, exact, members, matrix

    def _words_of(
        self, ids: list[int], known: dict[str, int]
    ) -> tuple[list[frozenset[str]], list[np.ndarray]]:
        """Each passage's words (`keyword.word_set` of its text and context) and their rows in
        `known`; kept for the HELD_WORDS passages seen last (a passage id never names another
        text), while `known` is the same."""
        with self._held_lock:
            if self._held_of is not known:
                self._held.clear()
                self._held_of = known
            missing = [i for i in ids if i not in self._held]
            for p in self.index.passages(missing) if missing else []:
                found = keyword.word_set(f"{p.text} {p.context}")
                rows = np.fromiter((known[w] for w in found if w in known), dtype=np.int64)
                self._held[int(p.id or 0)] = (found, rows)
            while len(self._held) > HELD_WORDS:
                del self._held[next(iter(self._held))]
            kept = [self._held[i] for i in ids]
        return [h for h, _ in kept], [r for _, r in kept]

    def _answer_first(
        self, ranked: list[Scored], k: int, vector: np.ndarray | None = None,
        query: str | None = None, avoid: int | None = None,
    ) -> list[Hit]:  # fmt: skip
        """Hits of the best k of `ranked`, with each lead (a question or heading kept as a
        passage of its own: see `leads`) replaced by the passage after it, which answers it,
        at the better of the two's scores but with its own raw cosine (with `vector`, the
        query's or the seed passage's embedding) and BM25 (of `query`); `avoid` (a passage
        id) is never surfaced."""
        passages = self.index.passages([r.id for r in ranked])
        after = self.index.following(passages)
        leads = self._leads(passages, after)
        chosen: dict[int, tuple[Passage, Scored, int | None]] = {}
        for passage, scored in zip(passages, ranked, strict=True):
            asked = None
            if passage.id in leads:
                asked, passage = int(passage.id or 0), after[int(passage.id or 0)]
                if passage.id == avoid:
                    continue
            key = int(passage.id or 0)
            if key not in chosen or scored.score > chosen[key][1].score:
                chosen[key] = (passage, scored, asked)
        order = sorted(
            chosen.values(), key=lambda c: (-c[1].score, *_raw(c[1]), int(c[0].id or 0))
        )[:k]
        raw = self._own_raw(ranked, [(int(p.id or 0), s, a) for p, s, a in order], vector, query)
        return self.hits(
            [p for p, _, _ in order], [s.score for s in raw], set(), scored=raw,
            asked=[a for _, _, a in order],
        )  # fmt: skip

    def _own_raw(
        self, ranked: list[Scored], order: list[tuple[int, Scored, int | None]],
        vector: np.ndarray | None, query: str | None,
    ) -> list[Scored]:  # fmt: skip
        """Each (passage id, its score, the lead that surfaced it or None) of `order` as the
        passage's `Scored`: its score, and its own raw cosine and BM25 where a lead surfaced
        it (from `ranked` if it is there, else computed; None where the mode has none)."""
        own = {r.id: r for r in ranked}
        lacking = [i for i, _, asked in order if asked is not None and i not in own]
        cosines: dict[int, float] = {}
        bm25s: dict[int, float] = {}
        if lacking and vector is not None:
            cosines = dict(
                zip(lacking, (self.index.vectors(lacking) @ vector).tolist(), strict=True)
            )
        if lacking and query is not None:
            found, scores = self.index.keyword_scores(query, len(lacking), lacking)
            bm25s = dict(zip(found, scores, strict=True))
        out = []
        for i, scored, asked in order:
            if asked is None:
                out.append(scored)
            elif i in own:
                out.append(Scored(i, scored.score, own[i].cosine, own[i].bm25))
            else:
                cosine = cosines.get(i) if scored.cosine is not None else None
                bm25 = bm25s.get(i, 0.0) if scored.bm25 is not None else None
                out.append(Scored(i, scored.score, cosine, bm25))
        return out

    def similar(
        self, passage_id: int, k: int = 10, other_documents_only: bool = False
    ) -> list[Hit]:
        """The k passages most like passage `passage_id` (itself excluded), best first,
        scored as relevance (see Hit.score); a question kept as a passage of its own gives way
        to its answer, as in `search`.

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
            floor = self.floor()
            found, scores = self.index.search_ids(
                vector, min(k + ANSWER_SLACK, MAX_K), exclude=exclude
            )
            ranked = [
                Scored(i, relevance(c, floor), c, None)
                for i, c in zip(found[0], scores[0], strict=True)
            ]
            return self._answer_first(ranked, k, vector[0], avoid=passage_id)

    def compare(
        self, query: str, per_document: int = 1, comments: bool = False,
        documents: Sequence[str] | None = None, author: str | None = None,
    ) -> list[Hit]:  # fmt: skip
        """The best `per_document` passages of every document for one question: see
        `paraseek.compare.compare`, where comparing lives; `author`, if given, keeps to the
        documents by that author (see `by_author`)."""
        from .compare import compare

        return compare(self, query, per_document, comments, self.documents_by(author, documents))

    def leads(self, passages: list[Passage]) -> set[int | None]:
        """Ids of those of `passages` that are leads (see `answered`): an interviewer's long
        question, a heading, or an opening that only asks questions, kept as a passage of its
        own and answered by the passage after it."""
        return self._leads(passages, self.index.following(passages))

    @staticmethod
    def _leads(passages: list[Passage], after: dict[int, Passage]) -> set[int | None]:
        """`leads`, given the passage after each (`Index.following`)."""
        return {p.id for p in passages if answered(p, after.get(int(p.id or 0)))}

    def hits(
        self, passages: list[Passage], scores: list[float], leads: set[int | None],
        documents: dict[str, DocumentInfo] | None = None, scored: list[Scored] | None = None,
        asked: list[int | None] | None = None,
    ) -> list[Hit]:  # fmt: skip
        """Hits of `passages` with these scores, ranked in order; `leads`: the ids of those
        that are leads (see `leads`); their `documents` (by id) when the caller already knows
        them; `scored` gives each hit's raw cosine and BM25, `asked` the question that
        surfaced it. A passage whose document is gone (removed by a re-index between two
        reads) is left out."""
        if documents is None:
            documents = self.index.document_infos({p.document_id for p in passages})
        hits: list[Hit] = []
        for n, (p, score) in enumerate(zip(passages, scores, strict=True)):
            d = documents.get(p.document_id)
            if d is None:  # removed by a re-index between the two reads: no longer a result
                continue
            raw = scored[n] if scored else None
            cosine = raw.cosine if raw else None
            hits.append(
                Hit(len(hits) + 1, round(score, 6), int(p.id or 0), d.id, d.title, d.date,
                    d.path, p.text, p.context, p.start, p.end, p.ordinal, lead=p.id in leads,
                    speaker=speaker(p.context), voice=voice(p.context, p.text),
                    author=d.author, cosine=None if cosine is None else round(cosine, 6),
                    bm25=None if raw is None or raw.bm25 is None else round(raw.bm25, 6),
                    asked=asked[n] if asked else None)
            )  # fmt: skip
        return hits


def _folded(text: str) -> str:
    """`text` lower-cased, without accents, whitespace collapsed: for matching names."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


class Scored:
    """A candidate passage's id, its score in its mode and its raw cosine and BM25."""

    __slots__ = ("bm25", "cosine", "id", "score")

    def __init__(self, id: int, score: float, cosine: float | None, bm25: float | None) -> None:
        self.id, self.score, self.cosine, self.bm25 = id, score, cosine, bm25


def _raw(scored: Scored) -> tuple[float, float]:
    """A sort key that breaks ties in relevance (which is 0 under the null questions' mean)
    by the raw cosine, then BM25, best first."""
    return (-(scored.cosine or 0.0), -(scored.bm25 or 0.0))


def asks_only(text: str) -> bool:
    """Whether `text` is nothing but questions ("What's behind ...? And where ...?")."""
    spans = sentence_spans(text)
    return bool(spans) and all(text[a:b].rstrip("\"”’')] ").endswith("?") for a, b in spans)


def answered(passage: Passage, following: Passage | None) -> bool:
    """Whether `passage` is a lead that the passage after it, `following`, answers: a long
    question or heading kept as a passage of its own (corpus.is_lead), or a passage that only
    asks questions (an opening that restates the question) followed by one of the same
    document and voice that does not."""
    if following is None or following.document_id != passage.document_id:
        return False
    if is_lead(passage, following):
        return True
    return (
        asks_only(passage.text) and not asks_only(following.text)
        and speaker(passage.context) == speaker(following.context)
    )  # fmt: skip


def lookup_units(query: str) -> list[str]:
    """What a hit should hold for a lookup: the quoted phrases of `query`, and, when it is a
    short lookup rather than a question (at most LOOKUP_TERMS words besides stop words, no
    question mark, no question word first: "Hillary Clinton", "ILPS"), each of its words.

    In hybrid search the candidates holding the most of these rank first.
    """
    phrases = [a or b for a, b in _QUOTED.findall(query)]
    phrases = [" ".join(p.split()) for p in phrases if query_terms(p)]
    rest = _QUOTED.sub(" ", query)
    terms = [t for t in query_terms(rest) if not any(t in query_terms(p) for p in phrases)]
    first = (re.findall(r"[^\W_]+", rest.lower()) or [""])[0]
    question = query.rstrip().endswith("?") or first in _QUESTION_WORDS
    if not question and terms and len(terms) + len(phrases) <= LOOKUP_TERMS:
        return [*phrases, *terms]
    return phrases


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
