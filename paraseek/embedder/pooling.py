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
