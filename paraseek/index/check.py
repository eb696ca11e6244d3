"""`paraseek check`: verify that an index's manifest, SQLite database, postings and vectors agree.

Read-only. Every finding is one line that names what is wrong, the file, and the fix; the
index is healthy when no finding is an error (warnings describe leftovers of an interrupted
write that the next `paraseek index` cleans up, and that never change an answer).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IndexFormatError, IndexNotFoundError, ParaseekError
from . import keyword, sentence_vectors
from .ann import Vectors
from .database import DATABASE, FORMAT_VERSION, MANIFEST, connect, meta, read_manifest
from .repair import scan
from .rows import dimension_of, index_key, sample
from .stores import StoreConfig, VectorStore, committed, open_store, recorded, vectors_file

SAMPLE = 256  # passages whose indexed vector is compared with the exact (cached) one
MIN_COSINE = {"fp32": 0.9999, "fp16": 0.999, "sq8": 0.98}  # by codec; PQ codes are looser
MIN_COSINE_PQ = 0.8


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
                generation = _generation(conn)
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


def _generation(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])


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
    documents, passages = (conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                           for t in ("documents", "passages"))  # fmt: skip
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
    found = keyword.problems(conn)
    if found:
        yield Finding("error", "postings", f"the BM25 postings in '{database}' differ from the "
                      f"passages: {found[0]}; re-index.")  # fmt: skip
        return
    yield Finding("ok", "postings", "BM25 postings match the passages")


def _vectors(conn: sqlite3.Connection, path: Path, generation: int) -> Iterator[Finding]:
    config = recorded(meta(conn))
    if config.kind != "faiss":
        yield from _store(conn, path, generation, config)
        return
    file = vectors_file(path, generation)
    try:
        vectors = Vectors.load(file)
    except IndexFormatError as exc:
        yield Finding("error", "vectors", str(exc))
        return
    ids = np.array([r[0] for r in conn.execute("SELECT id FROM passages ORDER BY id")], np.int64)
    live = vectors.live_ids()
    if len(live) != len(ids) or not np.array_equal(live, ids):
        extra, lacking = np.setdiff1d(live, ids).size, np.setdiff1d(ids, live).size
        yield Finding(
            "error", "vectors", f"'{file}' has {lacking} passages missing and {extra} unknown "
            f"ids; `paraseek repair --index {path}` rebuilds it."
        )  # fmt: skip
        return
    yield Finding("ok", "vectors", f"{file.name}: {vectors.spec.describe()}, {len(ids)} vectors")
    yield from _agreement(conn, vectors, file)


def _store(
    conn: sqlite3.Connection, path: Path, generation: int, config: StoreConfig
) -> Iterator[Finding]:
    """A store other than the index folder's files (Milvus) holds one row per passage (plus
    removed ones awaiting deletion), and a sample of passages finds its own row with its own
    vector."""
    dimension = int(conn.execute("SELECT value FROM meta WHERE key='dimension'").fetchone()[0])
    version = committed(conn, generation)
    passages = version.passages
    retired = conn.execute("SELECT count(*) FROM retired").fetchone()[0]
    where = f"collection {config.collection} at {config.uri}"
    try:
        store = open_store(path, dimension, config)
    except ParaseekError as exc:
        yield Finding("error", "vectors", f"cannot open the Milvus {where}: {exc}")
        return
    try:
        store.refresh(version)
        count = store.count
        if count < passages or count > passages + retired:
            yield Finding(
                "error", "vectors", f"the Milvus {where} holds {count} vectors for {passages} "
                f"passages; run `paraseek index` on the index again to resend them."
            )  # fmt: skip
            return
        if retired:
            yield Finding(
                "warning", "vectors", f"{retired} removed passages wait to be deleted from the "
                "Milvus collection (a write was stopped after its commit); searches skip them "
                "and the next `paraseek index` deletes them."
            )  # fmt: skip
        yield Finding("ok", "vectors", f"{store.describe()}, {passages} vectors")
        yield from _found_by_search(conn, store, where)
    finally:
        store.close()


def _found_by_search(conn: sqlite3.Connection, store: VectorStore, where: str) -> Iterator[Finding]:
    """Each sampled passage's exact vector finds that passage (or one of the same text)."""
    ids, hashes, queries = sample(conn, index_key(conn), SAMPLE)
    if not len(ids):
        return
    scores, found = store.search(queries, 1, allow=ids)
    by_id = dict(zip(ids.tolist(), hashes, strict=True))
    wrong = [
        i for i, f, s in zip(ids.tolist(), found[:, 0].tolist(), scores[:, 0], strict=True)
        if by_id.get(f) != by_id[i] or s < MIN_COSINE_PQ
    ]  # fmt: skip
    if wrong:
        yield Finding(
            "error", "vectors", f"the Milvus {where} does not return passage {wrong[0]} for its "
            f"own vector ({len(wrong)} of {len(ids)} sampled); re-index into a new folder."
        )  # fmt: skip
    else:
        yield Finding("ok", "vectors", f"{len(ids)} sampled passages found by their own vectors")


def _agreement(conn: sqlite3.Connection, vectors: Vectors, file: Path) -> Iterator[Finding]:
    """The indexed vectors of a sample of passages against their exact cached vectors."""
    wanted, _, cached = sample(conn, index_key(conn), SAMPLE)
    if not len(wanted):
        return
    stored = vectors.vectors(wanted)
    cosine = (stored * cached).sum(axis=1) / np.maximum(
        np.linalg.norm(stored, axis=1) * np.linalg.norm(cached, axis=1), 1e-12
    )
    floor = MIN_COSINE_PQ if vectors.spec.pq else MIN_COSINE.get(vectors.spec.codec, 0.98)
    worst = float(cosine.min())
    if worst < floor:
        bad = int(wanted[int(cosine.argmin())])
        yield Finding(
            "error", "vectors", f"'{file}' holds a vector for passage {bad} that does not match "
            f"its text (cosine {worst:.3f} < {floor}); `paraseek repair --index {file.parent}` "
            "rebuilds it."
        )  # fmt: skip
    else:
        yield Finding("ok", "vectors", f"{len(wanted)} sampled vectors match their passages "
                      f"(cosine >= {worst:.4f})")  # fmt: skip


def _damage(conn: sqlite3.Connection, path: Path) -> Iterator[Finding]:
    """What `repair.scan` finds: passages without their document, documents whose passages
    were edited or lost, cached vectors missing or failing their checksum."""
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


def _files(path: Path, generation: int) -> Iterator[Finding]:
    """Files a stopped write left behind: temporary files and vectors of other generations."""
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
