"""Pass 1 of an update, here or on Ray: read and split the files, embed what the cache lacks.

An executor gets a `Job` from `Writer.update` and yields a `FileStatus` for every file and
`Embedded` batches of new vectors; the writer alone keeps the database and the report. `local`
works in this process; `ray` (`paraseek.scale.ray`) is imported only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..corpus import Document, Passage, Skipped, TokenSpans, read_files
from ..embedder import Embedder
from ..errors import InvalidArgumentError
from ..settings import choose
from . import sentence_vectors
from .rows import text_hash

EXECUTORS = ("local", "ray")
EMBED_BATCH = 256  # texts embedded and committed to the cache together

Log = Callable[[str], None]
Progress = Callable[[int, int], None]
"""Called as (passages done, passages expected); the second is an estimate until the end."""
Splitter = Callable[[Document, TokenSpans, int], list[Passage]]


@dataclass(frozen=True)
class Job:
    """Pass 1 of one `Writer.update`. `known` and `sizes` are by resolved path: the indexed
    content hash and the file size; `lacking` filters text hashes down to those the cache
    lacks; `split` is the writer's `Splits`, whose results pass 2 reuses."""

    files: list[Path]
    known: dict[str, str]
    sizes: dict[str, int]
    embedder: Embedder
    lacking: Callable[[list[str]], list[str]]
    cached: Callable[[], Iterable[str]]
    split: Splitter
    log: Log


@dataclass(frozen=True)
class FileStatus:
    """What pass 1 found of one file: "added", "changed", "unchanged" or "skipped"."""

    path: str
    status: str
    reason: str = ""
    content_hash: str = ""  # of an added or changed document as read, where known


@dataclass(frozen=True)
class Embedded:
    """A batch of vectors for the cache: float32 (n, dimension) for n text hashes; `reused`
    texts the cache held already; the `passages` and input `size` of the documents it finishes;
    `sentences`: text hash -> sentence vectors (`sentence_vectors.encode`) of those with two or
    more."""

    hashes: list[str]
    vectors: np.ndarray
    reused: int
    passages: int
    size: int
    sentences: dict[str, bytes] = field(default_factory=dict)


Event = FileStatus | Embedded


class Executor(Protocol):
    """Runs pass 1: reads and splits `job.files`, embeds the texts the cache lacks."""

    name: str  # "local" or "ray"

    def run(self, job: Job) -> Iterator[Event]: ...


def executor_for(
    name: str | None = None, ray_address: str | None = None, ray_workers: int | None = None
) -> Executor:
    """The executor `name` (else $PARASEEK_EXECUTOR, else local), checked before any model
    loads.

    Raises:
        InvalidArgumentError, ExecutorUnavailableError, RayConnectionError.
    """
    value = choose("executor", name, EXECUTORS)
    if value == "local":
        if ray_address or ray_workers is not None:
            raise InvalidArgumentError(
                "--ray-address and --ray-workers need --executor ray (or PARASEEK_EXECUTOR=ray)."
            )
        return LocalExecutor()
    from ..scale.ray import RayExecutor

    return RayExecutor(ray_address, ray_workers)


class LocalExecutor:
    """Reads, splits and embeds in this process; memory is bounded by one batch of texts."""

    name = "local"

    def run(self, job: Job) -> Iterator[Event]:
        batches = Batches(job.embedder, job.lacking)
        for item in read_files(job.files):  # one gone since it was found is skipped
            if isinstance(item, Skipped):
                yield FileStatus(item.path, "skipped", item.reason)
            elif job.known.get(item.path) == item.content_hash:
                yield FileStatus(item.path, "unchanged")
            else:
                status = "changed" if item.path in job.known else "added"
                yield FileStatus(item.path, status, content_hash=item.content_hash)
                embedder = job.embedder
                passages = job.split(item, embedder.token_spans, embedder.max_tokens)
                yield from batches.add(passages, job.sizes.get(item.path, 0))
        yield from batches.finish()


class Batches:
    """Collects passages' texts and embeds those the cache lacks, `EMBED_BATCH` at a time."""

    def __init__(self, embedder: Embedder, lacking: Callable[[list[str]], list[str]]) -> None:
        self.embedder = embedder
        self.lacking = lacking
        self.texts: dict[str, str] = {}  # text hash -> embedded text, this batch
        self.spans: dict[str, list[tuple[int, int]]] = {}  # its sentences (sentence_vectors)
        self.passages = 0
        self.size = 0

    def add(self, passages: list[Passage], size: int) -> Iterator[Embedded]:
        for p in passages:
            digest = text_hash(p.embedded_text)
            if digest not in self.texts:
                self.texts[digest] = p.embedded_text
                self.spans[digest] = sentence_vectors.spans(p.context, p.text)
        self.passages += len(passages)
        self.size += size
        if len(self.texts) >= EMBED_BATCH:
            yield self.flush()

    def flush(self) -> Embedded:
        hashes = list(self.texts)
        missing = self.lacking(hashes)
        vectors = np.zeros((0, self.embedder.dimension), np.float32)
        sentences: dict[str, bytes] = {}
        if missing:  # sentences pooled out of the passages' own forward pass
            vectors, pooled = self.embedder.embed_passages(
                [self.texts[h] for h in missing], [self.spans[h] for h in missing]
            )
            sentences = {
                h: sentence_vectors.encode(m)
                for h, m in zip(missing, pooled, strict=True)
                if len(m)
            }
        batch = Embedded(
            missing, vectors, len(hashes) - len(missing), self.passages, self.size, sentences
        )
        self.texts, self.spans, self.passages, self.size = {}, {}, 0, 0
        return batch

    def finish(self) -> Iterator[Embedded]:
        if self.texts or self.passages:
            yield self.flush()
