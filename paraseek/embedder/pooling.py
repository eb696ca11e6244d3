"""Token embeddings -> one unit vector per text, in NumPy, as sentence-transformers' Pooling does."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pool(hidden: np.ndarray, mask: np.ndarray, modes: Sequence[str]) -> np.ndarray:
    """Pool token embeddings with each mode and concatenate the results.

    Args:
        hidden: float array (batch, tokens, hidden), the transformer's last hidden state.
        mask: int array (batch, tokens), 1 for a real token, 0 for padding.
        modes: pooling modes among "cls", "max", "mean", "mean_sqrt_len_tokens", "lasttoken".

    Returns:
        float32 array (batch, hidden * len(modes)); not normalised.

    Raises:
        ValueError: a mode is not one of those.
    """
    hidden = hidden.astype(np.float32, copy=False)
    weights = mask.astype(np.float32)[:, :, None]
    rows = np.arange(hidden.shape[0])
    parts: list[np.ndarray] = []
    for mode in modes:
        if mode == "cls":  # the first real token, wherever padding is
            parts.append(hidden[rows, mask.argmax(axis=1)])
        elif mode == "lasttoken":  # the last real token
            last = mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
            parts.append(hidden[rows, last] * weights[rows, last])
        elif mode == "max":
            parts.append(np.where(weights > 0, hidden, -np.inf).max(axis=1))
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            count = np.maximum(weights.sum(axis=1), 1e-9)
            total = (weights.transpose(0, 2, 1) @ hidden)[:, 0]  # masked sum over tokens
            parts.append(total / (count if mode == "mean" else np.sqrt(count)))
        else:
            raise ValueError(f"Unknown pooling mode '{mode}'")
    return np.concatenate(parts, axis=1).astype(np.float32, copy=False)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero); same shape, float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def pool_spans(
    hidden: np.ndarray, offsets: np.ndarray, spans: Sequence[tuple[int, int]]
) -> np.ndarray:
    """The mean token embedding of each character span of one text: its sentences, pooled
    out of the text's own forward pass (each in the context of the whole text).

    Args:
        hidden: float array (tokens, hidden), one text's last hidden state.
        offsets: int array (tokens, 2), each token's character span in the text the
            tokenizer read; (0, 0) for special and padding tokens.
        spans: character spans (start, end) in that same text.

    Returns:
        float32 array (len(spans), hidden), unit rows; a span no token falls in is a zero row.
    """
    if not len(spans):
        return np.zeros((0, hidden.shape[1]), dtype=np.float32)
    count = min(len(hidden), len(offsets))  # right padding beyond the offsets is left out
    offsets, hidden = np.asarray(offsets)[:count], hidden[:count]
    starts, ends = offsets[:, 0], offsets[:, 1]
    wanted = np.asarray(spans, dtype=np.int64)
    inside = (
        (ends > starts)[None, :]
        & (starts[None, :] < wanted[:, 1:2])
        & (ends[None, :] > wanted[:, 0:1])
    ).astype(np.float32)
    total = inside @ hidden.astype(np.float32, copy=False)
    return normalise(total / np.maximum(inside.sum(axis=1, keepdims=True), 1.0))
