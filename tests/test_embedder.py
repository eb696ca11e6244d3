"""The embedder: shapes, normalisation, prompts and token budget of the bundled model."""

from __future__ import annotations

import numpy as np
import pytest

from paraseek.embedder import DEFAULT_MODEL, Embedder, bundled_model_path, resolve_model
from paraseek.errors import ModelLoadError


def test_default_model_is_the_bundled_one(embedder: Embedder) -> None:
    assert embedder.model_id == DEFAULT_MODEL
    assert resolve_model(None) == (DEFAULT_MODEL, str(bundled_model_path()))
    assert resolve_model("all-MiniLM-L6-v2")[0] == DEFAULT_MODEL
    assert embedder.dimension == 384
    assert embedder.max_tokens == 256 - 2  # [CLS] and [SEP]; this model has no prompts


def test_local_model_folder_is_accepted_by_path() -> None:
    path = bundled_model_path()
    other = Embedder(str(path))
    assert other.model_id == str(path.resolve())
    a = other.embed_queries(["same text"])
    b = Embedder().embed_queries(["same text"])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_vectors_are_unit_float32_and_always_2d(embedder: Embedder) -> None:
    one = embedder.embed_queries(["one query"])
    many = embedder.embed_documents(["a", "bb " * 50, "c c c"])
    none = embedder.embed_documents([])
    assert one.shape == (1, 384) and many.shape == (3, 384) and none.shape == (0, 384)
    assert one.dtype == many.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-5)


def test_length_sorted_batches_keep_input_order(embedder: Embedder) -> None:
    texts = [
        "short",
        "a much longer text about elections and foreign policy " * 5,
        "mid length text here",
    ]
    together = embedder.embed_documents(texts)
    apart = np.vstack([embedder.embed_documents([t]) for t in texts])
    np.testing.assert_allclose(together, apart, atol=1e-5)


def test_progress_reports_every_text(embedder: Embedder) -> None:
    seen: list[int] = []
    embedder.embed_documents([f"text {i}" for i in range(70)], progress=seen.append)
    assert sum(seen) == 70 and len(seen) == 3  # batches of 32


def test_token_spans_are_character_offsets(embedder: Embedder) -> None:
    text = "Flynn's resignation"
    spans = embedder.token_spans(text)
    assert spans[0] == (0, 5) and spans[-1][1] == len(text)


def test_unknown_model_fails_with_one_clear_line(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        ModelLoadError, match="Cannot load embedding model 'no-such/model-xyz'"
    ) as info:
        Embedder("no-such/model-xyz")
    assert "\n" not in str(info.value)
    empty = tmp_path / "empty-model"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="Cannot load embedding model"):
        Embedder(str(empty))
