"""Faults: the indexer killed (SIGKILL) at random points, and damaged index files.

After every kill the index opens, passes `paraseek check` and answers, and it holds either
the state before the interrupted run or the state that run was writing, never a mix.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from paraseek.corpus import Document, read_documents
from paraseek.embedder import Embedder
from paraseek.index import Index
from paraseek.index.check import check
from paraseek.index.stores import vectors_file
from paraseek.search import Searcher

from .conftest import SAMPLE, SCRIPT, cli, copy_index, script

KILLS = 8  # random-time kills, plus three aimed at the embedding pass and the commit
SEED = 20261122
PER_ROUND = 300  # new passages a round adds: two embedding batches
PARAGRAPHS = [
    p for f in sorted(SAMPLE.glob("*.txt")) for p in f.read_text().split("\n\n") if len(p) > 200
]


def _state(index: Path) -> set[tuple[str, str]]:
    """(path, content hash) of every indexed document."""
    conn = sqlite3.connect(index / "paraseek.db")
    try:
        return set(conn.execute("SELECT path, content_hash FROM documents").fetchall())
    finally:
        conn.close()


def _healthy(index: Path, embedder: Embedder) -> None:
    findings = check(index)
    assert not [f for f in findings if f.level == "error"], findings
    hits = Searcher(Index(index), embedder).search("What do the articles say about Russia?", 3)
    assert len(hits) == 3


def _change(corpus: Path, round_: int, rng: random.Random) -> None:
    """Add a new document of PER_ROUND new passages (more than one embedding batch), rewrite
    another and delete an older addition, so the next run has work in every phase."""
    body = "\n\n".join(
        f"{p} (round {round_}.{i})" for i, p in enumerate(rng.choices(PARAGRAPHS, k=PER_ROUND))
    )
    (corpus / f"added{round_:02}.txt").write_text(f"Added document {round_}\n\n{body}\n")
    added = sorted(corpus.glob("added*.txt"))
    if len(added) > 2:
        added[0].unlink()
    target = corpus / sorted(p.name for p in corpus.glob("0*.txt"))[round_ % 5]
    target.write_text(target.read_text() + f"\n\nA closing remark added in round {round_}.\n")


def _cached(index: Path) -> int:
    """Vectors in the embedding cache: grows batch by batch during a run's first pass."""
    conn = sqlite3.connect(index / "paraseek.db", timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM embeddings").fetchone()[0])
    finally:
        conn.close()


def _kill_when(process: subprocess.Popen[str], ready: object, limit: float = 120) -> bool:
    """SIGKILL `process` once `ready()` is true; False if it finished first."""
    deadline = time.monotonic() + limit
    while process.poll() is None and time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.wait()
    return False


@pytest.mark.slow
def test_sigkill_at_random_points_never_damages_the_index(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for f in SAMPLE.glob("*.txt"):
        (corpus / f.name).write_text(f.read_text())
    rng = random.Random(SEED)
    assert cli("index", corpus, "--index", index).returncode == 0
    _change(corpus, 0, rng)
    started = time.monotonic()  # a process of its own, like the runs that are killed below
    assert script("index", corpus, "--index", index).returncode == 0
    duration = time.monotonic() - started  # one update run, start to finish
    _healthy(index, embedder)

    killed = finished = 0
    phases: dict[str, int] = {}
    for round_ in range(1, KILLS + 4):
        before, cached = _state(index), _cached(index)
        generation = Index(index).generation()
        _change(corpus, round_, rng)
        process = subprocess.Popen(
            [str(SCRIPT), "index", str(corpus), "--index", str(index)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        if round_ <= KILLS:  # at a random moment of a run
            at = time.monotonic() + rng.uniform(0.2, duration)
            hit = _kill_when(process, lambda at=at: time.monotonic() >= at)
        elif round_ == KILLS + 1:  # once the first batch of the first pass is committed
            hit = _kill_when(process, lambda cached=cached: _cached(index) > cached)
        elif round_ == KILLS + 2:  # while the next generation's vectors are being written
            tmp = vectors_file(index, generation + 1).with_suffix(".faiss.tmp")
            hit = _kill_when(process, tmp.exists)
        else:  # after they are in place, before or during the commit and the manifest
            hit = _kill_when(process, vectors_file(index, generation + 1).exists)
        killed += hit
        finished += not hit
        if hit:
            written = vectors_file(index, generation + 1)
            phase = (
                "after the commit" if Index(index).generation() > generation
                else "in the commit" if written.exists() or written.with_suffix(".faiss.tmp").exists()
                else "in the first pass" if _cached(index) > cached
                else "before any write"
            )  # fmt: skip
            phases[phase] = phases.get(phase, 0) + 1
        after = _state(index)
        assert after in (before, _files_state(corpus)), f"round {round_}: neither old nor new"
        _healthy(index, embedder)

    print(
        f"\nfaults: {killed} runs killed {phases}, {finished} finished first; "
        f"an uninterrupted run takes {duration:.1f} s"
    )
    assert killed >= KILLS // 2, f"only {killed} runs were killed before finishing"
    # a last run completes the work that was interrupted, and the index is whole
    result = cli("index", corpus, "--index", index)
    assert result.returncode == 0, result.stderr
    assert cli("check", "--index", index).returncode == 0
    on_disk = {str(p.resolve()) for p in corpus.glob("*.txt")}
    assert {path for path, _ in _state(index)} == on_disk
    fresh = tmp_path / "fresh"
    assert cli("index", corpus, "--index", fresh).returncode == 0
    assert _state(index) == _state(fresh)
    assert _passages(index) == _passages(fresh)


def _files_state(corpus: Path) -> set[tuple[str, str]]:
    """(path, content hash) of every document under `corpus`: what a finished run leaves."""
    return {(d.path, d.content_hash) for d in read_documents([corpus]) if isinstance(d, Document)}


def _passages(index: Path) -> list[tuple[str, int, str]]:
    conn = sqlite3.connect(index / "paraseek.db")
    try:
        return sorted(
            conn.execute(
                "SELECT d.path, p.ordinal, p.text FROM passages p JOIN documents d "
                "ON d.id = p.document_id"
            ).fetchall()
        )
    finally:
        conn.close()


def test_check_names_each_damaged_file_and_the_fix(
    sample_index: Path, tmp_path: Path, embedder: Embedder
) -> None:
    healthy = cli("check", "--index", sample_index)
    assert healthy.returncode == 0 and healthy.stdout.strip().endswith("healthy")

    # keyword postings that lost a passage
    lost = copy_index(sample_index, tmp_path / "postings")
    with sqlite3.connect(lost / "paraseek.db") as conn:
        conn.execute("DELETE FROM keyword_lengths WHERE id = (SELECT min(id) FROM passages)")
    conn.close()
    result = cli("check", "--index", lost)
    assert result.returncode == 1
    assert "error   postings  the BM25 postings in" in result.stdout and "re-index" in result.stdout

    # a truncated vector file: check and search both name it
    vectors = copy_index(sample_index, tmp_path / "vectors")
    file = max(vectors.glob("vectors.*.faiss"), key=lambda p: int(p.name.split(".")[1]))
    file.write_bytes(file.read_bytes()[:1000])
    result = cli("check", "--index", vectors)
    assert result.returncode == 1 and f"Vector file '{file}' is missing or damaged" in result.stdout
    search = cli("search", "Russia", "--index", vectors)
    assert search.returncode == 1 and search.stderr.count("\n") == 1
    assert f"Vector file '{file}'" in search.stderr and "re-index" in search.stderr

    # overwritten database pages
    database = copy_index(sample_index, tmp_path / "database")
    data = bytearray((database / "paraseek.db").read_bytes())
    rng = random.Random(SEED)
    for page in range(4096, len(data) - 4096, 4096 * 7):
        data[page + 200 : page + 1200] = rng.randbytes(1000)
    (database / "paraseek.db").write_bytes(bytes(data))
    result = cli("check", "--index", database)
    assert result.returncode == 1
    assert f"'{database / 'paraseek.db'}' is damaged" in result.stdout
    assert "delete the index folder and re-index" in result.stdout
    for question in ("Russia", "communism and religion", "NATO's future"):  # reads hit bad pages
        search = cli("search", question, "--index", database)
        assert search.returncode == 1 and search.stderr.count("\n") == 1, search.stderr
        assert f"'{database / 'paraseek.db'}' is damaged (" in search.stderr or (
            f"The keyword index of '{database / 'paraseek.db'}' names passage" in search.stderr
        )
        assert "paraseek check" in search.stderr and "re-index" in search.stderr

    # --json for scripts
    report = cli("check", "--index", vectors, "--json")
    parsed = json.loads(report.stdout)
    assert parsed["healthy"] is False and any(f["part"] == "vectors" for f in parsed["findings"])


def test_a_stale_manifest_and_leftover_files_are_warnings_not_errors(
    sample_index: Path, tmp_path: Path
) -> None:
    index = copy_index(sample_index, tmp_path / "index")
    manifest = index / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"passages": ', '"passages": 1'))
    (index / "vectors.99.faiss.tmp").write_bytes(b"partial")
    findings = check(index)
    levels = {(f.level, f.part) for f in findings}
    assert ("warning", "manifest") in levels and ("warning", "files") in levels
    assert not [f for f in findings if f.level == "error"]
    assert os.path.exists(index / "vectors.99.faiss.tmp")  # check never changes anything
