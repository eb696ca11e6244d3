"""The Ray executor: the same index as the local executor, updates, the CLI and its errors.

A real local Ray (127.0.0.1, 2 CPUs, no dashboard) serves the whole module and is shut down
after it; the CLI runs start and stop their own. Each index has its own embedding cache, so the
Ray actors really embed.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import ray

from paraseek.embedder import Embedder
from paraseek.errors import InvalidArgumentError
from paraseek.index import Index, UpdateReport, Writer
from paraseek.index.executors import Executor, LocalExecutor, Progress, executor_for
from paraseek.scale.ray import RayExecutor
from paraseek.search import Searcher

from .conftest import INTERVIEW, SAMPLE, SCRIPT, copy_index

pytestmark = pytest.mark.slow

QUERIES = ["Russia and the election", "communism and religion", "the press"]
EDITED = "002_068334134ee8bc4f.txt"  # changed between the two runs
DELETED = "003_1416103580240b3d.txt"  # removed between the two runs


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray for the module: 127.0.0.1, 2 CPUs, no dashboard; shut down afterwards."""
    ray.init(
        address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
        logging_level=logging.ERROR, log_to_driver=False,
    )  # fmt: skip
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def fp32() -> Embedder:
    """Float32 vectors do not depend on how texts are batched, so they compare to 1e-5."""
    return Embedder(precision="fp32")


@dataclass
class Run:
    """One index built from the module's corpus, before and after an edit of the corpus."""

    first: Path  # a copy of the index after the first run
    first_report: UpdateReport
    progress: list[tuple[int, int]]  # the first run's progress calls
    second: Path  # the index after the second run
    second_report: UpdateReport


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, local_ray: None, fp32: Embedder
) -> dict[str, Run]:
    """The sample corpus without its long interview (four documents, about 75 passages)
    indexed by each executor (fp32), then edited and indexed again: by two Ray actors the first
    time, by one the second (each actor loads torch and the model)."""
    root = tmp_path_factory.mktemp("ray")
    corpus = root / "corpus"
    shutil.copytree(SAMPLE, corpus, ignore=shutil.ignore_patterns(INTERVIEW.name))
    first: dict[str, tuple[UpdateReport, list[tuple[int, int]]]] = {}
    executors: dict[str, Executor] = {"local": LocalExecutor(), "ray": RayExecutor(workers=2)}
    for name, executor in executors.items():
        calls: list[tuple[int, int]] = []
        with Writer(root / name, fp32) as writer:
            report = writer.update([corpus], progress=_record(calls), executor=executor)
        first[name] = report, calls
        copy_index(root / name, root / f"{name}-first")
    edited = corpus / EDITED
    edited.write_text(edited.read_text() + "\n\nA new closing paragraph on the press.\n")
    (corpus / DELETED).unlink()
    (corpus / "new.txt").write_text("A new note\n\nIt repeats nothing that came before it.\n")
    out = {}
    executors["ray"] = RayExecutor(workers=1)
    for name, executor in executors.items():
        with Writer(root / name, fp32) as writer:
            second = writer.update([corpus], executor=executor)
        out[name] = Run(root / f"{name}-first", *first[name], root / name, second)
    return out


def _record(calls: list[tuple[int, int]]) -> Progress:
    return lambda done, total: calls.append((done, total))


def _passages(path: Path) -> tuple[list[tuple[str, int, str, str]], np.ndarray, np.ndarray]:
    """(file name, ordinal, text, context) of every passage in id order, the ids, the vectors."""
    index = Index(path)
    rows, ids = [], []
    for document in index.documents():
        for p in index.document_passages(document.id):
            rows.append((Path(document.path).name, p.ordinal, p.text, p.context))
            ids.append(int(p.id or 0))
    order = np.argsort(ids)
    id_array = np.asarray(ids, dtype=np.int64)[order]
    return [rows[i] for i in order], id_array, index.vectors(list(id_array))


def test_ray_builds_the_same_index_as_local(runs: dict[str, Run], fp32: Embedder) -> None:
    local, remote = runs["local"], runs["ray"]
    assert remote.first_report.embedded == local.first_report.embedded > 50  # Ray embedded all
    assert remote.first_report.added == local.first_report.added
    assert len(remote.first_report.added) == 4
    assert remote.first_report.passages == local.first_report.passages
    rows, ids, vectors = _passages(local.first)
    ray_rows, ray_ids, ray_vectors = _passages(remote.first)
    assert ray_rows == rows and list(ray_ids) == list(ids)  # same passages, same ids
    np.testing.assert_allclose(ray_vectors, vectors, atol=1e-5)
    for query in QUERIES:
        hits = Searcher(Index(local.first), fp32).search(query, 5, mode="dense")
        ray_hits = Searcher(Index(remote.first), fp32).search(query, 5, mode="dense")
        assert [h.passage_id for h in ray_hits] == [h.passage_id for h in hits]
        np.testing.assert_allclose([h.score for h in ray_hits], [h.score for h in hits], atol=1e-5)


