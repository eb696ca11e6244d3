"""The Ray workers' side of the Ray executor: the actor that reads, splits and embeds.

Imported by every Ray worker of the pool (and by the driver, which names the class); ray
itself is imported only inside the actor.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..corpus import UnreadableFile, read_document, split_document
from ..embedder import Embedder
from ..errors import ParaseekError, RayWorkerMismatchError
from ..index import sentence_vectors
from ..index.rows import text_hash


class EmbedActor:
    """One Ray actor: loads the embedder once, then reads, splits and embeds groups of files.

    A failure that is the user's to fix (the model does not load here, another runtime, a file
    this node cannot see) comes back as an "error" row, so the driver raises it as the
    ParaseekError it is, with its one-line message, rather than as a Ray traceback.
    """

    def __init__(
        self, model: str, precision: str, batch_size: int, runtime: str, dimension: int,
        cached: list[Any],
    ) -> None:  # fmt: skip
        """Load the model as the driver's `Embedder` was loaded.

        Args:
            cached: [object ref of `_cached`'s array], put once in Ray's object store.
        """
        import ray

        self.cached: np.ndarray = ray.get(cached[0])
        self.dimension = dimension
        self.node = ray.util.get_node_ip_address()
        self.failure: tuple[str, str] | None = None  # (error class name, message)
        self.embedder: Embedder | None = None
        try:
            # On the CPU, as the driver's embedder is for a Ray run (see cli run_index).
            self.embedder = Embedder(
                model, batch_size=batch_size, precision=precision, device="cpu"
            )
        except ParaseekError as exc:
            self.failure = (type(exc).__name__, str(exc))
            return
        if self.embedder.runtime != runtime:  # its vectors would go under the wrong cache key
            note = f" ({self.embedder.note})" if self.embedder.note else ""
            self.failure = (
                RayWorkerMismatchError.__name__,
                f"The Ray worker on {self.node} embeds with {self.embedder.runtime}{note} but "
                f"this machine with {runtime}; install the same paraseek[scale] on every node "
                "and share PARASEEK_CACHE, or index with --precision fp32.",
            )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Columns of `_Rows` for the groups in `batch["group"]` (JSON [[path, known hash]])."""
        rows = _Rows(self.dimension)
        if self.failure or self.embedder is None:
            name, message = self.failure or ("RayExecutionError", "the worker has no model")
            rows.add("error", name, note=message)
            return rows.columns()
        # text hash -> (embedded text, its sentences' spans), of this call
        texts: dict[str, tuple[str, list[tuple[int, int]]]] = {}
        for group in batch["group"]:
            for path, known in json.loads(str(group)):
                self._file(path, known, texts, rows)
        if texts:  # sentences pooled out of the passages' own forward pass, as locally
            hashes = list(texts)
            vectors, pooled = self.embedder.embed_passages(
                [texts[h][0] for h in hashes], [texts[h][1] for h in hashes]
            )
            rows.vectors(hashes, vectors, pooled)
        return rows.columns()

    def _file(
        self, path: str, known: str, texts: dict[str, tuple[str, list[tuple[int, int]]]],
        rows: _Rows,
    ) -> None:  # fmt: skip
        """Read and split one file into `rows`; its texts to embed go into `texts`."""
        assert self.embedder is not None
        if not os.path.exists(path):
            rows.add("file", "missing", path=path, note=self.node)
            return
        try:
            document = read_document(path)
        except UnreadableFile as exc:
            rows.add("file", "skipped", path=path, note=str(exc))
            return
        if document.content_hash == known:
            rows.add("file", "unchanged", path=path)
            return
        passages = split_document(document, self.embedder.token_spans, self.embedder.max_tokens)
        new = {text_hash(p.embedded_text): p for p in passages}
        new = {h: p for h, p in new.items() if h not in texts}
        found = _among(self.cached, np.array([int(h[:16], 16) for h in new], dtype=np.uint64))
        texts.update(
            (h, (p.embedded_text, sentence_vectors.spans(p.context, p.text)))
            for (h, p), hit in zip(new.items(), found, strict=True)
            if not hit
        )
        status = "changed" if known else "added"
        rows.add("file", status, path=path, passages=len(passages), reused=int(found.sum()),
                 hash=document.content_hash)  # fmt: skip


class _Rows:
    """The actor's output: a row per file, per new vector, or one error row, in shared columns.

    Columns: kind ("file", "vector" or "error"); status (file: added, changed, unchanged,
    skipped or missing; error: the ParaseekError class name); path; note (a skip reason, the
    node that misses a file, an error message); passages and reused (file rows); hash (an added
    or changed file's content hash as read; a vector row's text hash); vector (vector rows: a
    float32 (dimension,) vector, zeros elsewhere); sentences (a vector row of a text of two
    sentences or more: its sentence vectors as `sentence_vectors.encode` stores them; empty
    bytes elsewhere).
    """

    NAMES = ("kind", "status", "path", "note", "passages", "reused", "hash")

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.values: dict[str, list[Any]] = {name: [] for name in self.NAMES}
        self.blocks: list[tuple[int, np.ndarray]] = []  # (first row, vectors)
        self.sentences: list[bytes] = []  # a blob per row

    def add(
        self, kind: str, status: str, path: str = "", note: str = "", passages: int = 0,
        reused: int = 0, hash: str = "",
    ) -> None:  # fmt: skip
        for name, value in zip(
            self.NAMES, (kind, status, path, note, passages, reused, hash), strict=True
        ):
            self.values[name].append(value)
        self.sentences.append(b"")

    def vectors(self, hashes: list[str], matrix: np.ndarray, pooled: list[np.ndarray]) -> None:
        self.blocks.append((len(self.values["kind"]), matrix))
        for h, sentences in zip(hashes, pooled, strict=True):
            self.add("vector", "", hash=h)
            if len(sentences):
                self.sentences[-1] = sentence_vectors.encode(sentences)

    def columns(self) -> dict[str, np.ndarray]:
        out = {
            name: np.array(values, dtype=np.int64 if name in ("passages", "reused") else str)
            for name, values in self.values.items()
        }
        matrix = np.zeros((len(self.values["kind"]), self.dimension), dtype=np.float32)
        for first, block in self.blocks:
            matrix[first : first + len(block)] = block
        out["vector"] = matrix
        out["sentences"] = np.array(self.sentences, dtype=object)
        return out


def _among(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each of `values` is in `sorted_values` (both uint64): a bool array."""
    if not len(sorted_values):
        return np.zeros(len(values), dtype=bool)
    where = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return np.asarray(sorted_values[where] == values)
