"""Consistent reads of an index folder: its database and the vectors of the same generation."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import IndexFormatError
from .backends import StoreConfig, VectorStore, Version, check_reader, open_store, recorded
from .folder import DATABASE, committed, connect


class Reader:
    """One SQLite connection and one vector store, following the writer's commits.

    Every snapshot is one SQLite read transaction that first reads the generation the last
    writer committed and, if it moved, makes the vector store serve it: a reader never mixes
    two versions, and follows a re-index without being reopened.
    """

    def __init__(
        self, path: Path, dimension: int, store: str | None = None,
        milvus_uri: str | None = None, consistency: str | None = None,
    ) -> None:  # fmt: skip
        """Open the database of the index at `path` (see `Index` for the arguments).

        Raises:
            IndexFormatError: the database is missing or damaged.
            StoreMismatchError: `store` is not the index's store.
        """
        self.path = path
        self.dimension = dimension
        database = path / DATABASE
        if not database.exists():
            raise IndexFormatError(f"Index database '{database}' is missing; re-index.")
        try:
            self._conn = connect(database, mapped=True)
            self._conn.execute("SELECT count(*) FROM passages").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexFormatError(
                f"Index database '{database}' is damaged ({exc}); delete the folder and re-index."
            ) from exc
        self._lock = threading.RLock()
        self._depth = 0  # snapshots open in the thread holding the lock
        self._milvus_uri = milvus_uri
        self._consistency = consistency
        self.config: StoreConfig = recorded(self._meta())
        check_reader(path, self.config, store)
        self._store: VectorStore | None = None
        # Inside a snapshot: the committed generation, and its passage count and last id.
        self.generation = -1
        self.version = Version(-1, 0, 0)

    def close(self) -> None:
        """Close the database connection and the vector store."""
        if self._store is not None:
            self._store.close()
            self._store = None
        self._conn.close()

    @property
    def store(self) -> VectorStore:
        """Inside a snapshot: the vector store serving its generation."""
        assert self._store is not None, "read the store inside a snapshot"
        return self._store

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One consistent read: the database and the vectors of the same generation.

        Snapshots nest: the reads of a snapshot opened inside another (by the same thread)
        belong to the outer one, so a caller can make several reads one consistent view.
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

    def _meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    def _begin(self) -> None:
        try:
            self._conn.execute("BEGIN")
            row = self._conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            generation = int(row[0])
            if generation != self.generation or self._store is None:
                self._follow(generation)
        except BaseException:
            if self._conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            raise

    def _end(self) -> None:
        """End the read transaction; a damaged database can fail even that."""
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
        self._conn = connect(self.path / DATABASE, mapped=True)

    def _follow(self, generation: int) -> None:
        """Inside the read transaction: serve `generation`, reopening the store if it moved."""
        config = recorded(self._meta())
        if self._store is None or config != self.config:
            if self._store is not None:
                self._store.close()
                self._store = None
            self._store = open_store(
                self.path, self.dimension, config, milvus_uri=self._milvus_uri,
                consistency=self._consistency,
            )  # fmt: skip
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
