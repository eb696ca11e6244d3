"""The local executor: pass 1 in this process, one document at a time, in batches of texts."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from ...corpus import Passage, Skipped, read_documents
from ...embedder import Embedder
from .. import cache
from .base import Estimate, Job, commit

if TYPE_CHECKING:
    from ..write import UpdateReport

EMBED_BATCH = 256  # texts embedded and committed to the cache together


class LocalExecutor:
    """Reads, splits and embeds in this process; memory is bounded by one batch of texts."""

    name = "local"

    def run(self, job: Job) -> list[str]:
        """See `Executor.run`."""
        report = job.report
        embed = Embedding(job.conn, job.key, job.embedder, report, job.estimate)
        changed: list[str] = []
        for item in read_documents(job.files):
            size = job.sizes.get(item.path, 0)
            if isinstance(item, Skipped):
                report.skipped.append(item)
                job.log(f"skipped {item.path}: {item.reason}")
                embed.estimate.skip(size)
            elif job.known.get(item.path) == item.content_hash:
                report.unchanged.append(item.path)
                embed.estimate.skip(size)
            else:
                (report.changed if item.path in job.known else report.added).append(item.path)
                changed.append(item.path)
                splitter = job.embedder
                embed.add(job.split(item, splitter.token_spans, splitter.max_tokens), size)
        embed.finish()
        return changed


class Embedding:
    """Embeds the texts the cache lacks, batch by batch, each batch committed.

    Also used by `Writer.add` for documents that do not come from files.
    """

    def __init__(
        self, conn: sqlite3.Connection, key: str, embedder: Embedder, report: UpdateReport,
        estimate: Estimate,
    ) -> None:  # fmt: skip
        self.conn = conn
        self.key = key
        self.embedder = embedder
        self.report = report
        self.estimate = estimate
        self.texts: dict[str, str] = {}  # text hash -> embedded text, this batch
        self.passages = 0
        self.size = 0
        if estimate.progress:
            estimate.progress(0, 0)

    def add(self, passages: list[Passage], size: int) -> None:
        for p in passages:
            self.texts.setdefault(cache.text_hash(p.embedded_text), p.embedded_text)
        self.passages += len(passages)
        self.size += size
        if len(self.texts) >= EMBED_BATCH:
            self.flush()

    def flush(self) -> None:
        hashes = list(self.texts)
        cached = cache.lookup(self.conn, self.key, hashes)
        missing = [h for h in hashes if h not in cached]
        if missing:
            vectors = self.embedder.embed_documents([self.texts[h] for h in missing])
            commit(self.conn, self.key, missing, vectors)  # a killed run keeps this batch
        self.report.embedded += len(missing)
        self.report.reused += len(hashes) - len(missing)
        self.estimate.advance(self.passages, self.size)
        self.texts, self.passages, self.size = {}, 0, 0

    def finish(self) -> None:
        if self.texts or self.passages:
            self.flush()
        self.estimate.finish()