def test_ray_reports_progress_to_the_end(runs: dict[str, Run]) -> None:
    progress = runs["ray"].progress
    done = [d for d, _ in progress]
    assert done == sorted(done) and len(progress) >= 3  # a start, one per group, the end
    assert all(d <= t for d, t in progress[1:])
    assert progress[-1] == (runs["ray"].first_report.passages,) * 2


def test_ray_update_embeds_only_what_the_cache_lacks(runs: dict[str, Run]) -> None:
    local, remote = runs["local"].second_report, runs["ray"].second_report
    names = {
        "changed": [Path(p).name for p in remote.changed],
        "added": [Path(p).name for p in remote.added],
        "removed": [Path(p).name for p in remote.removed],
    }
    assert names == {"changed": [EDITED], "added": ["new.txt"], "removed": [DELETED]}
    assert len(remote.unchanged) == 2
    assert (remote.changed, remote.added, remote.unchanged) == (
        local.changed, local.added, local.unchanged,
    )  # fmt: skip
    # Only the new texts were embedded; the edited file's other passages came from the cache
    # filter the actors got, exactly as the local executor reused them.
    assert 0 < remote.embedded == local.embedded < 10
    assert remote.reused == local.reused > 0
    rows, _, vectors = _passages(runs["local"].second)
    ray_rows, _, ray_vectors = _passages(runs["ray"].second)
    assert ray_rows == rows
    np.testing.assert_allclose(ray_vectors, vectors, atol=1e-5)


def _without_interview(
    rows: list[tuple[str, int, str, str]], ids: np.ndarray, vectors: np.ndarray
) -> tuple[list[tuple[str, int, str, str]], np.ndarray]:
    """`_passages`' rows and vectors of the documents other than the long interview."""
    keep = [i for i, row in enumerate(rows) if row[0] != INTERVIEW.name]
    return [rows[i] for i in keep], vectors[keep]


def test_ray_with_precision_auto_reuses_the_int8_model(
    tmp_path: Path, local_ray: None, embedder: Embedder, sample_index: Path
) -> None:
    """The actors load the driver's cached int8 build (same runtime, or they would refuse);
    int8 vectors vary a little with how texts are batched, so they compare by cosine. The
    sample without its long interview: four documents, about 57 passages."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE, corpus, ignore=shutil.ignore_patterns(INTERVIEW.name))
    with Writer(tmp_path / "index", embedder) as writer:
        report = writer.update([corpus], executor=RayExecutor(workers=2))
    assert report.embedded > 50
    rows, vectors = _without_interview(*_passages(sample_index))
    ray_rows, _, ray_vectors = _passages(tmp_path / "index")
    assert ray_rows == rows
    assert np.min(np.sum(vectors * ray_vectors, axis=1)) > 0.999
    assert Index(tmp_path / "index").stats()["embedding"]["runtime"] == embedder.runtime  # type: ignore[index]


def test_ray_skips_a_file_that_changes_between_the_passes(
    tmp_path: Path, local_ray: None, embedder: Embedder
) -> None:
    """Pass 2 indexes a file only if it is what a Ray actor read in pass 1, as after the local
    executor (tests/test_faults.py): the vectors embedded are those of the text indexed. One
    actor on the int8 model: which vectors, and how many actors, do not matter here."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE, corpus, ignore=shutil.ignore_patterns(INTERVIEW.name))
    changing = corpus / EDITED
    original = changing.read_text()

    def progress(done: int, expected: int) -> None:  # the last call ends pass 1
        if done and done == expected and changing.read_text() == original:
            changing.write_text(original + "\n\nA paragraph written while it was indexed.\n")

    with Writer(tmp_path / "index", embedder) as writer:
        report = writer.update([corpus], progress=progress, executor=RayExecutor(workers=1))
    skipped = {s.path: s.reason for s in report.skipped}
    assert skipped[str(changing)].startswith("it changed while it was being indexed"), skipped
    indexed = {d.path for d in Index(tmp_path / "index").documents()}
    assert str(changing) not in indexed and str(changing) not in report.added
    assert indexed == {str(f) for f in corpus.glob("*.txt")} - {str(changing)}


