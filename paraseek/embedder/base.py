"""What every embedding runtime provides, and the description of a model saved with a build."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

import numpy as np


class Encoder(Protocol):
    """One way of running a model (torch float32, OpenVINO int8, ...) behind the same calls.

    Attributes:
        runtime: what runs, e.g. "torch-fp32" or "openvino-int8".
        dimension: length of each vector.
        max_seq_length: tokens the model reads, special tokens included; longer input is cut.
        specials: special tokens the tokenizer adds to a text ([CLS] and [SEP]: 2).
        query_prompt: text put before each query ("" for none).
        document_prompt: text put before each passage ("" for none).
    """

    runtime: str
    dimension: int
    max_seq_length: int
    specials: int
    query_prompt: str
    document_prompt: str

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in `text`, special tokens excluded."""
        ...

    def encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        """Embed one batch with `prompt` before each text; float32 (len(texts), dimension), unit rows."""
        ...

    def encode_sentences(
        self, texts: Sequence[str], prompt: str, spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """`encode`, plus per text float32 (len(spans[i]), dimension) unit rows: the mean
        token embedding of each character span of it, from the same forward pass."""
        ...


@dataclass(frozen=True)
class ModelSpec:
    """How to run an exported transformer like sentence-transformers does; saved as JSON.

    Attributes:
        pooling: pooling modes, concatenated in this order ("mean", "cls", "max",
            "mean_sqrt_len_tokens", "lasttoken").
        inputs: the tokenizer outputs the exported model takes, e.g. input_ids, attention_mask.
        dimension: length of each (pooled) vector.
        max_seq_length: tokens the model reads, special tokens included.
        specials: special tokens the tokenizer adds to a text.
        query_prompt: text put before each query.
        document_prompt: text put before each passage.
        default_prompt: what sentence-transformers puts before a text given no prompt.
        pad_id: the padding token's id.
        pad_token: the padding token.
        padding_side: "right" or "left".
        check: figures of the check against fp32 (min and mean cosine, speeds), filled by the build.
    """

    pooling: tuple[str, ...]
    inputs: tuple[str, ...]
    dimension: int
    max_seq_length: int
    specials: int
    query_prompt: str
    document_prompt: str
    default_prompt: str
    pad_id: int
    pad_token: str
    padding_side: str
    check: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The spec as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelSpec:
        """Read a dict written by `to_json`; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["pooling"] = tuple(values["pooling"])
        values["inputs"] = tuple(values["inputs"])
        return cls(**values)


def embed_sorted(
    encoder: Encoder,
    texts: Sequence[str],
    prompt: str,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Embed `texts` in batches of similar length; rows come back in input order.

    Args:
        progress: called with the number of texts finished after each batch.

    Returns:
        float32 array (len(texts), encoder.dimension), unit rows.
    """
    out = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    # Longest first, so each batch pads to similar lengths and memory peaks early.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for begin in range(0, len(order), batch_size):
        rows = order[begin : begin + batch_size]
        out[rows] = encoder.encode([texts[i] for i in rows], prompt)
        if progress:
            progress(len(rows))
    return out


def embed_with_sentences(
    encoder: Encoder,
    texts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int]]],
    prompt: str,
    batch_size: int,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """`embed_sorted`, plus the vectors of each text's `spans` (`Encoder.encode_sentences`).

    Returns:
        float32 (len(texts), encoder.dimension) unit rows, in input order, and per text
        float32 (len(spans[i]), encoder.dimension) unit rows.
    """
    out = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    sentences: list[np.ndarray] = [np.zeros((0, encoder.dimension), np.float32)] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for begin in range(0, len(order), batch_size):
        rows = order[begin : begin + batch_size]
        vectors, pooled = encoder.encode_sentences(
            [texts[i] for i in rows], prompt, [spans[i] for i in rows]
        )
        out[rows] = vectors
        for i, matrix in zip(rows, pooled, strict=True):
            sentences[i] = matrix
    return out, sentences
