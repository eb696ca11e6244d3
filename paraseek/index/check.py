"""`paraseek check`: verify that an index's manifest, SQLite database, postings and vectors agree.

Read-only. Each finding names what is wrong, the file, and the fix; the index is healthy when
none is an error (warnings are leftovers of an interrupted write, which never change an answer).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import words
from ..corpus import embedded_text
from ..errors import IndexFormatError, IndexNotFoundError, ParaseekError
from . import keyword, sentence_vectors
from .database import DATABASE, FORMAT_VERSION, MANIFEST, connect, meta, read_manifest
from .database import generation as read_generation
from .repair import scan
from .rows import counts, dimension_of, index_key, text_hash
from .stores import committed, open_store, recorded, vectors_file


@dataclass(frozen=True)
class Finding:
    """One result of a check: `level` is "ok", "warning" or "error"."""

    level: str
    part: str  # manifest, database, postings, vectors, cache, files
    message: str


def check(path: str | Path) -> list[Finding]:
    """Check the index at `path`; see the module docstring. Never raises for a damaged index."""
    path = Path(path)
    try:
        manifest = read_manifest(path)
    except (IndexNotFoundError, IndexFormatError) as exc:
        return [Finding("error", "manifest", str(exc))]
    findings = [Finding("ok", "manifest", f"{path / MANIFEST}: format {FORMAT_VERSION}")]
    database = path / DATABASE
    if not database.exists():
        return [*findings, Finding("error", "database", f"'{database}' is missing; re-index.")]
    generation = int(manifest.get("generation", 0))  # type: ignore[call-overload]
    try:
        conn = connect(database, reader=True)
        try:
            conn.execute("BEGIN")  # one snapshot for every read below
            findings.extend(_database(conn, database, manifest))
            if not any(f.level == "error" for f in findings):
                generation = read_generation(conn, database)
                findings.extend(_postings(conn, database))
                findings.extend(_vectors(conn, path, generation))
                findings.extend(_damage(conn, path))
            conn.execute("COMMIT")
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        findings.append(Finding("error", "database", _damaged(database, exc)))
    findings.extend(_files(path, generation))
    return findings


def _damaged(database: Path, exc: Exception) -> str:
    detail = " ".join(str(exc).split())[:200]  # SQLite's reports span lines
    return f"'{database}' is damaged ({detail}); delete the index folder and re-index."


def _database(
    conn: sqlite3.Connection, database: Path, manifest: dict[str, object]
) -> Iterator[Finding]:
    problems = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall() if r[0] != "ok"]
    if problems:
        yield Finding("error", "database", _damaged(database, ValueError(problems[0])))
        return
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    missing = [k for k in ("model", "dimension", "generation", "ann_spec") if k not in meta]
    if missing:
        yield Finding(
            "error", "database", f"'{database}' lacks {', '.join(missing)} in its meta table "
            "(a first index run was stopped before its first commit); re-index."
        )  # fmt: skip
        return
    for key in ("generation", "dimension"):
        if not str(meta[key]).isdigit():
            yield Finding(
                "error", "database", f"'{database}' is damaged (meta {key} {meta[key]!r} is not "
                "a number); delete the index folder and re-index."
            )  # fmt: skip
            return
    if (meta["model"], int(meta["dimension"])) != (manifest["model"], manifest["dimension"]):
        yield Finding(
            "error", "database", f"'{database}' holds {meta['model']} ({meta['dimension']}-d) "
            f"vectors but the manifest says {manifest['model']} ({manifest['dimension']}-d); "
            "re-index into a new folder."
        )  # fmt: skip
    documents, passages = counts(conn).values()
    yield Finding("ok", "database", f"{documents} documents, {passages} passages, generation "
                  f"{meta['generation']}")  # fmt: skip
    behind = {
        key: (manifest.get(key), value)
        for key, value in (
            ("generation", int(meta["generation"])),
            ("documents", documents),
            ("passages", passages),
        )
        if manifest.get(key) != value
    }
    if behind:
        detail = ", ".join(f"{k} {a} vs {b}" for k, (a, b) in behind.items())
        yield Finding(
            "warning", "manifest", f"manifest.json is behind the database ({detail}): a write "
            "was stopped after its commit; searches are unaffected and the next "
            "`paraseek index` rewrites it."
        )  # fmt: skip


def _postings(conn: sqlite3.Connection, database: Path) -> Iterator[Finding]:
    found = keyword.problems(conn, hashed=lambda c, t: text_hash(embedded_text(c, t)))
    if found:
        yield Finding("error", "postings", f"the BM25 postings in '{database}' differ from the "
                      f"passages: {found[0]}; re-index.")  # fmt: skip
        return
    yield Finding("ok", "postings", "BM25 postings match the passages")


def _vectors(conn: sqlite3.Connection, path: Path, generation: int) -> Iterator[Finding]:
    config = recorded(meta(conn))
    try:
        store = open_store(path, dimension_of(conn), config)
    except ParaseekError as exc:
        yield Finding("error", "vectors", f"cannot open the {config.kind} store: {exc}")
        return
    try:
        for level, message in store.verify(conn, committed(conn, generation)):
            yield Finding(level, "vectors", message)
    finally:
        store.close()


def _damage(conn: sqlite3.Connection, path: Path) -> Iterator[Finding]:
    damage = scan(conn, index_key(conn))
    database, fix = path / DATABASE, f"`paraseek repair --index {path}`"
    if damage.orphans or damage.miscounted:
        yield Finding(
            "error", "database", f"'{database}' has {sum(damage.orphans.values())} passages "
            f"without a document and {len(damage.miscounted)} documents whose passage count is "
            f"wrong; {fix} deletes the first (give it the folders you index, PATH..., to add "
            "their documents back) and splits the second again from their files."
        )  # fmt: skip
    if damage.edited:
        yield Finding(
            "error", "passages", f"{len(damage.edited)} documents in '{database}' have passages "
            f"whose text was changed in the database (it no longer matches its hash); {fix} "
            "splits them again from their files."
        )  # fmt: skip
    if damage.failing:
        yield Finding(
            "error", "cache", f"{damage.failing} cached vectors in '{database}' fail their "
            f"checksum; {fix} embeds them again."
        )  # fmt: skip
    if damage.lacking:
        yield Finding(
            "error", "cache", f"{damage.lacking} passages in '{database}' have no cached vector "
            f"(similar passages and compare need it); {fix} embeds them again."
        )  # fmt: skip
    if not (damage.edited or damage.lacking or damage.failing):
        yield Finding(
            "ok", "cache", "every passage has its cached vector, each passing its checksum"
        )
    broken = sentence_vectors.failing(conn, index_key(conn), dimension_of(conn))
    if broken:
        yield Finding(
            "error", "cache", f"the sentence vectors of {len(broken)} passages in '{database}' "
            f"fail their checksum; {fix} pools them again."
        )  # fmt: skip
    if bad := words.failing(conn):
        yield Finding(
            "error", "cache", f"{len(bad)} blocks of word vectors in '{database}' fail their "
            f"checksum (their words count as written only); {fix} embeds them again."
        )  # fmt: skip


def _files(path: Path, generation: int) -> Iterator[Finding]:
    keep = {vectors_file(path, generation).name, vectors_file(path, generation - 1).name}
    leftovers = sorted(
        p.name
        for p in path.iterdir()
        if p.name.endswith(".tmp") or (p.name.startswith("vectors.") and p.name not in keep)
    )
    if leftovers:
        yield Finding(
            "warning", "files", f"{len(leftovers)} files left by a stopped write "
            f"({', '.join(leftovers[:3])}); the next `paraseek index` removes them."
        )  # fmt: skip
