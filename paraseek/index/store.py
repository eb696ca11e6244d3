"""The read side of an index folder: `Index`, over its SQLite database and its vector store."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from ..corpus import Passage
from ..errors import (
    IndexFormatError,
    InvalidArgumentError,
    UnknownDocumentError,
    UnknownPassageError,
)
from . import bm25, grouped, rows, summary
from . import names as naming
from .backends import KEYWORD_MILVUS, VectorStore, vectors_file
from .cache import passage_vectors
from .folder import (
    DATABASE,
    FORMAT_VERSION,
    MANIFEST,
    SCHEMA,
    check_model,
    connect,
    now,
    read_manifest,
    transaction,
    write_manifest,
)
from .keyword import keyword_search, query_terms
from .rows import DocumentInfo
from .snapshot import Reader

__all__ = [  # the folder's helpers are used from here too
    "DATABASE",
    "FORMAT_VERSION",
    "MANIFEST",
    "MAX_K",
    "SCHEMA",
    "DocumentInfo",
    "Index",
    "check_k",
    "check_model",
    "connect",
    "now",
    "read_manifest",
    "transaction",
    "vectors_file",
    "write_manifest",
]

MAX_K = 10_000
MAX_FETCH = 16_384  # the most hits a store is asked for while replacing ones it had to drop


class Index:
    """A read view of an index folder: documents, passages and their vectors.

    Every read runs inside one snapshot (`snapshot.Reader`): one SQLite read transaction, with
    the vectors of the generation it sees, so a reader never mixes two versions and follows a
    re-index without being reopened. Passage text and
    metadata always come from the database; a hit whose passage the database lacks (a Milvus
    row whose deletion is not applied yet) is dropped and replaced.
    """

    def __init__(
        self, path: str | os.PathLike[str], model: str | None = None, store: str | None = None,
        milvus_uri: str | None = None, consistency: str | None = None,
    ) -> None:  # fmt: skip
        """Open the index at `path`.

        Args:
            path: the index folder.
            model: if given, the model id the caller will embed queries with.
            store: if given (else $PARASEEK_STORE), the store the caller expects: "faiss" or
                "milvus"; the index's own is used either way.
            milvus_uri: reach the index's Milvus collection here instead of at the recorded
                URI (else $PARASEEK_MILVUS_URI).
            consistency: the Milvus consistency level of reads (else
                $PARASEEK_MILVUS_CONSISTENCY, else Strong).

        Raises:
            IndexNotFoundError, IndexFormatError, ModelMismatchError, StoreMismatchError,
            StoreUnavailableError.
        """
        self.path = Path(path)
        manifest = read_manifest(self.path)
        check_model(self.path, manifest, model)
        self.model = str(manifest["model"])
        self.dimension = int(manifest["dimension"])  # type: ignore[call-overload]
        self._reader = Reader(self.path, self.dimension, store, milvus_uri, consistency)
        # BM25 statistics of one generation, read when needed; and the last scores by query
        # tokens, as hybrid search asks twice.
        self._bm25: tuple[int, bm25.Collection] | None = None
        self._last_bm25: tuple[int, tuple[str, ...], np.ndarray] | None = None
        self._table: tuple[int, grouped.Table] | None = None  # of one generation

    def close(self) -> None:
        """Close the database connection and the vector store."""
        self._reader.close()

    def snapshot(self) -> AbstractContextManager[sqlite3.Connection]:
        """One consistent read: the database and the vectors of the same generation.

        Snapshots nest: the reads of a snapshot opened inside another (by the same thread)
        belong to the outer one, so a caller can make several reads one consistent view.
        """
        return self._reader.snapshot()

    @property
    def store(self) -> VectorStore:
        """The vector store serving the current generation."""
        with self.snapshot():
            return self._reader.store

    # --- reads ---------------------------------------------------------------------------

    def search(
        self, queries: np.ndarray, k: int, passage_ids: Sequence[int] | None = None,
        exclude: Sequence[int] = (),
    ) -> tuple[list[list[Passage]], list[list[float]]]:  # fmt: skip
        """Inner-product search: exact for a flat index, approximate for HNSW and IVF.

        Args:
            queries: float32 array of shape (n, dimension), unit rows.
            k: neighbours per query, 1 to 10,000.
            passage_ids: if given, search only these passages.
            exclude: passage ids never returned.

        Returns:
            (passages, scores): per query, up to k passages, best first, with their cosine
            similarities; fewer than k when the index (or the filter) holds fewer.
        """
        with self.snapshot() as conn:
            ids, scores = self.search_ids(queries, k, passage_ids, exclude)
            by_id = rows.passages(conn, sorted({i for row in ids for i in row}))
        return [[by_id[i] for i in row] for row in ids], scores

    def search_ids(
        self, queries: np.ndarray, k: int, passage_ids: Sequence[int] | None = None,
        exclude: Sequence[int] = (),
    ) -> tuple[list[list[int]], list[list[float]]]:  # fmt: skip
        """`search` without loading the passages: per query, (passage ids, scores).

        Every id names a passage of the snapshot it was read in.
        """
        if queries.ndim != 2 or queries.shape[1] != self.dimension:
            raise InvalidArgumentError(
                f"Query vectors have shape {queries.shape}; expected (n, {self.dimension}) for "
                f"index '{self.path}' built with {self.model}."
            )
        check_k(k)
        matrix = np.ascontiguousarray(queries, dtype=np.float32)
        allow = None if passage_ids is None else np.asarray(passage_ids, dtype=np.int64)
        excluded = np.asarray(exclude, dtype=np.int64)
        with self.snapshot() as conn:
            store = self._reader.store
            want = min(k, max(self._reader.version.passages, 1))
            fetch = want
            while True:
                scores, ids = store.search(matrix, fetch, allow=allow, exclude=excluded)
                wanted = sorted({int(i) for i in ids.ravel() if i >= 0})
                present = rows.present(conn, wanted)
                if len(present) == len(wanted) or fetch >= MAX_FETCH:
                    break
                # Rows the drops left short, where the store may have more: ask for more.
                kept = np.isin(ids, np.fromiter(present, np.int64, len(present))).sum(axis=1)
                if not bool(np.any((kept < want) & (ids[:, -1] >= 0))):
                    break
                fetch = min(2 * fetch + 16, MAX_FETCH)
        found: list[list[int]] = []
        found_scores: list[list[float]] = []
        for srow, irow in zip(scores, ids, strict=True):
            hits = [(int(i), float(s)) for s, i in zip(srow, irow, strict=True)
                    if int(i) in present][:want]  # fmt: skip
            found.append([i for i, _ in hits])
            found_scores.append([s for _, s in hits])
        return found, found_scores

    def best_per_document(
        self, queries: np.ndarray, top: int, documents: Collection[str] | None = None,
        avoid: Collection[int] = (),
    ) -> list[list[tuple[str, list[int], list[float]]]]:  # fmt: skip
        """Per query, each document's `top` passages closest to it, by exact cosine over the
        passages' cached vectors: [(document id, passage ids, scores)], best first within a
        document (see `grouped.best`); a document without passages is absent.

        Args:
            queries: float32 (n, dimension), unit rows.
            documents: if given, only these document ids.
            avoid: passage ids that answer only where their document has nothing else.
        """
        with self.snapshot() as conn:
            if self._table is None or self._table[0] != self._reader.generation:
                made = grouped.table(conn, self.dimension, self.vectors)
                self._table = (self._reader.generation, made)
            table = self._table[1]
            mask = grouped.eligible(table, documents, avoid)
            matrix = np.ascontiguousarray(queries, dtype=np.float32)
            scores = grouped.scores(table, matrix, self.vectors)
        return [grouped.best(table, scores[:, j], mask, top) for j in range(len(matrix))]

    def keyword_search(
        self, query: str, k: int, passage_ids: Sequence[int] | None = None,
        store_bm25: bool = False,
    ) -> tuple[list[Passage], list[float]]:  # fmt: skip
        """BM25 search of passage text and context (see `keyword.keyword_search`).

        Args:
            query: the query; its stop words are dropped.
            k: hits wanted, 1 to 10,000.
            passage_ids: if given, search only these passages.
            store_bm25: use the vector store's own BM25 where it has one (Milvus's BM25
                function; hybrid search does). Otherwise, and by default, SQLite FTS5, whose
                Porter stemming measured better alone: 13 of the 15 golden questions answered
                in the top 3 against 8 for Milvus Lite's unstemmed analyzer.

        Returns:
            (passages, scores), best first; scores are BM25, higher is better, unbounded.
        """
        with self.snapshot() as conn:
            ids, scores = self.keyword_scores(query, k, passage_ids, store_bm25)
            by_id = rows.passages(conn, ids)
        return [by_id[i] for i in ids], scores

    def keyword_scores(
        self, query: str, k: int, passage_ids: Sequence[int] | None = None,
        store_bm25: bool = False,
    ) -> tuple[list[int], list[float]]:  # fmt: skip
        """`keyword_search` without loading the passages: (passage ids, scores), best first.

        Every id names a passage of the snapshot it was read in (hybrid search fuses ids and
        loads only the passages it returns).
        """
        check_k(k)
        with self.snapshot() as conn:
            store = self._reader.store
            if not store_bm25 or store.keyword != KEYWORD_MILVUS:
                found = keyword_search(conn, query, k, passage_ids, self._bm25_scorer(conn))
                present = rows.present(conn, [i for i, _ in found])
                lost = [i for i, _ in found if i not in present]
                if lost:  # written in one transaction with the passages: never apart
                    raise IndexFormatError(
                        f"The keyword index of '{self.path / DATABASE}' names passage {lost[0]}, "
                        f"which the database lacks; `paraseek check --index {self.path}` tells "
                        "more; delete the folder and re-index."
                    )
                return [i for i, _ in found], [s for _, s in found]
            text = " ".join(query_terms(query))
            fetch = k
            while True:
                scores, ids = store.keyword_search(text, fetch, passage_ids)
                present = rows.present(conn, [int(i) for i in ids])
                if len(present) == len(ids) or len(ids) < fetch or fetch >= MAX_FETCH:
                    break
                fetch = min(2 * fetch + 16, MAX_FETCH)
        hits = [(int(i), float(s)) for s, i in zip(scores, ids, strict=True)
                if int(i) in present][:k]  # fmt: skip
        return [i for i, _ in hits], [s for _, s in hits]

    def _bm25_scorer(
        self, conn: sqlite3.Connection
    ) -> Callable[[tuple[str, ...]], np.ndarray] | None:
        """Inside a snapshot: BM25 scores of every passage by query tokens, the last kept
        (hybrid search asks for the top hits, then for its other candidates); None where the
        index has no postings yet (see `bm25`)."""
        generation = self._reader.generation
        if self._bm25 is None or self._bm25[0] != generation:
            if not bm25.ready(conn):
                return None
            self._bm25 = (generation, bm25.collection(conn))
        stats = self._bm25[1]

        def scorer(tokens: tuple[str, ...]) -> np.ndarray:
            last = self._last_bm25
            if last is None or last[:2] != (generation, tokens):
                last = self._last_bm25 = (generation, tokens, bm25.scores(conn, stats, tokens))
            return last[2]

        return scorer

    def passages(self, ids: Sequence[int]) -> list[Passage]:
        """The passages with these ids, in the same order.

        Raises:
            UnknownPassageError: an id is not in the index.
        """
        with self.snapshot() as conn:
            by_id = rows.passages(conn, ids)
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise UnknownPassageError(
                f"No passage with id {missing[0]} in index '{self.path}'; ids come from the "
                "passage_id field of search results."
            )
        return [by_id[i] for i in ids]

    def document_passages(self, document_id: str) -> list[Passage]:
        """All passages of one document, in order."""
        with self.snapshot() as conn:
            return rows.document_passages(conn, document_id)

    def following(self, passages: Sequence[Passage]) -> dict[int, Passage]:
        """The passage after each of `passages` in its document, by id (a last one has none)."""
        with self.snapshot() as conn:
            return rows.following(conn, passages)

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The exact vectors of these passages, shape (len(ids), dimension), float32.

        They come from the embedding cache, not the vector index, whose codec may be lossy.

        Raises:
            UnknownPassageError: an id is not in the index.
        """
        if not len(ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self.snapshot() as conn:
            found = passage_vectors(conn, self.model, ids)
        missing = [i for i in ids if int(i) not in found]
        if missing:
            self.passages(missing)  # names an unknown id
            raise IndexFormatError(
                f"Passage {missing[0]} of index '{self.path}' has no stored vector; re-index."
            )
        return np.vstack([found[int(i)] for i in ids]).astype(np.float32, copy=False)

    def documents(self) -> list[DocumentInfo]:
        """Every document, ordered by title."""
        with self.snapshot() as conn:
            return rows.documents(conn)

    def document_infos(self, document_ids: Iterable[str]) -> dict[str, DocumentInfo]:
        """The documents with these ids, by id; ids not in the index are left out."""
        with self.snapshot() as conn:
            return rows.document_infos(conn, list(document_ids))

    def document_text(self, document_id: str) -> str:
        """The full extracted text of a document (what passage offsets index into)."""
        with self.snapshot() as conn:
            text = rows.document_text(conn, document_id)
        if text is None:
            raise UnknownDocumentError(
                f"No document with id '{document_id}' in index '{self.path}'."
            )
        return text

    def resolve_documents(self, names: Sequence[str]) -> list[str]:
        """Document ids for ids, paths, file names or file stems (see names.resolve).

        Raises:
            UnknownDocumentError: a name matches no document; the message lists valid ids.
        """
        return naming.resolve(self.documents(), names, self.path)

    def resolve_document(self, name: str) -> str:
        """The id of the one document `name` (an id, path, file name or stem) names.

        Raises:
            UnknownDocumentError: it names none.
            InvalidArgumentError: it names several (files of the same name in two folders).
        """
        return naming.resolve_one(self.documents(), name, self.path)

    def passage_ids(self, document_ids: Sequence[str]) -> list[int]:
        """Ids of every passage of these documents."""
        with self.snapshot() as conn:
            return rows.passage_ids(conn, document_ids)

    def comment_ids(self) -> set[int]:
        """Ids of the passages that are comments ("Anonymous said..."; see Hit.speaker)."""
        with self.snapshot() as conn:
            return rows.comment_ids(conn)

    def generation(self) -> int:
        """The number of the committed version of the index; it grows with every change."""
        with self.snapshot():
            return self._reader.generation

    def first_passage_ids(self) -> list[int]:
        """Ids of the first passage (ordinal 0) of every document."""
        with self.snapshot() as conn:
            return rows.first_passage_ids(conn)

    def stats(self) -> dict[str, object]:
        """The manifest, with counts read from the database now (see `summary.stats`)."""
        with self.snapshot() as conn:
            return summary.stats(conn, self.path, self._reader)


def check_k(k: int) -> None:
    """Raise InvalidArgumentError unless 1 <= k <= 10,000."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise InvalidArgumentError(f"k must be an integer from 1 to {MAX_K}, got {k!r}.")
