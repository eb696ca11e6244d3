"""Embedder: text -> unit vectors, with the precision asked for and the runtime that serves it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import DeviceUnavailableError
from .base import Encoder, embed_sorted, embed_with_sentences
from .models import (
    check_reachable,
    cuda_available,
    resolve_device,
    resolve_model,
    resolve_precision,
)

# Texts per batch on a GPU: it runs 4x as many passages per second at 256 as at 32 (an H100,
# all-MiniLM-L6-v2 in float16); the CPU's batch stays small (see openvino_runtime).
GPU_BATCH = 256
# The most recently used single queries and their vectors: a search, its explanation and its
# closest score (compare.closest_score) embed the query once. A query alone always gets the
# same vector, so a kept one is what embedding it again would give.
QUERY_MEMO = 256


class Embedder:
    """A sentence-transformers model that returns unit-normalised float32 rows.

    Attributes:
        model_id: the id recorded in indexes built with this embedder.
        dimension: length of each vector.
        max_tokens: tokens left for a passage's embedded text once special and prompt tokens
            are counted; passages are split to fit it, so nothing is truncated.
        batch_size: texts embedded per batch.
        precision: the precision asked for: "fp32" or "auto".
        device: where it runs: "cpu" or "cuda".
        runtime: what actually runs, e.g. "torch-fp32", "openvino-int8" or
            "torch-cuda-fp16".
        note: "" or one line saying why auto fell back to a slower runtime.
    """

    def __init__(
        self, model: str | None = None, batch_size: int = 32, precision: str | None = None,
        device: str | None = None,
    ) -> None:  # fmt: skip
        """Load `model` (see resolve_model) at `precision`.

        Args:
            model: a sentence-transformers model name or local folder; None means
                `$PARASEEK_MODEL`, else the bundled all-MiniLM-L6-v2.
            batch_size: texts embedded per batch.
            precision: "fp32" (plain sentence-transformers float32) or "auto" (the fastest
                runtime here whose vectors match fp32's, else fp32); None means
                `$PARASEEK_PRECISION`, else "auto".
            device: "cpu", "cuda" (a CUDA GPU; in float16 with precision auto if it passes
                the check) or "auto" (the GPU with precision auto where torch sees one, else
                the CPU); None means `$PARASEEK_DEVICE`, else "auto".

        Raises:
            InvalidArgumentError: `precision` or `device` is not valid.
            DeviceUnavailableError: device "cuda" where torch sees no CUDA GPU.
            ModelLoadError: the model cannot be loaded.
        """
        self.precision = resolve_precision(precision)
        asked = resolve_device(device)
        self.model_id, target = resolve_model(model)
        check_reachable(self.model_id, target)
        if asked == "cuda" and not cuda_available():
            raise DeviceUnavailableError(
                "Device cuda was asked for, but torch sees no CUDA GPU here (no NVIDIA driver, "
                "a CPU-only torch, or CUDA_VISIBLE_DEVICES hides it); use --device cpu or auto."
            )
        gpu = asked == "cuda" or (asked == "auto" and self.precision == "auto" and cuda_available())
        self.device = "cuda" if gpu else "cpu"
        self.batch_size = max(batch_size, GPU_BATCH) if gpu else batch_size
        encoder: Encoder
        if gpu and self.precision == "auto":
            from .auto import on_gpu

            encoder, self.note = on_gpu(self.model_id, target)
        elif self.precision == "fp32":
            from .torch_runtime import TorchEncoder

            encoder, self.note = TorchEncoder(self.model_id, target, device=self.device), ""
        else:
            from .auto import fastest

            encoder, self.note = fastest(self.model_id, target)
        self._encoder = encoder
        self.runtime = encoder.runtime
        self.dimension = encoder.dimension
        self._query_prompt = encoder.query_prompt
        self._document_prompt = encoder.document_prompt
        prompt_tokens = len(self.token_spans(self._document_prompt))
        self.max_tokens = encoder.max_seq_length - encoder.specials - prompt_tokens
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memo_lock = threading.Lock()

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in `text`, special tokens excluded."""
        return self._encoder.token_spans(text)

    def embed_documents(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Embed passage texts with the model's document prompt, if it defines one.

        Args:
            texts: embedded texts (context and passage), each within `max_tokens`.
            progress: called with the number of texts finished after each batch.

        Returns:
            float32 array of shape (len(texts), dimension), rows of unit length.
        """
        return embed_sorted(self._encoder, texts, self._document_prompt, self.batch_size, progress)

    def embed_passages(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """`embed_documents`, plus a vector for each character span of each text (its
        sentences), pooled out of the text's own forward pass: no extra embedding.

        Returns:
            float32 (len(texts), dimension) unit rows, and per text float32
            (len(spans[i]), dimension) unit rows.
        """
        return embed_with_sentences(
            self._encoder, texts, spans, self._document_prompt, self.batch_size
        )

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Embed queries with the model's query prompt; shape (len(queries), dimension).

        The last QUERY_MEMO single queries are remembered (batches are not: a text's vector
        can move in the last digits with the texts it is padded with).
        """
        if len(queries) != 1:
            return embed_sorted(self._encoder, queries, self._query_prompt, self.batch_size)
        query = queries[0]
        with self._memo_lock:
            kept = self._memo.get(query)
            if kept is not None:
                self._memo.move_to_end(query)
                return kept.copy()
        vectors = embed_sorted(self._encoder, queries, self._query_prompt, self.batch_size)
        with self._memo_lock:
            self._memo[query] = vectors.copy()
            while len(self._memo) > QUERY_MEMO:
                self._memo.popitem(last=False)
        return vectors
