"""Documents and passages as rows of the index database: plain reads inside a caller's snapshot."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from ..corpus import Passage, speaker

_BATCH = 500  # ids per statement, well under SQLite's limit on variables
_COLUMNS = ("id", "document_id", "ordinal", "start", '"end"', "text", "context")  # of a Passage
_PASSAGE = f"SELECT {', '.join(_COLUMNS)} FROM passages"
_DOCUMENT = "SELECT id, path, title, date, content_hash, passages, indexed_at FROM documents"


@dataclass(frozen=True)
class DocumentInfo:
    """A document as stored in the index (without its text)."""

    id: str
    path: str
    title: str
    date: str | None
    content_hash: str
    passages: int
    indexed_at: str


def passages(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, Passage]:
    """The passages with these ids, by id; ids not in the database are absent."""
    out: dict[int, Passage] = {}
    for chunk in _chunks([int(i) for i in ids]):
        rows = conn.execute(f"{_PASSAGE} WHERE id IN ({_marks(chunk)})", chunk).fetchall()
        out.update((int(r[0]), _passage(r)) for r in rows)
    return out


def present(conn: sqlite3.Connection, ids: Sequence[int]) -> set[int]:
    """Which of these passage ids the database holds."""
    out: set[int] = set()
    for chunk in _chunks([int(i) for i in ids]):
        rows = conn.execute(f"SELECT id FROM passages WHERE id IN ({_marks(chunk)})", chunk)
        out.update(int(r[0]) for r in rows)
    return out


def document_passages(conn: sqlite3.Connection, document_id: str) -> list[Passage]:
    """All passages of one document, in order."""
    rows = conn.execute(f"{_PASSAGE} WHERE document_id = ? ORDER BY ordinal", (document_id,))
    return [_passage(r) for r in rows]


def following(conn: sqlite3.Connection, passages: Sequence[Passage]) -> dict[int, Passage]:
    """The passage after each of `passages` in its document, by the given passage's id.

    A document's last passage has none, and is absent.
    """
    out: dict[int, Passage] = {}
    columns = ", ".join(f"n.{c}" for c in _COLUMNS)
    for chunk in _chunks([int(p.id or 0) for p in passages]):
        rows = conn.execute(
            f"SELECT p.id, {columns} FROM passages p JOIN passages n ON n.document_id = "
            f"p.document_id AND n.ordinal = p.ordinal + 1 WHERE p.id IN ({_marks(chunk)})",
            chunk,
        )
        out.update((int(r[0]), _passage(r[1:])) for r in rows)
    return out


def passage_ids(conn: sqlite3.Connection, document_ids: Sequence[str]) -> list[int]:
    """Ids of every passage of these documents."""
    out: list[int] = []
    for chunk in _chunks(list(document_ids)):
        rows = conn.execute(
            f"SELECT id FROM passages WHERE document_id IN ({_marks(chunk)})", chunk
        )
        out.extend(int(r[0]) for r in rows)
    return out


def comment_ids(conn: sqlite3.Connection) -> set[int]:
    """Ids of the passages someone other than the author says (corpus.speaker): comments."""
    rows = conn.execute(  # the keyword index finds the candidates: contexts with "said"
        "SELECT rowid, context FROM passages_fts WHERE passages_fts MATCH 'context : said'"
    )
    return {int(r[0]) for r in rows if speaker(r[1])}


def first_passage_ids(conn: sqlite3.Connection) -> list[int]:
    """Ids of the first passage (ordinal 0) of every document."""
    return [int(r[0]) for r in conn.execute("SELECT id FROM passages WHERE ordinal = 0")]


def documents(conn: sqlite3.Connection) -> list[DocumentInfo]:
    """Every document, ordered by title, then path."""
    return [DocumentInfo(*r) for r in conn.execute(f"{_DOCUMENT} ORDER BY title, path")]


def document_infos(
    conn: sqlite3.Connection, document_ids: Sequence[str]
) -> dict[str, DocumentInfo]:
    """The documents with these ids, by id; ids not in the database are absent."""
    out: dict[str, DocumentInfo] = {}
    for chunk in _chunks(list(document_ids)):
        rows = conn.execute(f"{_DOCUMENT} WHERE id IN ({_marks(chunk)})", chunk)
        out.update((r[0], DocumentInfo(*r)) for r in rows)
    return out


def document_text(conn: sqlite3.Connection, document_id: str) -> str | None:
    """The full extracted text of a document; None if there is no such document."""
    row = conn.execute("SELECT text FROM documents WHERE id = ?", (document_id,)).fetchone()
    return None if row is None else str(row[0])


def _passage(row: tuple) -> Passage:  # type: ignore[type-arg]
    return Passage(row[1], row[2], row[3], row[4], row[5], row[6], id=row[0])


def _chunks(items: list) -> list[list]:  # type: ignore[type-arg]
    return [items[begin : begin + _BATCH] for begin in range(0, len(items), _BATCH)]


def _marks(chunk: Sequence[object]) -> str:
    return ",".join("?" * len(chunk))
