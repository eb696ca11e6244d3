"""Writing an index: scan sources, split, embed what the cache lacks, commit one new generation.

Two passes, both streaming, so memory is bounded by a batch whatever the size of the corpus:

1. Embed (an executor's job, see `executors`: here, or on a Ray actor pool). Documents are
   read and split one at a time; texts the embedding cache lacks are embedded in batches of
   `EMBED_BATCH`, each committed to the cache, so a killed run keeps the work it did and the
   next run resumes.
2. Commit. One SQLite transaction deletes replaced documents, reads the changed documents
   again and splits them (or takes the splits pass 1 kept, see `splits`), inserts them with
   their FTS rows, and builds the vector index of generation g+1 from the cached vectors:
   incrementally from generation g, or from scratch when the index type changes (see
   `ann.choose`). That file is written and fsynced before the transaction switches the
   generation number; until then readers keep using generation g, which stays on disk.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import numpy as np
from filelock import FileLock, Timeout

from ..corpus import (
    SPLITTING,
    Document,
    Skipped,
    find_files,
    read_documents,
    split_document,
)
from ..embedder import Embedder
from ..errors import IndexLockedError, NoDocumentsError, ParaseekError
from . import bm25, cache, records
from .ann import choose
from .backends import (
    StoreConfig,
    VectorStore,
    Version,
    check_store,
    open_store,
)
from .executors import Embedding, Estimate, Executor, Job, LocalExecutor, Log, Progress
from .folder import (
    DATABASE,
    check_format,
    committed,
    connect,
    last_passage_id,
    now,
    transaction,
)
from .manifest import write_index_manifest
from .opening import open_for_writing
from .splits import Splits, Splitter

ADD_BATCH = 8192  # vectors read from the cache and added to the vector index together
LOCK_FILE = ".lock"


@dataclass
class UpdateReport:
    """What one indexing run did. Paths are resolved file paths."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    embedded: int = 0  # distinct texts the model embedded in this run
    reused: int = 0  # texts of changed documents whose vectors came from the cache
    documents: int = 0  # documents in the index afterwards
    passages: int = 0  # passages in the index afterwards
    ann: str = ""  # the vector index afterwards, e.g. "Flat (exact scan)"
    moved: str = ""  # where the vectors moved from in this run ("faiss", "milvus"), if anywhere


text_hash = cache.text_hash


