"""Writing an index: scan sources, split, embed what the cache lacks, commit one new generation.

Crash safety: the embedding cache is committed batch by batch (a killed run keeps the work it
did); documents, passages, FTS rows and a new FAISS file are committed together: the FAISS file
of generation g+1 is written and fsynced first, then one SQLite transaction switches the
generation number. Until that commit, readers keep using generation g, which stays on disk.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import faiss
import numpy as np
from filelock import FileLock, Timeout

from .. import __version__
from ..corpus import (
    Document,
    Passage,
    Skipped,
    TokenSpans,
    find_files,
    read_documents,
    split_document,
)
from ..embedder import Embedder
from ..errors import IndexLockedError, ModelMismatchError, NoDocumentsError
from .store import (
    DATABASE,
    FAISS_DESCRIPTION,
    FORMAT_VERSION,
    SCHEMA,
    connect,
    now,
    vectors_file,
    write_manifest,
)

EMBED_CHUNK = 64
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
    reused: int = 0  # distinct texts whose vectors came from the cache
    documents: int = 0  # documents in the index afterwards
    passages: int = 0  # passages in the index afterwards


Log = Callable[[str], None]
Progress = Callable[[int, int], None]  # (texts embedded so far, texts to embed)
Splitter = Callable[[Document, TokenSpans, int], list[Passage]]


def text_hash(text: str) -> str:
    """The cache key of an embedded text: sha256 hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Writer:
    """The single writer of an index folder, holding its lock from open to close."""

    def __init__(self, path: str | os.PathLike[str], embedder: Embedder) -> None:
        """Lock the index at `path` (creating it if needed) for writing with `embedder`.

        Raises:
            IndexLockedError: another process is writing.
            ModelMismatchError: the index was built with another model.
        """
        self.path = Path(path)
        self.embedder = embedder
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
            self._open()
        except BaseException:
            self._lock.release()
            raise

    def close(self) -> None:
        """Release the lock and the database."""
        self._conn.close()
        self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        conn = self._conn
        conn.executescript(SCHEMA)  # idempotent; executescript commits, so it runs first
        conn.execute("BEGIN IMMEDIATE")
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if "model" in meta and meta["model"] != self.embedder.model_id:
            conn.execute("ROLLBACK")
            raise ModelMismatchError(
                f"Index '{self.path}' was built with {meta['model']} ({meta['dimension']}-d) but "
                f"the embedder is {self.embedder.model_id} ({self.embedder.dimension}-d); index "
                f"with --model {meta['model']}, or into a new --index folder."
            )
        if "model" not in meta:
            empty = faiss.IndexIDMap2(faiss.IndexFlatIP(self.embedder.dimension))
            self._write_vectors(empty, 0)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("model", self.embedder.model_id), ("dimension", str(self.embedder.dimension)),
                 ("generation", "0"), ("created", now()), ("updated", now())],
            )  # fmt: skip
        conn.execute("COMMIT")
        self._write_manifest()  # also mends a manifest left stale by a crash after a commit

    # --- public operations --------------------------------------------------------------

    def update(
        self, sources: Sequence[str | os.PathLike[str]], log: Log | None = None,
        progress: Progress | None = None,
    ) -> UpdateReport:  # fmt: skip
        """Bring the index in line with the files under `sources`.

        New files are added, files whose text changed are re-split and re-embedded (texts
        already in the embedding cache are not), and indexed files that no longer exist on
        disk are removed. Unreadable files are skipped and keep their previous version.

        Raises:
            SourceNotFoundError: a source does not exist.
            NoDocumentsError: the sources hold no supported file.
        """
        log = log or (lambda _: None)
        files = list(find_files(sources))
        if not files:
            raise NoDocumentsError(
                f"No supported files in {', '.join(map(str, sources))}; paraseek reads "
                ".txt, .md, .html, .htm, .pdf and .docx."
            )
        report = UpdateReport()
        known = dict(self._conn.execute("SELECT path, content_hash FROM documents").fetchall())
        todo: list[tuple[Document, list[Passage]]] = []
        for item in read_documents(files):
            if isinstance(item, Skipped):
                report.skipped.append(item)
                log(f"skipped {item.path}: {item.reason}")
            elif known.get(item.path) == item.content_hash:
                report.unchanged.append(item.path)
            else:
                (report.changed if item.path in known else report.added).append(item.path)
                passages = split_document(item, self.embedder.token_spans, self.embedder.max_tokens)
                todo.append((item, passages))
        report.removed = [p for p in known if not os.path.exists(p)]
        for path in report.removed:
            log(f"removed {path}: the file no longer exists")
        self._commit(todo, [*report.changed, *report.removed], report, progress)
        return report

    def add(
        self, documents: Iterable[Document], splitter: Splitter | None = None,
        progress: Progress | None = None,
    ) -> UpdateReport:  # fmt: skip
        """Add or replace documents that do not come from files (an evaluation corpus, an API).

        Documents are matched on `path`; one whose content hash is unchanged is left alone.

        Args:
            documents: the documents.
            splitter: turns a document into passages; default `split_document`.
            progress: called as (texts embedded so far, texts to embed).
        """
        split = splitter or split_document
        report = UpdateReport()
        known = dict(self._conn.execute("SELECT path, content_hash FROM documents").fetchall())
        todo = []
        for document in documents:
            if known.get(document.path) == document.content_hash:
                report.unchanged.append(document.path)
                continue
            (report.changed if document.path in known else report.added).append(document.path)
            todo.append(
                (document, split(document, self.embedder.token_spans, self.embedder.max_tokens))
            )
        self._commit(todo, report.changed, report, progress)
        return report

    def remove(self, document_ids: Sequence[str]) -> int:
        """Remove these documents and their passages; returns how many were removed."""
        rows = self._conn.execute(
            f"SELECT path FROM documents WHERE id IN ({','.join('?' * len(document_ids))})",
            list(document_ids),
        ).fetchall()
        self._commit([], [r[0] for r in rows], UpdateReport(), None)
        return len(rows)

    # --- the commit ---------------------------------------------------------------------

    def _commit(
        self, todo: list[tuple[Document, list[Passage]]], replaced_paths: Iterable[str],
        report: UpdateReport, progress: Progress | None,
    ) -> None:  # fmt: skip
        replaced = list(replaced_paths)
        vectors = self._embed([p for _, ps in todo for p in ps], report, progress)
        conn = self._conn
        if todo or replaced:
            conn.execute("BEGIN IMMEDIATE")
            try:
                generation = int(
                    conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0]
                )
                index = faiss.read_index(str(vectors_file(self.path, generation)))
                old_ids = self._delete(replaced)
                if old_ids:
                    index.remove_ids(np.asarray(old_ids, dtype=np.int64))  # type: ignore[arg-type]
                new_ids = self._insert(todo)
                if new_ids:
                    matrix = np.vstack([vectors[p.embedded_text] for _, ps in todo for p in ps])
                    index.add_with_ids(matrix, np.asarray(new_ids, dtype=np.int64))
                self._write_vectors(index, generation + 1)
                conn.execute(
                    "UPDATE meta SET value = ? WHERE key = 'generation'", (str(generation + 1),)
                )
                conn.execute("UPDATE meta SET value = ? WHERE key = 'updated'", (now(),))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self._write_manifest()
            self._remove_old_vectors(generation + 1)
        report.documents = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        report.passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]

    def _embed(
        self, passages: list[Passage], report: UpdateReport, progress: Progress | None
    ) -> dict[str, np.ndarray]:
        """Vectors for every distinct embedded text, from the cache or the model."""
        texts = sorted({p.embedded_text for p in passages})
        keys = {t: text_hash(t) for t in texts}
        model = self.embedder.model_id
        cached: dict[str, np.ndarray] = {}
        hashes = list(keys.values())
        for begin in range(0, len(hashes), 500):
            chunk = hashes[begin : begin + 500]
            rows = self._conn.execute(
                f"SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN "
                f"({','.join('?' * len(chunk))})",
                [model, *chunk],
            ).fetchall()
            cached.update((h, np.frombuffer(v, dtype=np.float32)) for h, v in rows)
        missing = [t for t in texts if keys[t] not in cached]
        report.reused = len(texts) - len(missing)
        done = 0
        if progress:
            progress(0, len(missing))
        for begin in range(0, len(missing), EMBED_CHUNK):
            chunk = missing[begin : begin + EMBED_CHUNK]
            matrix = self.embedder.embed_documents(chunk)
            # Committed per chunk: a killed run keeps what it embedded for the next run.
            with _transaction(self._conn):
                self._conn.executemany(
                    "INSERT OR REPLACE INTO embeddings (model, text_hash, vector) VALUES (?, ?, ?)",
                    [(model, keys[t], v.tobytes()) for t, v in zip(chunk, matrix, strict=True)],
                )
            cached.update((keys[t], v) for t, v in zip(chunk, matrix, strict=True))
            done += len(chunk)
            if progress:
                progress(done, len(missing))
        report.embedded = len(missing)
        return {t: cached[keys[t]] for t in texts}

    def _delete(self, paths: list[str]) -> list[int]:
        conn = self._conn
        old_ids: list[int] = []
        for path in paths:
            row = conn.execute("SELECT id FROM documents WHERE path = ?", (path,)).fetchone()
            if row is None:
                continue
            ids = [r[0] for r in conn.execute("SELECT id FROM passages WHERE document_id = ?", row)]
            conn.executemany("DELETE FROM passages_fts WHERE rowid = ?", [(i,) for i in ids])
            conn.execute("DELETE FROM passages WHERE document_id = ?", row)
            conn.execute("DELETE FROM documents WHERE id = ?", row)
            old_ids.extend(ids)
        return old_ids

    def _insert(self, todo: list[tuple[Document, list[Passage]]]) -> list[int]:
        conn = self._conn
        ids = []
        for doc, passages in todo:
            conn.execute(
                "INSERT INTO documents (id, path, title, date, content_hash, text, passages, "
                "indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (doc.id, doc.path, doc.title, doc.date, doc.content_hash, doc.text,
                 len(passages), now()),
            )  # fmt: skip
            for p in passages:
                cursor = conn.execute(
                    'INSERT INTO passages (document_id, ordinal, start, "end", text, context, '
                    "text_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc.id,
                        p.ordinal,
                        p.start,
                        p.end,
                        p.text,
                        p.context,
                        text_hash(p.embedded_text),
                    ),
                )
                ids.append(int(cursor.lastrowid or 0))
                conn.execute(
                    "INSERT INTO passages_fts (rowid, text, context) VALUES (?, ?, ?)",
                    (ids[-1], p.text, p.context),
                )
        return ids

    # --- files --------------------------------------------------------------------------

    def _write_vectors(self, index: faiss.Index, generation: int) -> None:
        final = vectors_file(self.path, generation)
        tmp = final.with_suffix(".faiss.tmp")
        faiss.write_index(index, str(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
        _fsync_dir(self.path)

    def _remove_old_vectors(self, generation: int) -> None:
        # The previous generation stays for readers that began before this commit.
        for file in self.path.glob("vectors.*.faiss*"):
            number = file.name.split(".")[1]
            if not number.isdigit() or int(number) < generation - 1 or file.suffix == ".tmp":
                file.unlink(missing_ok=True)

    def _write_manifest(self) -> None:
        conn = self._conn
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        write_manifest(
            self.path,
            {
                "format_version": FORMAT_VERSION,
                "paraseek_version": __version__,
                "model": meta["model"],
                "dimension": int(meta["dimension"]),
                "faiss_index": FAISS_DESCRIPTION,
                "generation": int(meta["generation"]),
                "documents": conn.execute("SELECT count(*) FROM documents").fetchone()[0],
                "passages": conn.execute("SELECT count(*) FROM passages").fetchone()[0],
                "created": meta["created"],
                "updated": meta["updated"],
            },
        )


class _transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
