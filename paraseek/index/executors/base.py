"""What every executor gets and gives: the job of pass 1, progress, and the cache commit."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ...embedder import Embedder
from .. import cache
from ..folder import transaction
from ..splits import Splitter

if TYPE_CHECKING:
    from ..write import UpdateReport

Log = Callable[[str], None]
Progress = Callable[[int, int], None]
"""Called as (passages done, passages expected); the second is an estimate until the end."""


class Estimate:
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


@dataclass
class Job:
    """Pass 1 of one `Writer.update`, as the writer hands it to an executor.

    Attributes:
        files: the supported files under the sources, resolved, in `find_files` order.
        known: resolved path -> content hash of every document in the index now.
        sizes: resolved path -> file size in bytes (0 if unknown), for the progress estimate.
        conn: the index database, whose `embeddings` table is the embedding cache.
        key: the cache's key for `embedder`'s vectors (`cache.model_key`).
        embedder: the model the index is built with.
        report: filled in: added, changed, unchanged, skipped, embedded, reused.
        estimate: advanced as documents are done.
        log: one line per event worth telling (a skipped file, where Ray runs).
        split: splits a document into passages, for executors that split in this process
            (`splits.Splits`: pass 2 reuses what it returned).
    """

    files: list[Path]
    known: dict[str, str]
    sizes: dict[str, int]
    conn: sqlite3.Connection
    key: str
    embedder: Embedder
    report: UpdateReport
    estimate: Estimate
    log: Log
    split: Splitter


class Executor(Protocol):
    """Runs pass 1: reads and splits `job.files`, embeds the texts the cache lacks."""

    name: str  # "local" or "ray"

    def run(self, job: Job) -> list[str]:
        """Do pass 1 and fill `job.report`; every new vector is committed to the cache.

        Returns:
            The paths of the added and changed documents, in `job.files` order: pass 2
            reads, splits and inserts them.
        """
        ...


def commit(conn: sqlite3.Connection, key: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
    """Store vectors (shape (len(hashes), dimension), float32) in the cache and commit at once,
    so a run killed later keeps them and the next run does not embed them again."""
    with transaction(conn):
        cache.store(conn, key, hashes, vectors)