class Writer:
    """The single writer of an index folder, holding its lock from open to close."""

    def __init__(
        self, path: str | os.PathLike[str], embedder: Embedder, ann: str | None = None,
        store: str | None = None, milvus_uri: str | None = None, milvus_bm25: bool = True,
    ) -> None:  # fmt: skip
        """Lock the index at `path` (creating it if needed) for writing with `embedder`.

        Args:
            path: the index folder.
            embedder: the model; it must be the one the index was built with.
            ann: the vector index: "auto" (exact while small, then approximate), "flat",
                "hnsw" or "ivf"; None keeps the index's setting (auto for a new index).
            store: where the vectors live: "faiss" (files in the index folder) or "milvus";
                None means $PARASEEK_STORE, else the index's store (faiss for a new index).
                Another store than the index's gets the vectors from the embedding cache at
                the next commit (nothing is embedded again); the old one is then dropped.
            milvus_uri: the Milvus server or Milvus Lite file (see `backends.requested`).
            milvus_bm25: give a new Milvus collection the BM25 function, where the server
                has it; False keeps keyword search on SQLite FTS5.

        Raises:
            IndexLockedError: another process is writing.
            ModelMismatchError: the index was built with another model.
            InvalidArgumentError: an unknown `ann` or `store`.
            StoreUnavailableError, StoreLockedError: Milvus cannot be reached or opened.
        """
        if ann is not None:
            choose(ann, 0)  # checks the name before anything is written
        if store is not None:
            check_store(store)
        self._store: VectorStore | None = None
        self.path = Path(path)
        self.embedder = embedder
        self.key = cache.model_key(embedder)
        check_format(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.path / LOCK_FILE))
        try:
            self._lock.acquire(timeout=0)
        except Timeout as exc:
            raise IndexLockedError(
                f"Index '{self.path}' is being written by another paraseek process; wait for "
                "it to finish, then try again."
            ) from exc
        try:
            self._conn = connect(self.path / DATABASE)
        except BaseException:
            self._lock.release()
            raise
        self._postings = bm25.PostingsWriter(self._conn)
        try:
            self._open(ann, store, milvus_uri, milvus_bm25)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the lock, the database and the vector store."""
        if self._store is not None:
            self._store.close()
            self._store = None
        self._conn.close()
        self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(
        self, ann: str | None, store: str | None, milvus_uri: str | None, milvus_bm25: bool
    ) -> None:
        opened = open_for_writing(
            self._conn, self.path, self.embedder, ann, store, milvus_uri, milvus_bm25,
            self._training_sample,
        )  # fmt: skip
        self._store, self._config, self._previous = opened.store, opened.config, opened.previous
        self._recover()
        self._resync = self._previous is not None or not self._store.refresh(self._version())
        write_index_manifest(
            self.path, self._conn
        )  # also mends a manifest left stale by a crash after a commit

    def _version(self) -> Version:
        """The committed version, as the store must serve it."""
        return committed(self._conn, int(self._meta("generation")))

    def _recover(self) -> None:
        """Finish deletions a commit recorded but did not apply to the store (a crash)."""
        retired = [int(r[0]) for r in self._conn.execute("SELECT id FROM retired")]
        if retired:
            assert self._store is not None
            self._store.refresh(self._version())
            self._store.delete(retired)
            self._store.commit()
            with transaction(self._conn):
                self._conn.execute("DELETE FROM retired")

    # --- public operations --------------------------------------------------------------

    def update(
        self, sources: Sequence[str | os.PathLike[str]], log: Log | None = None,
        progress: Progress | None = None, executor: Executor | None = None,
    ) -> UpdateReport:  # fmt: skip
        """Bring the index in line with the files under `sources`.

        New files are added, files whose text changed are re-split and re-embedded (texts
        already in the embedding cache are not), and indexed files under `sources` that no
        longer exist on disk are removed (documents from elsewhere are left alone).
        Unreadable files are skipped and keep their previous version.

        Args:
            executor: runs pass 1 (read, split, embed): `LocalExecutor()` by default, or a
                `RayExecutor` (see `executors.executor_for`).

        Raises:
            SourceNotFoundError: a source does not exist.
            NoDocumentsError: the sources hold no supported file, or every one was skipped.
        """
        log = log or (lambda _: None)
        files = list(find_files(sources))
        if not files:
            raise NoDocumentsError(
                f"No supported files in {', '.join(map(str, sources))}; paraseek reads "
                ".txt, .md, .html, .htm, .pdf and .docx."
            )
        note = f" ({self.embedder.note})" if getattr(self.embedder, "note", "") else ""
        log(
            f"indexing {len(files)} files into {self.path} with "
            f"{getattr(self.embedder, 'runtime', cache.REFERENCE_RUNTIME)}{note}"
        )
        report = UpdateReport()
        known = self._known()
        sizes = {str(f.resolve()): _size(f) for f in files}
        estimate = Estimate(progress, sum(sizes.values()))
        split = Splits(split_document)  # pass 2 reuses pass 1's splits
        job = Job(
            files, known, sizes, self._conn, self.key, self.embedder, report, estimate, log, split
        )
        changed = (executor or LocalExecutor()).run(job)
        roots = [os.path.realpath(s) for s in sources]
        report.removed = [p for p in known if _under(p, roots) and not os.path.exists(p)]
        if report.skipped and not (
            report.added or report.changed or report.unchanged or report.removed
        ):
            raise NoDocumentsError(
                f"No readable files in {', '.join(map(str, sources))}: all "
                f"{len(report.skipped)} were skipped (reasons above); the index is unchanged."
            )
        for path in report.removed:
            log(f"removed {path}: the file no longer exists")
        again = (d for d in read_documents(changed) if isinstance(d, Document))
        self._commit(again, report.removed, report, split, bool(changed))
        return report

    def add(
        self, documents: Iterable[Document], splitter: Splitter | None = None,
        progress: Progress | None = None,
    ) -> UpdateReport:  # fmt: skip
        """Add or replace documents that do not come from files (an evaluation corpus, an API).

        Documents are matched on `path`; one whose content hash is unchanged is left alone.
        The documents are held in memory (their text, not their passages or vectors).

        Args:
            documents: the documents.
            splitter: turns a document into passages; default `split_document`.
            progress: called as (passages done, passages expected).
        """
        split = Splits(splitter or split_document)  # pass 2 reuses pass 1's splits
        report = UpdateReport()
        known = self._known()
        todo = []
        for document in documents:
            if known.get(document.path) == document.content_hash:
                report.unchanged.append(document.path)
                continue
            (report.changed if document.path in known else report.added).append(document.path)
            todo.append(document)
        estimate = Estimate(progress, sum(len(d.text) for d in todo))
        embed = Embedding(self._conn, self.key, self.embedder, report, estimate)
        for document in todo:
            embed.add(
                split(document, self.embedder.token_spans, self.embedder.max_tokens),
                len(document.text),
            )
        embed.finish()
        self._commit(iter(todo), [], report, split, bool(todo))
        return report

    def remove(self, document_ids: Sequence[str]) -> int:
        """Remove these documents and their passages; returns how many were removed."""
        rows = self._conn.execute(
            f"SELECT path FROM documents WHERE id IN ({','.join('?' * len(document_ids))})",
            list(document_ids),
        ).fetchall()
        self._commit(iter(()), [r[0] for r in rows], UpdateReport(), split_document, False)
        return len(rows)

    # --- the commit ---------------------------------------------------------------------

    def _commit(
        self, documents: Iterator[Document], removed: list[str], report: UpdateReport,
        split: Splitter, any_documents: bool,
    ) -> None:  # fmt: skip
        conn = self._conn
        store = self._store
        assert store is not None
        if any_documents or removed or self._resync:
            with transaction(conn):
                version = self._version()
                first_new = self._next_passage_id()
                self._postings = bm25.PostingsWriter(conn)
                old_ids = records.delete(conn, self._postings, removed)
                for document in documents:
                    old_ids.extend(records.delete(conn, self._postings, [document.path]))
                    passages = split(document, self.embedder.token_spans, self.embedder.max_tokens)
                    records.insert(conn, self._postings, document, passages)
                self._postings.finish()
                # The store, in the order its interface asks (see backends.VectorStore).
                count = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
                in_step = store.refresh(version)
                store.delete(old_ids)
                everything = store.rebuild(count, self._training_sample) or not in_step
                for ids, matrix, texts in self._stored_vectors(0 if everything else first_new):
                    store.upsert(ids, matrix, texts)
                store.save(version.generation + 1)
                conn.executemany("INSERT OR IGNORE INTO retired (id) VALUES (?)",
                                 [(i,) for i in old_ids])  # fmt: skip
                rows = [("generation", str(version.generation + 1)), ("updated", now()),
                        ("store", self._config.kind), ("store_settings", self._config.settings())]  # fmt: skip
                spec = store.spec()
                if spec is not None:
                    rows.append(("ann_spec", json.dumps(spec.to_json())))
                conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", rows)
            store.commit()  # after the database: deletions, old files
            with transaction(conn):
                conn.execute("DELETE FROM retired")
            self._resync = False
            if self._previous is not None:
                previous = self._previous
                same = previous.kind == self._config.kind
                report.moved = f"milvus collection {previous.collection}" if same else previous.kind
                self._drop_previous(self._previous)
                self._previous = None
            write_index_manifest(self.path, self._conn)
        report.documents = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        report.passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        report.ann = store.describe()

    def _drop_previous(self, previous: StoreConfig) -> None:
        """After a move: delete what the old store holds (best effort: it may be unreachable)."""
        try:
            old = open_store(self.path, self.embedder.dimension, previous, writable=True)
        except ParaseekError:
            return
        try:
            old.drop()
        except ParaseekError:
            pass
        finally:
            old.close()

    def _stored_vectors(self, first: int) -> Iterator[tuple[np.ndarray, np.ndarray, list[str]]]:
        return cache.stored_vectors(
            self._conn, self.key, self.embedder.dimension, first, self.embedder.embed_documents,
            ADD_BATCH,
        )  # fmt: skip

    def _training_sample(self, size: int) -> np.ndarray:
        return cache.training_sample(self._conn, self.key, size)

    def _next_passage_id(self) -> int:
        return last_passage_id(self._conn) + 1  # above every id ever used

    def _known(self) -> dict[str, str]:
        """The content hash of every document by path; "" for one split by older rules, so
        that it is split again (its passages' embeddings are reused where the text is)."""
        rows = self._conn.execute(
            "SELECT path, CASE WHEN splitting = ? THEN content_hash ELSE '' END FROM documents",
            (SPLITTING,),
        )
        return dict(rows.fetchall())

    def _meta(self, key: str) -> str:
        return str(self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)
