"""Reading an index folder: `Index`, over its SQLite database and its vector store."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import numpy as np

from .. import words
from ..corpus import Passage
from ..errors import (
    IndexFormatError,
    InvalidArgumentError,
    UnknownDocumentError,
    UnknownPassageError,
)
from . import grouped, keyword, rows, sentence_vectors
from .database import DATABASE, check_model, connect, generation, meta, read_manifest
from .rows import DocumentInfo
from .stores import (
    HYBRID,
    StoreConfig,
    VectorStore,
    Version,
    check_reader,
    committed,
    open_store,
    recorded,
)

MAX_K = 10_000
MAX_FETCH = 16_384  # the most hits a store is asked for while replacing ones it had to drop


# A query's pass over the postings: (generation, tokens, each passage's BM25, the sum of the
# tokens' IDFs, the IDF each passage holds, each token's IDF): see keyword.scores.
_Pass = tuple[int, tuple[str, ...], np.ndarray, float, np.ndarray, list[float]]


class Index:
    """A read view of an index folder: documents, passages and their vectors.

    Every read runs inside one snapshot (`Reader`), so it never mixes two versions, and follows
    a re-index without being reopened. Passage text and metadata always come from the database.
    """

    def __init__(
        self, path: str | os.PathLike[str], model: str | None = None, store: str | None = None
    ) -> None:
        """Open the index at `path`, checking `model` (the query embedder's) and `store` (else
        $PARASEEK_STORE) against it if given.

        Raises:
            IndexNotFoundError, IndexFormatError, ModelMismatchError, StoreMismatchError,
            StoreUnavailableError.
        """
        self.path = Path(path)
        manifest = read_manifest(self.path)
        check_model(self.path, manifest, model)
        self.model = str(manifest["model"])
        self.dimension = int(manifest["dimension"])  # type: ignore[call-overload]
        self._reader = Reader(self.path, self.dimension, store)
        self._bm25: tuple[int, keyword.Collection] | None = None
        # the last query's BM25 pass (see _Pass)
        self._last_bm25: _Pass | None = None
        self._words: (
            tuple[tuple[int, str], dict[str, int], np.ndarray, np.ndarray | None] | None
        ) = None
        self._table: tuple[int, grouped.Table] | None = None  # of one generation

    def close(self) -> None:
        self._reader.close()

    def snapshot(self) -> AbstractContextManager[sqlite3.Connection]:
        """One consistent read (see `Reader.snapshot`); snapshots nest."""
        return self._reader.snapshot()

    @property
    def store(self) -> VectorStore:
        with self.snapshot():
            return self._reader.store

    def search(
        self, queries: np.ndarray, k: int, passage_ids: Sequence[int] | None = None,
        exclude: Sequence[int] = (),
    ) -> tuple[list[list[Passage]], list[list[float]]]:  # fmt: skip
        """Per query (float32 (n, dimension) unit rows): up to k passages, best first, and
        their cosine similarities; exact for a flat index, approximate for HNSW and IVF."""
        with self.snapshot() as conn:
            ids, scores = self.search_ids(queries, k, passage_ids, exclude)
            by_id = rows.passages(conn, sorted({i for row in ids for i in row}))
        return [[by_id[i] for i in row] for row in ids], scores

    def search_ids(
        self, queries: np.ndarray, k: int, passage_ids: Sequence[int] | None = None,
        exclude: Sequence[int] = (),
    ) -> tuple[list[list[int]], list[list[float]]]:  # fmt: skip
        """`search` without loading the passages: per query, (passage ids, scores)."""
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
        """Per query, each document's `top` passages by exact cosine over the cached vectors
        (see `grouped.best`); `avoid` answers only where its document has nothing else."""
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
        self, query: str, k: int, passage_ids: Sequence[int] | None = None
    ) -> tuple[list[Passage], list[float]]:
        """BM25 search of passage text and context, from the index's own postings: (passages,
        scores) best first; scores are unbounded, higher is better."""
        with self.snapshot() as conn:
            ids, scores = self.keyword_scores(query, k, passage_ids)
            by_id = rows.passages(conn, ids)
        return [by_id[i] for i in ids], scores

    def keyword_scores(
        self, query: str, k: int, passage_ids: Sequence[int] | None = None
    ) -> tuple[list[int], list[float]]:
        """`keyword_search` without loading the passages: (passage ids, scores), best first."""
        check_k(k)
        with self.snapshot() as conn:
            found = keyword.keyword_search(query, k, passage_ids, self._bm25_scorer(conn))
            present = rows.present(conn, [i for i, _ in found])
        lost = [i for i, _ in found if i not in present]
        if lost:  # written in one transaction with the passages: never apart
            raise IndexFormatError(
                f"The keyword index of '{self.path / DATABASE}' names passage {lost[0]}, "
                f"which the database lacks; `paraseek check --index {self.path}` tells "
                "more; delete the folder and re-index."
            )
        return [i for i, _ in found], [s for _, s in found]

    def _scored(self, query: str) -> _Pass | None:
        """The query's pass over the postings (kept: the search just made it), as
        `_last_bm25`; None for a query of stop words only."""
        with self.snapshot() as conn:
            tokens = tuple(keyword.query_tokens(keyword.query_terms(query)))
            if tokens:
                self._bm25_scorer(conn)(tokens)
        return self._last_bm25 if tokens else None

    def keyword_ceiling(self, query: str) -> float | None:
        """The sum of the query's words' IDFs (None if only stop words): a BM25 score divided
        by it (capped at 1) is comparable across queries."""
        last = self._scored(query)
        return (last[3] or None) if last else None

    def keyword_coverage(self, query: str, ids: Sequence[int]) -> tuple[list[float], float]:
        """How much of the query each passage holds, and how rare its words are together.

        Returns:
            per passage of `ids`, in order: the summed IDFs of the query's words it holds (in
            its text or context, however often) over those of all the query's words, 0 to 1;
            and the query's rarity, the sum of its words' IDFs in units of the largest IDF
            (that of a word no passage holds): 0 for a query of stop words only.
        """
        last = self._scored(query)
        if last is None or self._bm25 is None:
            return [0.0] * len(ids), 0.0
        _, _, _, total, held, _ = last
        at = np.asarray(ids, dtype=np.int64)
        inside = (at >= 0) & (at < len(held))
        shares = np.zeros(len(at))
        shares[inside] = held[at[inside]] / (total or 1.0)
        return shares.tolist(), total / keyword.rarest_idf(self._bm25[1])

    def keyword_idfs(self, query: str) -> dict[str, float]:
        """The IDF of each of the query's tokens."""
        last = self._scored(query)
        return dict(zip(last[1], last[5], strict=True)) if last else {}

    def word_vectors(self) -> tuple[dict[str, int], np.ndarray, np.ndarray | None]:
        """The collection's words with sound vectors (paraseek/words.py): word -> row, the
        unit vectors on the axes, the axes (None in an index older than word vectors, or
        damaged); kept while the index does not change."""
        with self.snapshot() as conn:
            key = (self._reader.generation, meta(conn).get("words_through", ""))
            if self._words is None or self._words[0] != key:
                try:
                    found = conn.execute("SELECT * FROM word_blocks").fetchall()
                except sqlite3.OperationalError:  # written before words had vectors
                    found = []
                self._words = (key, *words.load(found, self.dimension))
            return self._words[1:]

    def containing(self, units: Sequence[str], ids: Sequence[int]) -> list[set[int]]:
        """For each unit (a word or a phrase), which of the passages `ids` hold it (stemmed)."""
        with self.snapshot() as conn:
            by_id = rows.passages(conn, list(ids)) if ids else {}
        return keyword.containing(units, [(i, p.text, p.context) for i, p in by_id.items()])

    def _bm25_scorer(self, conn: sqlite3.Connection) -> Callable[[tuple[str, ...]], np.ndarray]:
        """BM25 scores of every passage by query tokens; hybrid search asks twice: kept."""
        generation = self._reader.generation
        if self._bm25 is None or self._bm25[0] != generation:
            self._bm25 = (generation, keyword.collection(conn))
        stats = self._bm25[1]

        def scorer(tokens: tuple[str, ...]) -> np.ndarray:
            last = self._last_bm25
            if last is None or last[:2] != (generation, tokens):
                idfs: list[float] = []
                held = np.zeros(len(stats.live))
                totals = keyword.scores(conn, stats, tokens, idfs, held)
                last = self._last_bm25 = (generation, tokens, totals, sum(idfs), held, idfs)
            return last[2]

        return scorer

    def passages(self, ids: Sequence[int]) -> list[Passage]:
        """The passages with these ids, in order; UnknownPassageError for an unknown id."""
        stored = [i for i in ids if 0 <= i < 2**63]  # SQLite cannot look up a larger integer
        with self.snapshot() as conn:
            by_id = rows.passages(conn, stored)
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise UnknownPassageError(
                f"No passage with id {missing[0]} in index '{self.path}'; ids come from the "
                "passage_id field of search results."
            )
        return [by_id[i] for i in ids]

    def document_passages(self, document_id: str) -> list[Passage]:
        with self.snapshot() as conn:
            return rows.document_passages(conn, document_id)

    def following(self, passages: Sequence[Passage]) -> dict[int, Passage]:
        with self.snapshot() as conn:
            return rows.following(conn, passages)

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """float32 (len(ids), dimension), exact: from the embedding cache, not the vector index."""
        if not len(ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self.snapshot() as conn:
            found = rows.passage_vectors(conn, self.model, ids)
        missing = [i for i in ids if int(i) not in found]
        if missing:
            self.passages(missing)  # names an unknown id
            raise IndexFormatError(
                f"Passage {missing[0]} of index '{self.path}' has no cached vector; `paraseek "
                f"repair --index {self.path}` embeds it again."
            )
        return np.vstack([found[int(i)] for i in ids]).astype(np.float32, copy=False)

    def sentence_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored sentence vectors of these passages by id: float32 (sentences,
        dimension), one row per sentence of the passage's text, int8 precision (see
        sentence_vectors.py); passages without them are absent."""
        if not len(ids):
            return {}
        with self.snapshot() as conn:
            return sentence_vectors.passage_sentences(
                conn, rows.index_key(conn), self.dimension, ids
            )

    def documents(self) -> list[DocumentInfo]:
        with self.snapshot() as conn:
            return rows.documents(conn)

    def document_infos(self, document_ids: Iterable[str]) -> dict[str, DocumentInfo]:
        with self.snapshot() as conn:
            return rows.document_infos(conn, list(document_ids))

    def document_text(self, document_id: str) -> str:
        with self.snapshot() as conn:
            text = rows.document_text(conn, document_id)
        if text is None:
            raise UnknownDocumentError(
                f"No document with id '{document_id}' in index '{self.path}'."
            )
        return text

    def resolve_documents(self, names: Sequence[str]) -> list[str]:
        """Document ids for ids, paths, file names or file stems (see rows.resolve)."""
        return rows.resolve(self.documents(), names, self.path)

    def resolve_document(self, name: str) -> str:
        """The id of the one document `name` names (see rows.resolve_one)."""
        return rows.resolve_one(self.documents(), name, self.path)

    def passage_ids(self, document_ids: Sequence[str]) -> list[int]:
        with self.snapshot() as conn:
            return rows.passage_ids(conn, document_ids)

    def comment_ids(self) -> set[int]:
        """Ids of the passages that are comments ("Anonymous said..."; see Hit.speaker)."""
        with self.snapshot() as conn:
            return rows.comment_ids(conn)

    def generation(self) -> int:
        """Grows with every commit."""
        with self.snapshot():
            return self._reader.generation

    def first_passage_ids(self) -> list[int]:
        with self.snapshot() as conn:
            return rows.first_passage_ids(conn)

    def stats(self) -> dict[str, object]:
        """What `paraseek info` shows: the manifest, with counts read from the database now."""
        with self.snapshot() as conn:
            manifest = read_manifest(self.path)
            manifest |= rows.counts(conn)
            manifest["comments"] = len(rows.comment_ids(conn))  # see Hit.speaker
            manifest["cached_embeddings"] = conn.execute(
                "SELECT count(*) FROM embeddings WHERE model = ?", (rows.index_key(conn),)
            ).fetchone()[0]
            manifest["generation"] = self._reader.generation
            store = self._reader.store
            manifest["store"] = self._reader.config.to_json() | {"description": store.describe()}
            manifest["hybrid"] = HYBRID
            manifest["keyword"] = "bm25 postings (fts5 scores)"
            manifest["path"] = str(self.path.resolve())
        return manifest


def check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise InvalidArgumentError(f"k must be an integer from 1 to {MAX_K}, got {k!r}.")


class Reader:
    """One SQLite connection and one vector store, following the writer's commits."""

    def __init__(self, path: Path, dimension: int, store: str | None = None) -> None:
        self.path = path
        self.dimension = dimension
        database = path / DATABASE
        if not database.exists():
            raise IndexFormatError(f"Index database '{database}' is missing; re-index.")
        try:
            self._conn = connect(database, mapped=True, reader=True)
            self._conn.execute("SELECT count(*) FROM passages").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexFormatError(
                f"Index database '{database}' is damaged ({exc}); delete the folder and re-index."
            ) from exc
        self._lock = threading.RLock()
        self._depth = 0  # snapshots open in the thread holding the lock
        self.config: StoreConfig = recorded(meta(self._conn))
        check_reader(path, self.config, store)
        self._store: VectorStore | None = None
        # Inside a snapshot: the committed generation, and its passage count and last id.
        self.generation = -1
        self.version = Version(-1, 0, 0)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        self._conn.close()

    @property
    def store(self) -> VectorStore:
        assert self._store is not None, "read the store inside a snapshot"
        return self._store

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One SQLite read transaction, with the store serving the generation it sees.

        A snapshot opened inside another (by the same thread) belongs to the outer one.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            try:
                try:
                    self._begin()
                except sqlite3.OperationalError:
                    # A long-lived connection can go stale ("disk I/O error") when the WAL
                    # files are checkpointed and removed under it; reopen it once and retry.
                    self._reconnect()
                    self._begin()
            except sqlite3.DatabaseError as exc:
                self._raise_if_damaged(exc)
                raise
            self._depth = 1
            try:
                yield self._conn
            except sqlite3.DatabaseError as exc:
                self._raise_if_damaged(exc)
                raise
            finally:
                self._depth = 0
                self._end()

    def _begin(self) -> None:
        try:
            self._conn.execute("BEGIN")
            current = generation(self._conn, self.path / DATABASE)
            if current != self.generation or self._store is None:
                self._follow(current)
        except BaseException:
            if self._conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            raise

    def _end(self) -> None:
        if not self._conn.in_transaction:
            return
        try:
            self._conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            self._raise_if_damaged(exc)
            raise

    def _reconnect(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        self._conn = connect(self.path / DATABASE, mapped=True, reader=True)

    def _follow(self, generation: int) -> None:
        """Serve `generation`, reopening the store if it moved."""
        config = recorded(meta(self._conn))
        if self._store is None or config != self.config:
            if self._store is not None:
                self._store.close()
                self._store = None
            self._store = open_store(self.path, self.dimension, config)
            self.config = config
        version = committed(self._conn, generation)
        self._store.refresh(version)
        self.version, self.generation = version, generation

    def _raise_if_damaged(self, exc: sqlite3.DatabaseError) -> None:
        """Raise a clear IndexFormatError for a damaged database (not for a busy one, or a bug)."""
        if type(exc) not in (sqlite3.DatabaseError, sqlite3.OperationalError) or any(
            word in str(exc) for word in ("locked", "busy")
        ):
            return
        detail = "".join(c if c.isprintable() else "?" for c in " ".join(str(exc).split()))
        detail = detail if len(detail) <= 80 else detail[:77] + "..."
        raise IndexFormatError(
            f"Index database '{self.path / DATABASE}' is damaged ({detail}); "
            f"`paraseek check --index {self.path}` tells more; delete the folder and re-index."
        ) from exc
