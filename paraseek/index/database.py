"""The index folder's files: the SQLite database (schema, connections, transactions) and
manifest.json, written from the database's meta rows after every commit."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ..errors import IndexFormatError, IndexNotFoundError, ModelMismatchError

FORMAT_VERSION = 5
MANIFEST = "manifest.json"
DATABASE = "paraseek.db"
PAGE_BYTES = 16384
MMAP_BYTES = 1 << 30  # address space, not memory: the OS pages in what is read

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    date TEXT,
    content_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    passages INTEGER NOT NULL,
    indexed_at TEXT NOT NULL,
    splitting INTEGER NOT NULL,  -- corpus.SPLITTING when it was split
    author TEXT  -- Document.author
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id TEXT NOT NULL REFERENCES documents(id),
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    context TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    UNIQUE (document_id, ordinal)
);
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, text_hash)
) WITHOUT ROWID;
-- each passage's sentence vectors, int8 (see sentence_vectors.py)
CREATE TABLE IF NOT EXISTS sentence_vectors (
    model TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vectors BLOB NOT NULL,
    PRIMARY KEY (model, text_hash)
) WITHOUT ROWID;
-- the passages' words and their 4-bit vectors, in blocks; block 0 the axes (paraseek/words.py)
CREATE TABLE IF NOT EXISTS word_blocks (block INTEGER PRIMARY KEY, words TEXT, vectors BLOB);
-- passage ids a commit removed, until the vector store has deleted them too (Milvus)
CREATE TABLE IF NOT EXISTS retired (id INTEGER PRIMARY KEY);
-- BM25 (see keyword.py): each passage's token count, and each term's postings by segment
CREATE TABLE IF NOT EXISTS keyword_lengths (id INTEGER PRIMARY KEY, tokens INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS keyword_postings (
    term TEXT NOT NULL,
    segment INTEGER NOT NULL,
    ids BLOB NOT NULL,
    weights BLOB NOT NULL,
    PRIMARY KEY (term, segment)
);
"""


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def connect(database: Path, mapped: bool = False, reader: bool = False) -> sqlite3.Connection:
    """An SQLite connection in autocommit mode (transactions are explicit), WAL journal;
    `mapped`: memory-mapped reads; `reader`: a read-only folder is read as it is."""
    conn = sqlite3.connect(database, isolation_level=None, check_same_thread=False, timeout=30)
    try:
        # Decided when the database is created (and ignored after): with 16 KB pages a cached
        # vector (1.5 KB for 384-d) fits in its B-tree page instead of spilling to an overflow
        # page; at 100k passages the database is 40% smaller and hybrid search 1 ms faster.
        conn.execute(f"PRAGMA page_size={PAGE_BYTES}")
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if not (reader and _read_only(database, exc)):
            raise
        conn.close()
        conn = sqlite3.connect(
            f"{database.absolute().as_uri()}?mode=ro&immutable=1", uri=True,
            isolation_level=None, check_same_thread=False,
        )  # fmt: skip
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    if mapped:
        conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    return conn


def _read_only(database: Path, exc: sqlite3.OperationalError) -> bool:
    """Whether `exc` comes from a WAL database in a folder this process cannot write, with no
    log to replay: SQLite cannot create its -shm file there, but the database file alone is
    then the committed state, and can be read as immutable."""
    if not str(getattr(exc, "sqlite_errorname", "")).startswith(
        ("SQLITE_READONLY", "SQLITE_CANTOPEN")
    ):
        return False
    if os.access(database.parent, os.W_OK):
        return False
    wal = database.with_name(database.name + "-wal")
    return not wal.exists() or wal.stat().st_size == 0


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE; committed on success, rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def read_manifest(path: Path) -> dict[str, object]:
    """The manifest of the index at `path`; IndexNotFoundError, or IndexFormatError for an
    unreadable one or one of another format version."""
    manifest_path = path / MANIFEST
    if not path.is_dir() or not manifest_path.exists():
        raise IndexNotFoundError(
            f"No index at '{path}'; build one with: paraseek index PATH --index {path}"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        version = manifest["format_version"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexFormatError(
            f"Index manifest '{manifest_path}' is unreadable ({type(exc).__name__}); "
            "delete the folder and re-index."
        ) from exc
    if version != FORMAT_VERSION:
        raise IndexFormatError(
            f"Index '{path}' has format version {version}, this paraseek reads version "
            f"{FORMAT_VERSION}; re-index with: paraseek index PATH --index NEW_FOLDER "
            "(a new folder, or this one once deleted)."
        )
    return manifest


def check_format(path: Path) -> None:
    """Before writing: refuse an index of another format version (an unreadable manifest is
    not refused: the writer replaces it)."""
    if not (path / MANIFEST).exists():
        return
    try:
        read_manifest(path)
    except IndexFormatError as exc:
        if exc.__cause__ is None:
            raise


def write_manifest(path: Path, manifest: dict[str, object]) -> None:
    tmp = path / (MANIFEST + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path / MANIFEST)


def check_model(path: Path, manifest: dict[str, object], model: str | None) -> None:
    if model is not None and model != manifest["model"]:
        raise ModelMismatchError(
            f"Index '{path}' was built with {manifest['model']} ({manifest['dimension']}-d) "
            f"but the embedder is {model}; search it without --model (or with --model "
            f"{manifest['model']}), or rebuild it into a new --index with --model {model}."
        )


def generation(conn: sqlite3.Connection, database: Path) -> int:
    """The committed generation; IndexFormatError if it is missing or not a number."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    if row is None or not str(row[0]).isdigit():
        shown = "missing" if row is None else f"{row[0]!r}, not a number"
        raise IndexFormatError(
            f"Index database '{database}' is damaged (its generation is {shown}); delete the "
            "index folder and re-index."
        )
    return int(row[0])


def last_passage_id(conn: sqlite3.Connection) -> int:
    """The largest passage id ever committed (deleted ones count), 0 if none."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'passages'").fetchone()
    return int(row[0]) if row else 0
