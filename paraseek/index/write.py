"""Writing an index: scan sources, split, embed what the cache lacks, commit one new generation.

Two passes, both streaming, so memory is bounded by a batch whatever the size of the corpus:

1. Embed. Documents are read and split one at a time; texts the embedding cache lacks are
   embedded in batches of `EMBED_BATCH`, each committed to the cache, so a killed run keeps
   the work it did and the next run resumes.
2. Commit. One SQLite transaction deletes replaced documents, reads and splits the changed
   documents again (cheap next to embedding), inserts them with their FTS rows, and builds the
   vector index of generation g+1 from the cached vectors: incrementally from generation g, or
   from scratch when the index type changes (see `ann.choose`). That file is written and
   fsynced before the transaction switches the generation number; until then readers keep
   using generation g, which stays on disk.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import numpy as np
from filelock import FileLock, Timeout

from .. import __version__
from ..corpus import (
    Document,
    Passage,
    Skipped,
    TokenSpans,
    embedded_text,
    find_files,
    read_documents,
    split_document,
)
from ..embedder import Embedder
from ..errors import IndexLockedError, ModelMismatchError, NoDocumentsError
from . import cache
from .ann import AnnSpec, Vectors, choose, needs_rebuild, training_size
from .store import (
    DATABASE,
    FORMAT_VERSION,
    SCHEMA,
    connect,
    now,
    transaction,
    vectors_file,
    write_manifest,
)

EMBED_BATCH = 256  # texts embedded and committed to the cache together
ADD_BATCH = 8192  # vectors read from the cache and added to the vector index together
REBUILD_STALE = 0.2  # rebuild an index once this share of its entries are deleted ones
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
    ann: str = ""  # the vector index afterwards, e.g. "Flat (exact)"


Log = Callable[[str], None]
Progress = Callable[[int, int], None]
"""Called as (passages done, passages expected); the second is an estimate until the end."""
Splitter = Callable[[Document, TokenSpans, int], list[Passage]]
text_hash = cache.text_hash


class Writer:
    """The single writer of an index folder, holding its lock from open to close."""

    def __init__(
        self, path: str | os.PathLike[str], embedder: Embedder, ann: str | None = None
    ) -> None:
        """Lock the index at `path` (creating it if needed) for writing with `embedder`.

        Args:
            path: the index folder.
            embedder: the model; it must be the one the index was built with.
            ann: the vector index: "auto" (exact while small, then approximate), "flat",
                "hnsw" or "ivf"; None keeps the index's setting (auto for a new index).

        Raises:
            IndexLockedError: another process is writing.
            ModelMismatchError: the index was built with another model.
            InvalidArgumentError: an unknown `ann`.
        """
        if ann is not None:
            choose(ann, 0)  # checks the name before anything is written
        self.path = Path(path)
        self.embedder = embedder
        self.key = cache.model_key(embedder)
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
        try:
            self._open(ann)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the lock and the database."""
        self._conn.close()
        self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, ann: str | None) -> None:
        conn = self._conn
        conn.executescript(SCHEMA)  # idempotent; executescript commits, so it runs first
        with transaction(conn):
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if "model" in meta and meta["model"] != self.embedder.model_id:
                raise ModelMismatchError(
                    f"Index '{self.path}' was built with {meta['model']} ({meta['dimension']}-d) "
                    f"but the embedder is {self.embedder.model_id} ({self.embedder.dimension}-d); "
                    f"index with --model {meta['model']}, or into a new --index folder."
                )
            if "model" not in meta:
                spec = choose(ann or "auto", 0)
                self._write_vectors(Vectors.create(spec, self.embedder.dimension, None), 0)
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("model", self.embedder.model_id),
                     ("dimension", str(self.embedder.dimension)), ("generation", "0"),
                     ("created", now()), ("updated", now()), ("ann", ann or "auto"),
                     ("ann_spec", json.dumps(spec.to_json()))],
                )  # fmt: skip
            elif ann is not None:
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('ann', ?)", (ann,))
            for key, value in (
                ("precision", getattr(self.embedder, "precision", "fp32")),
                ("runtime", getattr(self.embedder, "runtime", cache.REFERENCE_RUNTIME)),
                ("runtime_note", getattr(self.embedder, "note", "")),
            ):
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        self._write_manifest()  # also mends a manifest left stale by a crash after a commit

    # --- public operations --------------------------------------------------------------

    def update(
        self, sources: Sequence[str | os.PathLike[str]], log: Log | None = None,
        progress: Progress | None = None,
    ) -> UpdateReport:  # fmt: skip
        """Bring the index in line with the files under `sources`.

        New files are added, files whose text changed are re-split and re-embedded (texts
        already in the embedding cache are not), and indexed files under `sources` that no
        longer exist on disk are removed (documents from elsewhere are left alone).
        Unreadable files are skipped and keep their previous version.

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
        note = f" ({self.embedder.note})" if getattr(self.embedder, "note", "") else ""
        log(
            f"indexing {len(files)} files into {self.path} with "
            f"{getattr(self.embedder, 'runtime', cache.REFERENCE_RUNTIME)}{note}"
        )
        report = UpdateReport()
        known = dict(self._conn.execute("SELECT path, content_hash FROM documents").fetchall())
        sizes = {str(f.resolve()): _size(f) for f in files}
        embed = _Embedding(self, report, _Estimate(progress, sum(sizes.values())))
        changed: list[str] = []
        for item in read_documents(files):
            size = sizes.get(item.path, 0)
            if isinstance(item, Skipped):
                report.skipped.append(item)
                log(f"skipped {item.path}: {item.reason}")
                embed.estimate.skip(size)
            elif known.get(item.path) == item.content_hash:
                report.unchanged.append(item.path)
                embed.estimate.skip(size)
            else:
                (report.changed if item.path in known else report.added).append(item.path)
                changed.append(item.path)
                passages = split_document(item, self.embedder.token_spans, self.embedder.max_tokens)
                embed.add(passages, size)
        embed.finish()
        roots = [os.path.realpath(s) for s in sources]
        report.removed = [p for p in known if _under(p, roots) and not os.path.exists(p)]
        for path in report.removed:
            log(f"removed {path}: the file no longer exists")
        again = (d for d in read_documents(changed) if isinstance(d, Document))
        self._commit(again, report.removed, report, split_document, bool(changed))
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
        split = splitter or split_document
        report = UpdateReport()
        known = dict(self._conn.execute("SELECT path, content_hash FROM documents").fetchall())
        todo = []
        for document in documents:
            if known.get(document.path) == document.content_hash:
                report.unchanged.append(document.path)
                continue
            (report.changed if document.path in known else report.added).append(document.path)
            todo.append(document)
        embed = _Embedding(self, report, _Estimate(progress, sum(len(d.text) for d in todo)))
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
        if any_documents or removed:
            with transaction(conn):
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                generation = int(meta["generation"])
                first_new = self._next_passage_id()
                old_ids = self._delete(removed)
                for document in documents:
                    old_ids.extend(self._delete([document.path]))
                    passages = split(document, self.embedder.token_spans, self.embedder.max_tokens)
                    self._insert(document, passages)
                vectors = self._vectors(meta, generation, old_ids, first_new)
                self._write_vectors(vectors, generation + 1)
                for key, value in (
                    ("generation", str(generation + 1)),
                    ("updated", now()),
                    ("ann_spec", json.dumps(vectors.spec.to_json())),
                ):
                    conn.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
            self._write_manifest()
            self._remove_old_vectors(generation + 1)
        report.documents = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        report.passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        report.ann = AnnSpec.from_json(json.loads(self._meta("ann_spec"))).describe()

    def _vectors(
        self, meta: dict[str, str], generation: int, old_ids: list[int], first_new: int
    ) -> Vectors:
        """The vector index of the next generation, inside the commit's transaction."""
        count = self._conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        current = AnnSpec.from_json(json.loads(meta["ann_spec"]))
        wanted = choose(meta.get("ann", "auto"), count)
        if not needs_rebuild(current, wanted):
            vectors = Vectors.load(vectors_file(self.path, generation))
            if old_ids:
                vectors.remove(np.asarray(old_ids, dtype=np.int64))
            if vectors.stale_fraction <= REBUILD_STALE:
                for ids, matrix in self._stored_vectors(first_new):
                    vectors.add(matrix, ids)
                return vectors
        training = None
        if training_size(wanted, count):
            training = self._training_sample(training_size(wanted, count))
        vectors = Vectors.create(wanted, self.embedder.dimension, training)
        for ids, matrix in self._stored_vectors(0):
            vectors.add(matrix, ids)
        return vectors

    def _stored_vectors(self, first: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of passages with id >= `first`, in batches, from the cache.

        A passage whose vector the cache lacks (its file changed between the two passes, or
        it was embedded by another runtime) is embedded here.
        """
        after = first - 1
        while True:
            rows = self._conn.execute(
                "SELECT p.id, p.text, p.context, p.text_hash, e.vector FROM passages p "
                "LEFT JOIN embeddings e ON e.model = ? AND e.text_hash = p.text_hash "
                "WHERE p.id > ? ORDER BY p.id LIMIT ?",
                (self.key, after, ADD_BATCH),
            ).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            matrix = np.zeros((len(rows), self.embedder.dimension), dtype=np.float32)
            missing = [i for i, r in enumerate(rows) if r[4] is None]
            for i, row in enumerate(rows):
                if row[4] is not None:
                    matrix[i] = np.frombuffer(row[4], dtype=np.float32)
            if missing:
                texts = [embedded_text(rows[i][2], rows[i][1]) for i in missing]
                fresh = self.embedder.embed_documents(texts)
                matrix[missing] = fresh
                cache.store(self._conn, self.key, [rows[i][3] for i in missing], fresh)
            yield np.asarray([r[0] for r in rows], dtype=np.int64), matrix

    def _training_sample(self, size: int) -> np.ndarray:
        rows = self._conn.execute(
            "SELECT e.vector FROM passages p JOIN embeddings e ON e.model = ? AND "
            "e.text_hash = p.text_hash ORDER BY random() LIMIT ?",
            (self.key, size),
        ).fetchall()
        return np.vstack([np.frombuffer(r[0], dtype=np.float32) for r in rows])

    def _next_passage_id(self) -> int:
        # AUTOINCREMENT: new ids are above every id ever used, deleted ones included.
        row = self._conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'passages'"
        ).fetchone()
        return int(row[0]) + 1 if row else 1

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

    def _insert(self, doc: Document, passages: list[Passage]) -> None:
        conn = self._conn
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
                (doc.id, p.ordinal, p.start, p.end, p.text, p.context,
                 text_hash(p.embedded_text)),
            )  # fmt: skip
            conn.execute(
                "INSERT INTO passages_fts (rowid, text, context) VALUES (?, ?, ?)",
                (cursor.lastrowid, p.text, p.context),
            )

    def _meta(self, key: str) -> str:
        return str(self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    # --- files --------------------------------------------------------------------------

    def _write_vectors(self, vectors: Vectors, generation: int) -> None:
        final = vectors_file(self.path, generation)
        tmp = final.with_suffix(".faiss.tmp")
        vectors.save(tmp)
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
        spec = AnnSpec.from_json(json.loads(meta["ann_spec"]))
        write_manifest(
            self.path,
            {
                "format_version": FORMAT_VERSION,
                "paraseek_version": __version__,
                "model": meta["model"],
                "dimension": int(meta["dimension"]),
                "embedding": {
                    "precision": meta.get("precision", "fp32"),
                    "runtime": meta.get("runtime", cache.REFERENCE_RUNTIME),
                    "note": meta.get("runtime_note", ""),
                },
                "ann": {"setting": meta.get("ann", "auto"), **spec.to_json()},
                "faiss_index": spec.describe(),
                "generation": int(meta["generation"]),
                "documents": conn.execute("SELECT count(*) FROM documents").fetchone()[0],
                "passages": conn.execute("SELECT count(*) FROM passages").fetchone()[0],
                "created": meta["created"],
                "updated": meta["updated"],
            },
        )


class _Estimate:
    """Reports progress in passages; the total is estimated from the share of input read."""

    def __init__(self, progress: Progress | None, size: int) -> None:
        self.progress = progress
        self.size = max(size, 1)
        self.read = 0  # input (bytes or characters) of documents whose passages are done
        self.done = 0

    def skip(self, size: int) -> None:
        self.read += size

    def advance(self, passages: int, size: int) -> None:
        self.done += passages
        self.read += size
        if self.progress:
            share = min(self.read / self.size, 1.0)
            expected = round(self.done / share) if share else self.done
            self.progress(self.done, max(expected, self.done))

    def finish(self) -> None:
        if self.progress:
            self.progress(self.done, self.done)


class _Embedding:
    """Pass 1: embeds the texts the cache lacks, batch by batch, each batch committed."""

    def __init__(self, writer: Writer, report: UpdateReport, estimate: _Estimate) -> None:
        self.writer = writer
        self.report = report
        self.estimate = estimate
        self.texts: dict[str, str] = {}  # text hash -> embedded text, this batch
        self.passages = 0
        self.size = 0
        if estimate.progress:
            estimate.progress(0, 0)

    def add(self, passages: list[Passage], size: int) -> None:
        for p in passages:
            self.texts.setdefault(text_hash(p.embedded_text), p.embedded_text)
        self.passages += len(passages)
        self.size += size
        if len(self.texts) >= EMBED_BATCH:
            self.flush()

    def flush(self) -> None:
        conn, key = self.writer._conn, self.writer.key
        hashes = list(self.texts)
        cached = cache.lookup(conn, key, hashes)
        missing = [h for h in hashes if h not in cached]
        if missing:
            vectors = self.writer.embedder.embed_documents([self.texts[h] for h in missing])
            with transaction(conn):  # committed now: a killed run keeps this batch
                cache.store(conn, key, missing, vectors)
        self.report.embedded += len(missing)
        self.report.reused += len(hashes) - len(missing)
        self.estimate.advance(self.passages, self.size)
        self.texts, self.passages, self.size = {}, 0, 0

    def finish(self) -> None:
        if self.texts or self.passages:
            self.flush()
        self.estimate.finish()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
