"""The BEIR evaluation harness: metrics against trec_eval, loading, and the eval command."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import pytrec_eval

from paraseek.errors import SourceNotFoundError
from paraseek.evaluate import documents_in_order, load_beir, mrr_at, ndcg_at, recall_at, score_run

from .conftest import cli
from .test_cli import assert_error


def test_hand_computed_cases() -> None:
    judged = {"d1": 1, "d2": 2}
    assert ndcg_at(["d2", "d1"], judged) == pytest.approx(1.0)
    # d3 (0), d1 (1), d2 (2): DCG = 1/log2(3) + 2/log2(4) = 0.6309 + 1; IDCG = 2 + 1/log2(3)
    assert ndcg_at(["d3", "d1", "d2"], judged) == pytest.approx(
        (0.63093 + 1) / (2 + 0.63093), abs=1e-4
    )
    assert recall_at(["d3", "d1"], judged, 100) == 0.5
    assert mrr_at(["d3", "d4", "d2"], judged) == pytest.approx(1 / 3)
    assert mrr_at(["d3"] * 10 + ["d1"], judged) == 0.0  # beyond 10
    assert documents_in_order(["a", "b", "a", "c", "b", "d"], 3) == ["a", "b", "c"]


def test_metrics_equal_trec_eval_on_random_runs() -> None:
    rng = random.Random(3)
    docs = [f"d{i}" for i in range(300)]
    qrels = {
        f"q{q}": {d: rng.choice([1, 1, 2]) for d in rng.sample(docs, rng.randint(1, 6))}
        for q in range(50)
    }
    run = {q: rng.sample(docs, 150) for q in qrels}
    # trec_eval ranks by score; give strictly decreasing scores in our order
    trec_run = {
        q: {d: float(len(ranked) - i) for i, d in enumerate(ranked)} for q, ranked in run.items()
    }
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(
        trec_run
    )
    cut = {q: {d: float(10 - i) for i, d in enumerate(ranked[:10])} for q, ranked in run.items()}
    mrr_query = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
    for q in qrels:
        assert ndcg_at(run[q], qrels[q]) == pytest.approx(per_query[q]["ndcg_cut_10"], abs=1e-9)
        assert recall_at(run[q], qrels[q]) == pytest.approx(per_query[q]["recall_100"], abs=1e-9)
        assert mrr_at(run[q], qrels[q]) == pytest.approx(mrr_query[q]["recip_rank"], abs=1e-9)
    ndcg, recall, mrr = score_run(run, qrels)
    assert ndcg == pytest.approx(sum(v["ndcg_cut_10"] for v in per_query.values()) / 50)
    assert recall == pytest.approx(sum(v["recall_100"] for v in per_query.values()) / 50)
    assert mrr == pytest.approx(sum(v["recip_rank"] for v in mrr_query.values()) / 50)


def _tiny_beir(folder: Path) -> Path:
    """Five documents, three judged test queries, one train query."""
    folder.mkdir()
    corpus = [
        ("a", "Ferries", "River ferries carry passengers across the estuary every hour."),
        ("b", "Bees", "Honey bees communicate the location of flowers with a waggle dance."),
        ("c", "Volcanoes", "Basaltic lava flows from shield volcanoes such as those on Hawaii."),
        ("d", "Chess", "The Sicilian defence is a popular reply to the king's pawn opening."),
        ("e", "Bread", "Sourdough bread rises thanks to wild yeast and lactic acid bacteria."),
    ]
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in corpus)
    )
    queries = [
        ("1", "How do bees tell each other where food is?"),
        ("2", "What makes sourdough rise?"),
        ("3", "lava from Hawaiian volcanoes"),
        ("4", "boats over a river"),
    ]
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries)
    )
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n1\tb\t1\n2\te\t1\n3\tc\t1\n"
    )
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n4\ta\t1\n")
    return folder


def test_load_beir(tmp_path: Path) -> None:
    dataset = load_beir(_tiny_beir(tmp_path / "tiny"), "test")
    assert set(dataset.queries) == {"1", "2", "3"} and dataset.qrels["1"] == {"b": 1}
    documents = list(dataset.documents())
    assert [d.id for d in documents] == ["a", "b", "c", "d", "e"] and documents[
        0
    ].title == "Ferries"
    assert set(load_beir(tmp_path / "tiny", "train").queries) == {"4"}
    with pytest.raises(
        SourceNotFoundError, match=r"qrels/dev\.tsv' is missing.*splits here: test, train"
    ):
        load_beir(tmp_path / "tiny", "dev")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_eval_command_json(tmp_path: Path, mode: str) -> None:
    folder = _tiny_beir(tmp_path / "tiny")
    result = cli("eval", folder, "--mode", mode, "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert {
        "ndcg_at_10",
        "recall_at_100",
        "mrr_at_10",
        "queries",
        "passages",
        "index_seconds",
        "search_seconds",
    } <= set(scores)
    assert scores["queries"] == 3 and scores["passages"] == 5 and scores["mode"] == mode
    assert scores["recall_at_100"] == 1.0  # five documents: everything is within 100
    assert scores["ndcg_at_10"] >= 0.9  # each query has one obvious answer


@pytest.mark.slow
def test_eval_command_text_and_errors(tmp_path: Path) -> None:
    folder = _tiny_beir(tmp_path / "tiny")
    result = cli("eval", folder, "--split", "train", "--index", tmp_path / "idx")
    assert result.returncode == 0, result.stderr
    assert (
        "tiny (train), mode hybrid: 1 queries, 5 passages" in result.stdout
        and "nDCG@10" in result.stdout
    )
    assert_error(cli("eval", tmp_path / "nothing"), "corpus.jsonl' is missing")
