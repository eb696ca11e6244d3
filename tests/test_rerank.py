"""The optional cross-encoder re-ranker, with a tiny random one built here (nothing downloaded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from paraseek.corpus import embedded_text
from paraseek.embedder import Embedder, Reranker, bundled_model_path
from paraseek.errors import ModelLoadError
from paraseek.index import Index
from paraseek.search import Searcher

from .conftest import cli
from .test_cli import assert_error


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-layer BERT classifier with random weights and MiniLM's tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_path()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=64, num_labels=1,
    )  # fmt: skip
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_reranker_scores_pairs(tiny_cross_encoder: Path) -> None:
    reranker = Reranker(str(tiny_cross_encoder))
    scores = reranker.scores("a query", ["first text", "second, different text", "first text"])
    assert scores.shape == (3,) and scores.dtype == np.float32
    assert scores[0] == pytest.approx(scores[2]) and scores[0] != pytest.approx(scores[1])
    assert reranker.scores("a query", []).shape == (0,)


@pytest.mark.slow
def test_search_reorders_the_top_candidates_by_the_cross_encoder(
    tiny_cross_encoder: Path, sample_index: Path, embedder: Embedder
) -> None:
    index = Index(sample_index)
    reranker = Reranker(str(tiny_cross_encoder))
    plain = Searcher(index, embedder)
    reranked = Searcher(index, embedder, reranker=reranker)
    query = "Did Russia interfere in the election?"
    candidates = plain.search(query, k=30)
    scores = reranker.scores(query, [embedded_text(h.context, h.text) for h in candidates])
    expected = [candidates[i].passage_id for i in np.argsort(-scores, kind="stable")[:5]]
    hits = reranked.search(query, k=5)
    assert [h.passage_id for h in hits] == expected
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert [h.score for h in hits] == pytest.approx(sorted(scores, reverse=True)[:5], abs=1e-5)


@pytest.mark.slow
def test_cli_reranker(tiny_cross_encoder: Path, sample_index: Path) -> None:
    result = cli(
        "search",
        "Russia and the election",
        "--index",
        sample_index,
        "-k",
        "3",
        "--json",
        "--reranker",
        tiny_cross_encoder,
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3 and rows[0]["score"] >= rows[1]["score"] >= rows[2]["score"]
    assert_error(
        cli("search", "x", "--index", sample_index, "--reranker", tiny_cross_encoder / "missing"),
        "Cannot load re-ranker",
    )


@pytest.mark.slow
def test_bad_reranker_is_one_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="Cannot load re-ranker") as info:
        Reranker(str(empty))
    assert "\n" not in str(info.value)
