"""Writing an index: scan sources, split, embed what the cache lacks, commit one new generation.

Two streaming passes, so memory is bounded by a batch whatever the size of the corpus:
1. Embed (an executor's job, see `executors`): each batch the cache lacks is committed to it as
   it comes, so a killed run keeps its work and the next run resumes.
2. Commit, in one SQLite transaction: replace the changed documents' rows and postings, and
   have the vector store save generation g+1 from the cached vectors before the transaction
   names it; until then readers keep generation g.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import numpy as np
from filelock import FileLock, Timeout

from .. import __version__, words
from ..corpus import (
    SPLITTING,
    Document,
    Passage,
    Skipped,
    TokenSpans,
    find_sources,
    read_files,
    split_document,
)
from ..embedder import Embedder
from ..errors import IndexLockedError, ModelMismatchError, NoDocumentsError, ParaseekError
from . import keyword, repair, rows, sentence_vectors
from .ann import AnnSpec, choose
from .database import (
    DATABASE,
    FORMAT_VERSION,
    SCHEMA,
    check_format,
    connect,
    generation,
    last_passage_id,
    meta,
    now,
    transaction,
    write_manifest,
)
from .executors import (
    Batches,
    Embedded,
    Executor,
    FileStatus,
    Job,
    LocalExecutor,
    Log,
    Progress,
    Splitter,
)
from .keyword import PostingsWriter
from .stores import (
    HYBRID,
    StoreConfig,
    VectorStore,
    Version,
    check_store,
    committed,
    open_store,
    recorded,
    requested,
)

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
    repaired: list[str] = field(default_factory=list)  # damage mended, one line each


class Writer:
    """The single writer of an index folder, holding its lock from open to close."""

    def __init__(
        self, path: str | os.PathLike[str], embedder: Embedder, ann: str | None = None,
        store: str | None = None,
    ) -> None:  # fmt: skip
        """Lock the index at `path` (creating it if needed) for writing with `embedder`.

        `ann` ("auto", "flat", "hnsw", "ivf") and `store` ("faiss", "milvus"; else
        $PARASEEK_STORE) default to the index's own; another store gets the vectors from the
        embedding cache at the next commit, and the old one is dropped.

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
        self.key = rows.model_key(embedder)
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
        try:
            self._open(ann, store)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        self._conn.close()
        self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, ann: str | None, store: str | None) -> None:
        self._store, self._config, self._previous = open_for_writing(
            self._conn, self.path, self.embedder, ann, store, self._training_sample
        )
        self.repaired: list[str] = []  # damage mended, one line each
        self._rebuild = False  # rebuild the vector store from the embedding cache at the commit
        self._recover()
        in_step = self._store.refresh(self._version())
        if not in_step:
            self.repaired.append(
                "the vector file was missing, damaged or behind the database: rebuilt from "
                "the embedding cache"
            )
        self._resync = self._previous is not None or not in_step
        write_index_manifest(
            self.path, self._conn
        )  # also mends a manifest left stale by a crash after a commit

    def _version(self) -> Version:
        return committed(self._conn, generation(self._conn, self.path / DATABASE))

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

    def update(
        self, sources: Sequence[str | os.PathLike[str]], log: Log | None = None,
        progress: Progress | None = None, executor: Executor | None = None,
    ) -> UpdateReport:  # fmt: skip
        """Bring the index in line with the files under `sources`.

        Indexed files under `sources` that no longer exist are removed; unreadable files are
        skipped and keep their previous version. `executor` runs pass 1 (default: local).

        Raises:
            SourceNotFoundError: a source does not exist.
            NoDocumentsError: the sources hold no supported file, or every one was skipped.
        """
        log = log or (lambda _: None)
        found = list(find_sources(sources))
        files = [f for f in found if isinstance(f, Path)]
        passed_over = [f for f in found if isinstance(f, Skipped)]  # unreadable folders, links
        if not files and not passed_over:
            raise NoDocumentsError(
                f"No supported files in {', '.join(map(str, sources))}; paraseek reads "
                ".txt, .md, .html, .htm, .pdf and .docx."
            )
        note = f" ({self.embedder.note})" if getattr(self.embedder, "note", "") else ""
        log(
            f"indexing {len(files)} files into {self.path} with "
            f"{getattr(self.embedder, 'runtime', rows.REFERENCE_RUNTIME)}{note}"
        )
        report = UpdateReport(repaired=self.repaired)
        for skipped in passed_over:
            log(f"skipped {skipped.path}: {skipped.reason}")
        known = self._known()
        sizes = {str(f.resolve()): _size(f) for f in files}
        estimate = Estimate(progress, sizes, sum(sizes.values()))
        split = Splits(split_document)  # pass 2 reuses pass 1's splits
        job = Job(files, known, sizes, self.embedder, self._lacking, self._cached, split, log)
        order = {str(f): i for i, f in enumerate(files)}
        read: dict[str, str] = {}  # path -> content hash, as pass 1 read it
        events = (executor or LocalExecutor()).run(job) if files else iter(())
        changed = self._pass_one(events, report, estimate, log, read)
        for paths in (report.added, report.changed, report.unchanged, changed):
            paths.sort(key=order.__getitem__)
        report.skipped.sort(key=lambda s: order.get(s.path, -1))
        report.skipped = passed_over + report.skipped
        roots = [os.path.realpath(s) for s in sources]
        report.removed = [p for p in known if _under(p, roots) and _gone(p)]
        if report.skipped and not (
            report.added or report.changed or report.unchanged or report.removed
        ):
            raise NoDocumentsError(
                f"No readable files in {', '.join(map(str, sources))}: all "
                f"{len(report.skipped)} were skipped (reasons above); the index is unchanged."
            )
        for path in report.removed:
            log(f"removed {path}: the file no longer exists")
        again = _same_as_read(changed, read, report, log)
        by_path = dict(self._conn.execute("SELECT path, id FROM documents"))
        self._commit(again, [by_path[p] for p in report.removed], report, split, bool(changed))
        return report

    def add(
        self, documents: Iterable[Document], splitter: Splitter | None = None,
        progress: Progress | None = None,
    ) -> UpdateReport:  # fmt: skip
        """Add or replace documents that do not come from files (an evaluation corpus, an API).

        Documents are matched on `path`, and held in memory (their text) until the commit.
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
        estimate = Estimate(progress, {}, sum(len(d.text) for d in todo))
        batches = Batches(self.embedder, self._lacking)

        def events() -> Iterator[Embedded]:
            for document in todo:
                passages = split(document, self.embedder.token_spans, self.embedder.max_tokens)
                yield from batches.add(passages, len(document.text))
            yield from batches.finish()

        self._pass_one(events(), report, estimate, lambda _: None)
        self._commit(iter(todo), [], report, split, bool(todo))
        return report

    def remove(self, document_ids: Sequence[str]) -> int:
        """Remove these documents and their passages; returns how many were removed."""
        rows = self._conn.execute(
            f"SELECT id FROM documents WHERE id IN ({','.join('?' * len(document_ids))})",
            list(document_ids),
        ).fetchall()
        self._commit(iter(()), [r[0] for r in rows], UpdateReport(), split_document, False)
        return len(rows)

    def repair(self, log: Log | None = None) -> UpdateReport:
        """Mend the damage `paraseek check` finds (see `repair`): documents split again from
        their files, the vector store rebuilt from the cache; `repaired` says what was done."""
        report = UpdateReport(repaired=self.repaired)
        if rows.index_key(self._conn) != self.key:
            raise ModelMismatchError(
                f"Index '{self.path}' was last written with {rows.index_key(self._conn)}, not "
                f"{self.key}; repair it with the --precision it was indexed with."
            )
        mended, again = repair.mend(self._conn, repair.scan(self._conn, self.key))
        report.repaired.extend(mended)
        broken = sentence_vectors.failing(self._conn, self.key, self.embedder.dimension)
        if broken:  # the passages' own vectors are sound: only their sentences are pooled
            sentence_vectors.pool_again(self._conn, self.key, broken, self.embedder.embed_passages)
            report.repaired.append(
                f"pooled the sentence vectors of {len(broken)} passages again (they failed "
                "their checksum)"
            )
        if bad := words.failing(self._conn):  # all embedded again by the commit below
            with transaction(self._conn):
                self._conn.execute("DELETE FROM word_blocks")
                self._conn.execute("DELETE FROM meta WHERE key = 'words_through'")
            report.repaired.append(
                f"embedded the words again ({len(bad)} blocks failed their checksum)"
            )
        if mended:
            self._recover()
            self._resync = self._rebuild = True
        gone = [p for p in again if _gone(p)]
        log = log or (lambda _: None)
        documents = _same_as_read([p for p in again if p not in gone], {}, report, log)
        by_path = dict(self._conn.execute("SELECT path, id FROM documents"))
        report.removed = gone
        self._commit(documents, [by_path[p] for p in gone], report, split_document, bool(again))
        return report

    def _commit(
        self, documents: Iterator[Document], removed: list[str], report: UpdateReport,
        split: Splitter, any_documents: bool,
    ) -> None:  # fmt: skip
        """One transaction: delete the documents of ids `removed`, insert `documents` (split
        with `split`, replacing their earlier version), and move the vector store along."""
        conn = self._conn
        store = self._store
        assert store is not None
        if any_documents or removed or self._resync:
            with transaction(conn):
                version = self._version()
                first_new = last_passage_id(conn) + 1  # above every id ever used
                postings = PostingsWriter(conn)
                old_ids = rows.delete(conn, postings, removed)
                for document in documents:
                    old = conn.execute(
                        "SELECT id FROM documents WHERE path = ?", (document.path,)
                    ).fetchone()  # documents are matched on path; a lost row leaves its id
                    old_ids.extend(rows.delete(conn, postings, list({document.id, *(old or ())})))
                    passages = split(document, self.embedder.token_spans, self.embedder.max_tokens)
                    rows.insert(conn, postings, document, passages)
                postings.finish()
                # The store, in the order its interface asks (see stores.VectorStore).
                count = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
                in_step = store.refresh(version)
                store.delete(old_ids)
                everything = (
                    store.rebuild(count, self._training_sample) or not in_step or self._rebuild
                )
                for ids, matrix in rows.stored_vectors(
                    conn, self.key, self.embedder.dimension, 0 if everything else first_new,
                    self.embedder.embed_documents, ADD_BATCH,
                ):  # fmt: skip
                    store.upsert(ids, matrix)
                store.save(version.generation + 1)
                conn.executemany("INSERT OR IGNORE INTO retired (id) VALUES (?)",
                                 [(i,) for i in old_ids])  # fmt: skip
                values = [("generation", str(version.generation + 1)), ("updated", now()),
                          ("store", self._config.kind), ("store_settings", self._config.settings())]  # fmt: skip
                spec = store.spec()
                if spec is not None:
                    values.append(("ann_spec", json.dumps(spec.to_json())))
                conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values)
            store.commit()  # after the database: deletions, old files
            with transaction(conn):
                conn.execute("DELETE FROM retired")
            self._resync = self._rebuild = False
            if self._previous is not None:
                previous = self._previous
                same = previous.kind == self._config.kind
                report.moved = f"milvus collection {previous.collection}" if same else previous.kind
                self._drop_previous(self._previous)
                self._previous = None
            write_index_manifest(self.path, self._conn)
        self._words()
        report.documents, report.passages = rows.counts(conn).values()
        report.ann = store.describe()

    def _words(self) -> None:
        """Embed the words of the passages added since the last call that have no vector yet
        (paraseek/words.py); all of them again, on new axes, when the model changed."""
        conn, values = self._conn, meta(self._conn)
        same = values.get("words_model") == self.key
        through, last = int(values.get("words_through", 0)) if same else 0, last_passage_id(conn)
        if last <= through:
            return
        texts = conn.execute("SELECT text || ' ' || context FROM passages WHERE id > ?", (through,))
        new = frozenset().union(*(keyword.word_set(text) for (text,) in texts))
        have, _, axes = words.load(
            conn.execute("SELECT * FROM word_blocks").fetchall(), self.embedder.dimension
        )
        if not same or axes is None:
            have, axes, same = {}, words.basis(self.embedder, self.key), False
        missing = sorted(w for w in new - set(have) if words.embeddable(w))
        found = words.embedded(self.embedder, self.key, axes, missing)
        with transaction(conn):
            if not same:
                conn.execute("DELETE FROM word_blocks")
                conn.execute(
                    "INSERT INTO word_blocks VALUES (0, '', ?)",
                    (words.block([axes.astype(np.float16).tobytes()]),),
                )
            for at in range(0, len(missing), 4096):
                conn.execute("INSERT INTO word_blocks (words, vectors) VALUES (?, ?)",
                             ("\n".join(missing[at : at + 4096]), words.block(found[at : at + 4096])))  # fmt: skip
            conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                             [("words_through", str(last)), ("words_model", self.key)])  # fmt: skip

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

    def _pass_one(
        self, events: Iterable[FileStatus | Embedded], report: UpdateReport, estimate: Estimate,
        log: Log, read: dict[str, str] | None = None,
    ) -> list[str]:  # fmt: skip
        """Take pass 1's events: fill `report`, commit each batch to the cache at once. Returns
        the added and changed paths; `read` gets their content hashes where known."""
        changed: list[str] = []
        for event in events:
            if isinstance(event, Embedded):
                fresh = self._cache(event.hashes, event.vectors, event.sentences)
                report.embedded += fresh
                report.reused += event.reused + len(event.hashes) - fresh
                if event.passages or event.size:
                    estimate.advance(event.passages, event.size)
                continue
            size = estimate.sizes.get(event.path, 0)
            if event.status == "skipped":
                report.skipped.append(Skipped(event.path, event.reason))
                log(f"skipped {event.path}: {event.reason}")
                estimate.skip(size)
            elif event.status == "unchanged":
                report.unchanged.append(event.path)
                estimate.skip(size)
            else:
                (report.changed if event.status == "changed" else report.added).append(event.path)
                changed.append(event.path)
                if read is not None and event.content_hash:
                    read[event.path] = event.content_hash
        estimate.finish()
        return changed

    def _cache(
        self, hashes: list[str], vectors: np.ndarray, sentences: dict[str, bytes] | None = None
    ) -> int:
        """Commit the vectors the cache lacks, with their sentence vectors; returns how many
        were new."""
        stored = rows.lookup(self._conn, self.key, hashes)
        fresh = [i for i, h in enumerate(hashes) if h not in stored]
        if fresh:
            with transaction(self._conn):
                rows.store(self._conn, self.key, [hashes[i] for i in fresh], vectors[fresh])
                kept = {hashes[i] for i in fresh}
                sentence_vectors.store(
                    self._conn, self.key, {h: b for h, b in (sentences or {}).items() if h in kept}
                )
        return len(fresh)

    def _lacking(self, hashes: list[str]) -> list[str]:
        stored = rows.lookup(self._conn, self.key, hashes)
        return [h for h in hashes if h not in stored]

    def _cached(self) -> Iterator[str]:
        rows_ = self._conn.execute("SELECT text_hash FROM embeddings WHERE model = ?", (self.key,))
        return (h for (h,) in rows_)

    def _training_sample(self, size: int) -> np.ndarray:
        return rows.sample(self._conn, self.key, size)[2]

    def _known(self) -> dict[str, str]:
        """The content hash of every document by path; "" for one split by older rules, so
        that it is split again (its passages' embeddings are reused where the text is)."""
        rows = self._conn.execute(
            "SELECT path, CASE WHEN splitting = ? THEN content_hash ELSE '' END FROM documents",
            (SPLITTING,),
        )
        return dict(rows.fetchall())


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _gone(path: str) -> bool:
    """Whether the file at `path` no longer exists (one that cannot be read is not deleted)."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:  # permission denied on a folder above it, an I/O error: not known gone
        return False
    return False


def _same_as_read(
    paths: list[str], hashes: dict[str, str], report: UpdateReport, log: Log
) -> Iterator[Document]:
    """Pass 2's documents: each file read again; one that is no longer what pass 1 read is
    skipped and keeps its indexed version."""
    for item in read_files(paths):
        if isinstance(item, Document) and hashes.get(item.path, item.content_hash) == (
            item.content_hash
        ):
            yield item
            continue
        reason = (
            f"{item.reason} (since it was read)" if isinstance(item, Skipped)
            else "it changed while it was being indexed; index again to take the new version"
        )  # fmt: skip
        path = item.path
        for done in (report.added, report.changed):
            if path in done:
                done.remove(path)
        report.skipped.append(Skipped(path, reason))
        log(f"skipped {path}: {reason}")


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def open_for_writing(
    conn: sqlite3.Connection, path: Path, embedder: Embedder, ann: str | None,
    store: str | None, training_sample: Callable[[int], np.ndarray],
) -> tuple[VectorStore, StoreConfig, StoreConfig | None]:  # fmt: skip
    """For a writer holding the lock: check the model, open the store and record the settings.

    Returns:
        (the store, where it lives, the store the vectors move from at the next commit or None)
    """
    conn.executescript(SCHEMA)  # idempotent; executescript commits, so it runs first
    # Only a writer changes meta, and this one holds the lock: no transaction needed yet.
    recorded_meta = meta(conn)
    if "model" in recorded_meta and recorded_meta["model"] != embedder.model_id:
        raise ModelMismatchError(
            f"Index '{path}' was built with {recorded_meta['model']} "
            f"({recorded_meta['dimension']}-d) but the embedder is {embedder.model_id} "
            f"({embedder.dimension}-d); index with --model {recorded_meta['model']}, or into "
            "a new --index folder."
        )
    new = "model" not in recorded_meta
    setting = ann or recorded_meta.get("ann", "auto")
    current = None if new else recorded(recorded_meta)
    config = requested(path, current, store, setting)
    opened = open_store(path, embedder.dimension, config, ann=setting, writable=True)
    try:
        previous = None if current is None or current.same_place(config) else current
        if new:  # generation 0: an empty store, before the database names it
            opened.refresh(Version(0, 0, 0))
            opened.rebuild(0, training_sample)
            opened.save(0)
        with transaction(conn):
            values: list[tuple[str, str]] = [
                ("precision", getattr(embedder, "precision", "fp32")),
                ("runtime", getattr(embedder, "runtime", rows.REFERENCE_RUNTIME)),
                ("runtime_note", getattr(embedder, "note", "")),
            ]
            if new:
                spec = opened.spec() or choose(setting, 0)
                values += [("model", embedder.model_id),
                           ("dimension", str(embedder.dimension)), ("generation", "0"),
                           ("created", now()), ("updated", now()), ("ann", setting),
                           ("ann_spec", json.dumps(spec.to_json()))]  # fmt: skip
            elif ann is not None:
                values.append(("ann", ann))
            if new or previous is None:  # a move is recorded by its commit
                values += [("store", config.kind), ("store_settings", config.settings())]
            conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values)
        if new:
            opened.commit()
        return opened, config, previous
    except BaseException:
        opened.close()
        raise


def write_index_manifest(path: Path, conn: sqlite3.Connection) -> None:
    values = meta(conn)
    config = recorded(values)  # what the database names, even while a move is pending
    ann: dict[str, object] = {"setting": values.get("ann", "auto")}
    vectors: dict[str, object] = {"store": config.to_json(), "hybrid": HYBRID}
    if config.kind == "faiss":
        spec = AnnSpec.from_json(json.loads(values["ann_spec"]))
        ann |= spec.to_json()
        vectors["faiss_index"] = spec.describe()
    else:
        ann["index"] = config.dense_index
    write_manifest(
        path,
        {
            "format_version": FORMAT_VERSION,
            "paraseek_version": __version__,
            "model": values["model"],
            "dimension": int(values["dimension"]),
            "embedding": {
                "precision": values.get("precision", "fp32"),
                "runtime": values.get("runtime", rows.REFERENCE_RUNTIME),
                "note": values.get("runtime_note", ""),
            },
            "ann": ann,
            **vectors,
            "generation": int(values["generation"]),
            **rows.counts(conn),
            "created": values["created"],
            "updated": values["updated"],
        },
    )


class Estimate:
    """Reports progress in passages; the total is estimated from the share of input read."""

    def __init__(self, progress: Progress | None, sizes: dict[str, int], size: int) -> None:
        self.progress = progress
        self.sizes = sizes
        self.size = max(size, 1)
        if progress:
            progress(0, 0)
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


KEEP_BYTES = 32 * 2**20
"""What the kept splits may hold: about 120 bytes a passage plus its context's characters, so
some 250,000 passages of a typical corpus. Documents past that are split again in pass 2."""
_PASSAGE_BYTES = 120


class Splits:
    """A splitter that keeps what it returns, up to `keep` bytes, and hands it out once more:
    pass 2 takes pass 1's split (splitting is a tenth of indexing's time with int8)."""

    def __init__(self, split: Splitter, keep: int = KEEP_BYTES) -> None:
        self._split = split
        self._keep = keep
        self._held = 0
        self._kept: dict[tuple[str, str, int], tuple[int, list[tuple[int, int, str]]]] = {}

    def __call__(
        self, document: Document, token_spans: TokenSpans, max_tokens: int
    ) -> list[Passage]:
        key = (document.path, document.content_hash, max_tokens)
        kept = self._kept.pop(key, None)
        if kept is not None:
            size, spans = kept
            self._held -= size
            return [
                Passage(document.id, i, start, end, document.text[start:end], context)
                for i, (start, end, context) in enumerate(spans)
            ]
        passages = self._split(document, token_spans, max_tokens)
        size = sum(_PASSAGE_BYTES + len(p.context) for p in passages)
        if self._held + size <= self._keep:
            self._kept[key] = (size, [(p.start, p.end, p.context) for p in passages])
            self._held += size
        return passages
