"""The embedder: shapes, normalisation, prompts and token budget of the bundled model, for both
precisions (fp32: torch; auto: the OpenVINO int8 build), and auto's build, check and fallbacks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paraseek.corpus import Document, read_documents, split_document
from paraseek.embedder import DEFAULT_MODEL, Embedder, bundled_model_path, resolve_model
from paraseek.embedder import cache as builds
from paraseek.embedder.auto import library_versions
from paraseek.embedder.models import cuda_available, has_bf16
from paraseek.embedder.pooling import normalise, pool
from paraseek.errors import DeviceUnavailableError, InvalidArgumentError, ModelLoadError

from .conftest import SAMPLE

QUERIES = [
    "Why did Michael Flynn resign?",
    "What is MAGA communism?",
    "Why did Haz stop studying to become a lawyer?",
    "hypocrisy of the US ruling class about elections",
    "attacks on the 2020 presidential election",
    "where do the people's interests lie",
]
ODD_TEXTS = [
    "Flynn's resignation",
    "  leading and   inner   spaces ",
    "“Typographic” quotes’ and — dashes… café naïve",
    "Хаз: MAGA-коммунизм",
    "emoji 🙂 and CJK 中文 and tabs\tand\nnewlines",
    "",
    "x",
]


@pytest.fixture(scope="session")
def auto_cache() -> Path:
    """This test run's PARASEEK_CACHE (conftest's), where the int8 build of the bundled model
    is made once per run and shared by every test and CLI process."""
    return Path(os.environ["PARASEEK_CACHE"])


@pytest.fixture(scope="session")
def fp32_embedder() -> Embedder:
    return Embedder(precision="fp32")


@pytest.fixture(scope="session")
def auto_embedder(auto_cache: Path) -> Embedder:
    return Embedder(precision="auto")


@pytest.fixture(scope="session", params=[pytest.param("fp32", marks=pytest.mark.slow), "auto"])
def embedder(request: pytest.FixtureRequest) -> Embedder:
    """Every contract test below runs on both precisions (overrides conftest's fixture here)."""
    return request.getfixturevalue(f"{request.param}_embedder")


@pytest.fixture(scope="session")
def sample_texts(fp32_embedder: Embedder) -> list[str]:
    """Embedded texts of every passage of the sample corpus, split as `paraseek index` does."""
    return [
        p.embedded_text
        for doc in read_documents([SAMPLE])
        if isinstance(doc, Document)
        for p in split_document(doc, fp32_embedder.token_spans, fp32_embedder.max_tokens)
    ]


@pytest.fixture(scope="session")
def sample_vectors(fp32_embedder: Embedder, sample_texts: list[str]) -> np.ndarray:
    """fp32's vectors of `sample_texts`: the reference that int8 and bf16 are held to."""
    return fp32_embedder.embed_documents(sample_texts)


def test_default_model_is_the_bundled_one(embedder: Embedder) -> None:
    assert embedder.model_id == DEFAULT_MODEL
    assert resolve_model(None) == (DEFAULT_MODEL, str(bundled_model_path()))
    assert resolve_model("all-MiniLM-L6-v2")[0] == DEFAULT_MODEL
    assert embedder.dimension == 384
    assert embedder.max_tokens == 256 - 2  # [CLS] and [SEP]; this model has no prompts


@pytest.mark.slow
def test_local_model_folder_is_accepted_by_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARASEEK_PRECISION", "fp32")  # resolution is the point, not precision
    path = bundled_model_path()
    other = Embedder(str(path))
    assert other.model_id == str(path.resolve())
    a = other.embed_queries(["same text"])
    b = Embedder().embed_queries(["same text"])
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.slow
def test_vectors_are_unit_float32_and_always_2d(embedder: Embedder) -> None:
    one = embedder.embed_queries(["one query"])
    many = embedder.embed_documents(["a", "bb " * 50, "c c c"])
    none = embedder.embed_documents([])
    assert one.shape == (1, 384) and many.shape == (3, 384) and none.shape == (0, 384)
    assert one.dtype == many.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-5)


def test_length_sorted_batches_keep_input_order(embedder: Embedder) -> None:
    # Padding to a batch's longest text changes nothing: pooling masks it (also for int8).
    texts = [
        "short",
        "a much longer text about elections and foreign policy " * 5,
        "mid length text here",
    ]
    together = embedder.embed_documents(texts)
    apart = np.vstack([embedder.embed_documents([t]) for t in texts])
    np.testing.assert_allclose(together, apart, atol=1e-5)


