"""The vector-store interface: what the index needs from FAISS files or a Milvus collection.

SQLite (the index folder's paraseek.db) stays the record of what exists: documents, passages
with their text, the FTS5 keyword index and the embedding cache. A store holds one vector per
passage id, and may also hold the passage text for its own BM25. The database's `generation`
row is the commit point; a store is told which committed version to serve (`refresh`) and
takes part in each commit in two steps around it (`save` before, `commit` after).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..ann import AnnSpec

STORES = ("faiss", "milvus")
DEFAULT_STORE = "faiss"
KEYWORD_FTS = "sqlite fts5"  # BM25 from the index folder's FTS5 table (every store)
KEYWORD_MILVUS = "milvus bm25"  # BM25 from Milvus's built-in function over the passage text

Sample = Callable[[int], np.ndarray]
"""Called with a count n: n exact vectors of the index's passages, float32 (n, dimension)."""


@dataclass(frozen=True)
class Version:
    """A committed version of the index, as one database snapshot sees it.

    Attributes:
        generation: the database's generation number; it grows with every commit.
        passages: how many passages that version holds.
        last_id: the largest passage id ever committed (ids only grow), 0 if none; a store
            row with a larger id belongs to a commit still in progress, or one that failed.
    """

    generation: int
    passages: int
    last_id: int


def hybrid_label(keyword: str) -> str:
    """How hybrid search finds and scores its keyword side, e.g. "fusion (sqlite fts5)"."""
    return f"fusion ({keyword})"


class VectorStore(Protocol):
    """Vectors by passage id: FAISS files per generation (`FaissStore`) or Milvus (`MilvusStore`).

    Read side: `refresh`, `search`, `keyword_search`, `count`. Write side, in this order within
    one commit: `refresh`, `delete`, `rebuild`, `upsert`, `save`, then (after the database
    commits) `commit`. A store opened for reading never changes what it holds.

    Attributes:
        kind: "faiss" or "milvus".
        keyword: what serves BM25 for keyword and hybrid search: KEYWORD_FTS or KEYWORD_MILVUS.
    """

    kind: str
    keyword: str

    @property
    def count(self) -> int:
        """Vectors held now (a Milvus store may briefly hold some of uncommitted passages)."""
        ...

    def describe(self) -> str:
        """One line for people, e.g. "Flat (exact scan)" or "Milvus FLAT at milvus.db"."""
        ...

    def spec(self) -> AnnSpec | None:
        """The FAISS index built (see `ann.choose`); None where the server chooses (Milvus)."""
        ...

    def refresh(self, version: Version) -> bool:
        """Serve `version`; False if the store does not hold it (a writer then resends all).

        Raises:
            IndexFormatError: a store opened for reading cannot serve `version`.
        """
        ...

    def search(
        self, queries: np.ndarray, k: int, allow: Sequence[int] | np.ndarray | None = None,
        exclude: Sequence[int] | np.ndarray = (),
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Inner-product search of the served version (see `ann.Vectors.search`).

        Args:
            queries: float32 (n, dimension), unit rows.
            k: neighbours per query, 1 to 10,000.
            allow: if given, only these passage ids may be returned.
            exclude: passage ids never returned.

        Returns:
            (scores, ids): float32 (n, k) best first, int64 (n, k) passage ids, padded with
            id -1 and score -inf. A Milvus store may return ids the served version lacks (a
            deletion not yet applied); the caller drops them.
        """
        ...

    def keyword_search(
        self, query: str, k: int, allow: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """BM25 over the stored passage text when `keyword` is KEYWORD_MILVUS.

        Args:
            query: the query's words, stop words removed, joined by spaces.
            k: hits wanted.
            allow: if given, only these passage ids may be returned.

        Returns:
            (scores, ids): float64 (m,) BM25 scores, higher is better, and int64 (m,) ids,
            m <= k, best first.

        Raises:
            InvalidArgumentError: the store has no full-text index (use SQLite FTS5).
        """
        ...

    def delete(self, ids: Sequence[int] | np.ndarray) -> None:
        """Remove these passages (unknown ids are ignored); readers see it after `commit`."""
        ...

    def rebuild(self, count: int, sample: Sample) -> bool:
        """After this commit's deletes: True if the store starts over and needs every vector.

        Args:
            count: passages the index will hold after this commit.
            sample: exact vectors to train a quantizer on.
        """
        ...

    def upsert(
        self, ids: np.ndarray, vectors: np.ndarray, texts: Sequence[str]
    ) -> None:  # fmt: skip
        """Add or replace passages: int64 (n,) ids, float32 (n, dimension) unit rows, n texts."""
        ...

    def save(self, generation: int) -> None:
        """Make every write durable as `generation`, before the database names it."""
        ...

    def commit(self) -> None:
        """The database now names the saved generation: apply deferred deletions, tidy up."""
        ...

    def drop(self) -> None:
        """Delete everything this store holds for the index (it moved to another store)."""
        ...

    def close(self) -> None:
        """Release files, connections and locks."""
        ...