def _ray_processes() -> set[int]:
    """Process ids of Ray's node processes (GCS server, raylet) on this machine."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    found = set()
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        if (args.split() or [""])[0].endswith(("/gcs_server", "/raylet")):
            found.add(int(pid))
    return found


def _env() -> dict[str, str]:
    """This environment without settings that would send a CLI run to another Ray."""
    unset = ("RAY_ADDRESS", "PARASEEK_RAY_ADDRESS", "PARASEEK_EXECUTOR", "PARASEEK_INDEX")
    return {k: v for k, v in os.environ.items() if k not in unset}


def test_cli_index_with_the_ray_executor(
    tmp_path: Path, local_ray: None, sample_index: Path
) -> None:
    """`paraseek index --executor ray` starts its own local Ray, and stops it. One actor on the
    int8 model, whose vectors vary a little with how texts are batched, so they compare by
    cosine; the module's runs compare two actors' fp32 vectors to the local executor's. The
    sample without its long interview: four documents, about 57 passages."""
    before = _ray_processes()
    corpus, folder = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(SAMPLE, corpus, ignore=shutil.ignore_patterns(INTERVIEW.name))
    result = subprocess.run(
        [str(SCRIPT), "index", str(corpus), "--index", str(folder), "--executor", "ray",
         "--ray-workers", "1"],
        capture_output=True, text=True, env=_env(), timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "embedding with Ray (a local Ray on 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr
    assert ": 4 documents, " in result.stdout and " 0 from cache" in result.stdout
    assert "embedded with openvino-int8" in result.stdout
    rows, vectors = _without_interview(*_passages(sample_index))
    cli_rows, _, cli_vectors = _passages(folder)
    assert cli_rows == rows
    assert np.min(np.sum(vectors * cli_vectors, axis=1)) > 0.999
    left = _ray_processes() - before
    for _ in range(50):  # the CLI's Ray exits with it; give its processes a moment to go
        if not left:
            break
        subprocess.run(["sleep", "0.2"])
        left = _ray_processes() - before
    assert not left, f"Ray processes left running: {left}"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_unreachable_ray_address_fails_at_once(tmp_path: Path) -> None:
    port = _closed_port()
    result = subprocess.run(
        [str(SCRIPT), "index", str(SAMPLE), "--index", str(tmp_path / "index"), "--executor",
         "ray", "--ray-address", f"127.0.0.1:{port}"],
        capture_output=True, text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"paraseek: error: Cannot reach the Ray cluster at '127.0.0.1:{port}' (Connection "
        "refused); start one with `ray start --head`, or give its head as host:6379 (or "
        "ray://host:10001) with --ray-address or PARASEEK_RAY_ADDRESS."
    ]
    assert not (tmp_path / "index").exists()  # checked before anything was written


def test_cli_without_ray_installed_says_what_to_install(tmp_path: Path) -> None:
    program = (
        "import sys; sys.modules['ray'] = None\n"  # as if Ray were not installed
        "from paraseek.cli import main\n"
        f"sys.exit(main(['index', {str(SAMPLE)!r}, '--index', {str(tmp_path / 'i')!r}, "
        "'--executor', 'ray']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=_env()
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "paraseek: error: --executor ray needs Ray, which is not installed here; install it "
        "with pip install 'paraseek[scale]', or index with --executor local."
    ]


def test_executor_options_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARASEEK_RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert executor_for().name == "local"
    monkeypatch.setenv("PARASEEK_EXECUTOR", "spark")
    with pytest.raises(InvalidArgumentError, match="Unknown executor 'spark'; use one of local"):
        executor_for()
    with pytest.raises(InvalidArgumentError, match="need --executor ray"):
        executor_for("local", ray_workers=2)
    with pytest.raises(InvalidArgumentError, match="at least 1, not '0'"):
        executor_for("ray", ray_workers=0)
    monkeypatch.setenv("PARASEEK_RAY_WORKERS", "two")
    with pytest.raises(InvalidArgumentError, match="at least 1, not 'two'"):
        executor_for("ray")
    monkeypatch.setenv("PARASEEK_RAY_WORKERS", "3")
    executor = executor_for("ray")
    assert isinstance(executor, RayExecutor) and executor.workers == 3


def test_ray_stores_the_same_sentence_vectors_as_local(
    runs: dict[str, Run], fp32: Embedder
) -> None:
    """The actors pool each passage's sentence vectors out of its own forward pass, as the
    local executor does, so hybrid search (sentence evidence) ranks a Ray-built index alike."""
    local, remote = Index(runs["local"].first), Index(runs["ray"].first)
    _, ids, _ = _passages(runs["local"].first)
    sentences, ray_sentences = local.sentence_vectors(list(ids)), remote.sentence_vectors(list(ids))
    # most of the passages have two sentences or more, so each has a row
    assert len(sentences) > len(ids) // 2 and sorted(ray_sentences) == sorted(sentences)
    for i, matrix in sentences.items():  # int8 codes: one step is at most 1/127 of a row's max
        np.testing.assert_allclose(ray_sentences[i], matrix, atol=0.01)
    for query in QUERIES:
        hits = Searcher(local, fp32).search(query, 10, mode="hybrid")
        ray_hits = Searcher(remote, fp32).search(query, 10, mode="hybrid")
        assert [h.passage_id for h in ray_hits] == [h.passage_id for h in hits]
        np.testing.assert_allclose([h.score for h in ray_hits], [h.score for h in hits], atol=1e-4)