@pytest.mark.slow
def test_a_remembered_query_gets_the_vector_embedding_it_again_would(embedder: Embedder) -> None:
    question = "Who founded the first community with shared property in America?"
    first = embedder.embed_queries([question])
    kept = first.copy()
    first[0, 0] = 42.0  # the caller's array: the remembered vector is another
    np.testing.assert_array_equal(embedder.embed_queries([question]), kept)
    fresh = Embedder(precision=embedder.precision)  # nothing remembered
    np.testing.assert_array_equal(fresh.embed_queries([question]), kept)
    # Batches are embedded afresh, so a batch gets the same vectors whatever was remembered.
    batch = [question, "Why did Flynn resign?"]
    np.testing.assert_array_equal(embedder.embed_queries(batch), fresh.embed_queries(batch))


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


@pytest.fixture
def no_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU without native bfloat16, where auto's only fallback from int8 is fp32.

    On a CPU with it (AVX512-BF16 or AMX), auto tries torch bfloat16 before fp32; see
    test_on_a_cpu_with_native_bf16_auto_falls_back_to_bf16_and_says_why.
    """
    monkeypatch.setattr("paraseek.embedder.auto.has_bf16", lambda: False)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


@pytest.mark.slow
def test_auto_is_int8_and_matches_fp32_on_every_sample_passage(
    fp32_embedder: Embedder, auto_embedder: Embedder, sample_texts: list[str],
    sample_vectors: np.ndarray,
) -> None:  # fmt: skip
    assert (auto_embedder.precision, auto_embedder.runtime, auto_embedder.note) == (
        "auto",
        "openvino-int8",
        "",
    )
    assert (fp32_embedder.precision, fp32_embedder.runtime) == ("fp32", "torch-fp32")
    assert auto_embedder.max_tokens == fp32_embedder.max_tokens
    assert auto_embedder.dimension == fp32_embedder.dimension
    want = sample_vectors
    got = auto_embedder.embed_documents(sample_texts)
    assert len(sample_texts) > 200
    assert _cosines(want, got).min() >= 0.99
    # The same passage answers each sample question first.
    want_q, got_q = fp32_embedder.embed_queries(QUERIES), auto_embedder.embed_queries(QUERIES)
    assert _cosines(want_q, got_q).min() >= 0.99
    assert list((want_q @ want.T).argmax(axis=1)) == list((got_q @ got.T).argmax(axis=1))


def test_token_spans_match_fp32(
    fp32_embedder: Embedder, auto_embedder: Embedder, sample_texts: list[str]
) -> None:
    for text in [*ODD_TEXTS, *QUERIES, *sample_texts[::10]]:
        assert auto_embedder.token_spans(text) == fp32_embedder.token_spans(text), text


@pytest.mark.slow
def test_auto_handles_any_batch_shape(fp32_embedder: Embedder, auto_embedder: Embedder) -> None:
    long = "a much longer text about elections and foreign policy " * 40  # cut at 256 tokens
    texts = ["x", "Putin", long, "mid length text about Russia", *ODD_TEXTS]
    for batch in ([texts[0]], texts[:2], texts, list(reversed(texts)), [long, long]):
        got = auto_embedder.embed_documents(batch)
        assert got.shape == (len(batch), 384) and got.dtype == np.float32
        assert _cosines(got, fp32_embedder.embed_documents(batch)).min() >= 0.99
    assert auto_embedder.embed_queries(["?"]).shape == (1, 384)


def test_int8_computes_what_it_leaves_in_float_in_float32_on_any_cpu(
    auto_embedder: Embedder,
) -> None:
    # On a CPU with native bfloat16 OpenVINO would pick bf16 for those parts, and the vectors
    # (SciFact nDCG@10 0.7220 instead of 0.7203, near-tied rankings) would depend on the CPU.
    import openvino as ov

    compiled = auto_embedder._encoder._compiled  # type: ignore[attr-defined]
    assert compiled.get_property("INFERENCE_PRECISION_HINT") == ov.Type.f32


def test_build_records_its_check(auto_embedder: Embedder, auto_cache: Path) -> None:
    where = builds.build_folder(  # this build: a kept cache may hold other versions' too
        DEFAULT_MODEL, bundled_model_path(), "openvino-int8", library_versions("openvino", "nncf")
    )
    assert where.is_relative_to(auto_cache)
    found = where / builds.BUILD_FILE
    record = json.loads(found.read_text())
    assert record["passed"] and record["note"] == ""
    check = record["spec"]["check"]
    assert check["min_cosine"] >= 0.99 and check["texts"] >= 20 and check["build_seconds"] > 0
    assert (found.parent / "model.xml").exists() and (found.parent / "tokenizer.json").exists()
    assert record["spec"]["pooling"] == ["mean"] and record["spec"]["max_seq_length"] == 256
    assert not list(where.parent.glob(f"{where.name}.tmp-*"))  # built aside, then renamed


@pytest.mark.slow
def test_cached_auto_path_imports_no_torch(auto_embedder: Embedder, auto_cache: Path) -> None:
    script = (
        "import json, sys\n"
        "from paraseek.embedder import Embedder\n"
        "e = Embedder()\n"
        "v = e.embed_queries(['Why did Flynn resign?'])\n"
        "spans = e.token_spans('Flynn resigned')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'sentence_transformers', 'nncf'))\n"
        "print(json.dumps([e.runtime, v.shape[1], spans, heavy]))\n"
    )
    env = {**os.environ, "PARASEEK_CACHE": str(auto_cache)}
    env.pop("PARASEEK_PRECISION", None)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    runtime, dimension, spans, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert (runtime, dimension, heavy) == ("openvino-int8", 384, [])
    assert [tuple(s) for s in spans] == auto_embedder.token_spans("Flynn resigned")


def test_fp32_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PARASEEK_PRECISION", "fp32")
    monkeypatch.setenv("PARASEEK_CACHE", str(tmp_path))
    embedder = Embedder()
    assert (embedder.precision, embedder.runtime, embedder.note) == ("fp32", "torch-fp32", "")
    assert not list(tmp_path.iterdir())  # fp32 never builds anything


@pytest.mark.parametrize(
    ("setting", "bad", "message", "from_env"),
    [
        ("precision", "int4", "Unknown precision 'int4'; use one of fp32, auto", "bf17"),
        ("device", "gpu", "Unknown device 'gpu'; use one of auto, cpu, cuda", "tpu"),
    ],
)
def test_bad_setting_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, setting: str, bad: str, message: str, from_env: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        Embedder(**{setting: bad})  # type: ignore[arg-type]
    monkeypatch.setenv(f"PARASEEK_{setting.upper()}", from_env)
    with pytest.raises(InvalidArgumentError, match=f"'{from_env}'") as info:
        Embedder()
    assert "\n" not in str(info.value)


@pytest.mark.skipif(cuda_available(), reason="this machine has a CUDA GPU")
def test_without_a_gpu_auto_stays_on_the_cpu_and_cuda_is_refused(
    monkeypatch: pytest.MonkeyPatch, fp32_embedder: Embedder, auto_embedder: Embedder
) -> None:
    monkeypatch.delenv("PARASEEK_DEVICE", raising=False)  # the suite's own setting
    auto = Embedder()  # device auto, precision auto: the CPU's int8 build, as cached
    assert (auto.device, auto.runtime, auto.batch_size) == ("cpu", auto_embedder.runtime, 32)
    assert auto_embedder.runtime == "openvino-int8"
    assert (fp32_embedder.device, fp32_embedder.runtime) == ("cpu", "torch-fp32")
    for precision in ("auto", "fp32"):
        with pytest.raises(DeviceUnavailableError, match="torch sees no CUDA GPU here") as info:
            Embedder(precision=precision, device="cuda")
        assert "\n" not in str(info.value) and "--device cpu" in str(info.value)
    monkeypatch.setenv("PARASEEK_DEVICE", "cuda")
    with pytest.raises(DeviceUnavailableError):
        Embedder()


@pytest.mark.slow
def test_unwritable_cache_falls_back_to_fp32(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PARASEEK_CACHE", str(blocker / "cache"))
    embedder = Embedder(precision="auto")
    assert embedder.runtime == "torch-fp32"
    assert embedder.note.startswith("cannot use the cache") and "\n" not in embedder.note


@pytest.mark.slow
@pytest.mark.usefixtures("no_native_bf16")
def test_a_failed_check_is_remembered(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PARASEEK_CACHE", str(tmp_path))
    where = builds.build_folder(
        DEFAULT_MODEL, bundled_model_path(), "openvino-int8", library_versions("openvino", "nncf")
    )
    where.mkdir(parents=True)
    note = "int8 failed the check: min cosine 0.981 < 0.99"
    (where / builds.BUILD_FILE).write_text(json.dumps({"passed": False, "note": note}))
    embedder = Embedder(precision="auto")
    assert (embedder.runtime, embedder.note) == ("torch-fp32", note)


@pytest.mark.slow
@pytest.mark.usefixtures("no_native_bf16")
def test_model_with_a_dense_module_stays_fp32(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer, models

    base = SentenceTransformer(str(bundled_model_path()), device="cpu")
    dense = models.Dense(384, 128)
    SentenceTransformer(modules=[*base, dense], device="cpu").save(str(tmp_path / "dense"))
    monkeypatch.setenv("PARASEEK_CACHE", str(tmp_path / "cache"))
    embedder = Embedder(str(tmp_path / "dense"), precision="auto")
    assert (embedder.runtime, embedder.note, embedder.dimension) == (
        "torch-fp32",
        "model has a Dense module",
        128,
    )
    again = Embedder(str(tmp_path / "dense"), precision="auto")  # the verdict is cached
    assert again.note == "model has a Dense module"
    (record,) = (tmp_path / "cache").glob("*/openvino-int8-*/build.json")
    assert not (record.parent / "model.xml").exists()


@pytest.mark.parametrize(
    "modes", [["mean"], ["cls"], ["max"], ["mean_sqrt_len_tokens"], ["lasttoken"], ["cls", "mean"]]
)
def test_numpy_pooling_matches_sentence_transformers(modes: list[str]) -> None:
    import torch
    from sentence_transformers import models

    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(3, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    pooling = models.Pooling(4, pooling_mode=modes[0] if len(modes) == 1 else modes)
    features = {"token_embeddings": torch.tensor(hidden), "attention_mask": torch.tensor(mask)}
    want = pooling(features)["sentence_embedding"].numpy()
    np.testing.assert_allclose(pool(hidden, mask, modes), want, rtol=1e-5, atol=1e-6)
    unit = normalise(pool(hidden, mask, modes))
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-6)


def test_build_once_builds_once_and_leaves_no_debris(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PARASEEK_CACHE", str(tmp_path))
    where = tmp_path / "model-0123" / "runtime-v1"
    calls: list[Path] = []

    def fails(temp: Path) -> dict[str, object]:
        (temp / "half-written").write_text("x")
        raise RuntimeError("converter crashed")

    with pytest.raises(RuntimeError):
        builds.build_once(where, fails)
    assert not where.exists() and [p.name for p in where.parent.iterdir()] == ["runtime-v1.lock"]

    def works(temp: Path) -> dict[str, object]:
        calls.append(temp)
        (temp / "model.xml").write_text("<net/>")
        return {"passed": True}

    assert builds.build_once(where, works) == builds.build_once(where, works) == {"passed": True}
    assert len(calls) == 1 and (where / "model.xml").exists()


@pytest.mark.usefixtures("no_native_bf16")
def test_without_openvino_auto_is_fp32(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # how Python marks a module unimportable
    monkeypatch.setenv("PARASEEK_CACHE", str(tmp_path))
    embedder = Embedder(precision="auto")
    assert (embedder.runtime, embedder.note) == ("torch-fp32", "openvino not installed")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.skipif(not has_bf16(), reason="this CPU has no native bfloat16 (AVX512-BF16, AMX)")
def test_on_a_cpu_with_native_bf16_auto_falls_back_to_bf16_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sample_texts: list[str],
    sample_vectors: np.ndarray,
) -> None:  # fmt: skip
    """The fallback's logic: the check itself (every held-out text) is bf16's build.json; a
    quarter of the sample passages confirm the vectors it serves."""
    monkeypatch.setitem(sys.modules, "openvino", None)
    monkeypatch.setenv("PARASEEK_CACHE", str(tmp_path))
    embedder = Embedder(precision="auto")
    assert (embedder.runtime, embedder.note) == ("torch-bf16", "openvino not installed")
    want = sample_vectors[::4]
    got = embedder.embed_documents(sample_texts[::4])
    assert got.dtype == np.float32 and _cosines(want, got).min() >= 0.99
    (record,) = tmp_path.glob("*/torch-bf16-*/build.json")  # the check's verdict, kept
    kept = json.loads(record.read_text())
    assert kept["passed"] and kept["check"]["min_cosine"] >= 0.99
    assert Embedder(precision="auto").runtime == "torch-bf16"  # read back, not checked again


@pytest.mark.slow
def test_cls_pooling_and_prompts_are_served_by_int8(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sample_texts: list[str]
) -> None:
    model = tmp_path / "cls-model"
    shutil.copytree(bundled_model_path(), model)
    # The bundled model's first two layers (of six): the same conversion, calibration and
    # check, in 16 s of CPU where six layers take 28.
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 2}))
    pooling = json.loads((model / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (model / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    prompts = {"prompts": {"query": "query: ", "document": "passage: "}}
    (model / "config_sentence_transformers.json").write_text(json.dumps(prompts))
    monkeypatch.setenv("PARASEEK_CACHE", str(tmp_path / "cache"))
    fp32, auto = Embedder(str(model), precision="fp32"), Embedder(str(model), precision="auto")
    assert (auto.runtime, auto.note) == ("openvino-int8", "")
    assert auto.max_tokens == fp32.max_tokens == 256 - 2 - 2  # [CLS], [SEP], "passage:"
    texts = sample_texts[::8]
    assert _cosines(auto.embed_documents(texts), fp32.embed_documents(texts)).min() >= 0.99
    queries = auto.embed_queries(QUERIES)
    same_prompt = _cosines(queries, fp32.embed_queries(QUERIES))
    assert same_prompt.min() >= 0.99
    # Each prompt is applied: a query is nearer fp32's query than fp32's passage of that text.
    assert (same_prompt > _cosines(queries, fp32.embed_documents(QUERIES))).all()
