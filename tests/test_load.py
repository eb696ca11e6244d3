"""Load: concurrent clients on `paraseek api` while the corpus is re-indexed underneath it.

Every answer during the run must be a 200 that equals either the answer before the re-index
or the answer after it, never an error and never a mix. The run here is bounded by counts, not
by the clock: 8 clients, the re-index once 48 answers have come, the end once 48 more requests
have been sent after it. The timed run with figures (throughput, p50/p95/p99) is
benchmarks/load.py, which uses `reindex_under_load` below.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from paraseek.embedder import Embedder

from .conftest import SAMPLE, SCRIPT, cli, free_port, running, sample_cache

STARTUP_S = 120
REQUESTS = [
    "/search?" + urlencode({"q": "What is the future of NATO?"}),
    "/search?" + urlencode({"q": "communism and religion", "mode": "dense", "k": 5}),
    "/search?" + urlencode({"q": "lighthouse keeper lens", "mode": "keyword"}),
    "/search?" + urlencode({"q": "Which policy does the interview defend?", "k": 3}),
    "/compare?" + urlencode({"q": "What should be done about Russia?"}),
    "/documents",
]
# The re-index adds a document and changes another, so some answers change.
ADDED = (
    "The lighthouse keeper\n\nThe lighthouse keeper polished the great lens every evening. "
    "NATO's future, he said, mattered less to him than the lens and the tide tables.\n"
)


@contextmanager
def api_server(index: Path, log: Path) -> Iterator[str]:
    """`paraseek api` on a free loopback port, stopped afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(SCRIPT), "api", "--index", str(index), "--port", str(port)]
    env = {**os.environ, "PARASEEK_API_KEY": "", "PARASEEK_CORS_ORIGINS": ""}
    with running(command, f"{url}/health", log, env, startup_s=STARTUP_S):
        yield url


def answers(url: str) -> dict[str, object]:
    """Each of REQUESTS answered once, by path."""
    with httpx.Client(base_url=url, timeout=60) as client:
        return {path: client.get(path).json() for path in REQUESTS}


@dataclass
class LoadRun:
    """What the clients saw: (path, start, latency s, status, body) per answer, and failures."""

    seen: list[tuple[str, float, float, int, object]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    started: float = 0.0
    reindexed: float = 0.0  # when the re-index finished (perf_counter)
    ended: float = 0.0
    reindex: object = None  # the re-index's CompletedProcess


def reindex_under_load(
    url: str, corpus: Path, index: Path, clients: int,
    reindex_when: Callable[[LoadRun], bool], stop_when: Callable[[LoadRun], bool],
) -> LoadRun:  # fmt: skip
    """`clients` threads cycle through REQUESTS on `url`; once `reindex_when(run)` holds, a
    document is added to `corpus`, another changed, and `index` re-indexed (`paraseek index`
    in this process); once `stop_when(run)` holds after that, the clients stop."""
    run = LoadRun()
    stop = threading.Event()

    def client(number: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as session:
            i = number
            while not stop.is_set():
                path = REQUESTS[i % len(REQUESTS)]
                i += 1
                began = time.perf_counter()
                try:
                    answer = session.get(path)
                    body = answer.json()
                except (httpx.HTTPError, ValueError) as exc:
                    run.failures.append(f"{path}: {type(exc).__name__}: {exc}")
                    continue
                run.seen.append(
                    (path, began, time.perf_counter() - began, answer.status_code, body)
                )

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    run.started = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        while not reindex_when(run):  # polled: a condition on what was seen, not a deadline
            time.sleep(0.02)
        (corpus / "lighthouse.txt").write_text(ADDED, encoding="utf-8")
        changed = corpus / sorted(p.name for p in corpus.glob("0*.txt"))[0]
        changed.write_text(changed.read_text() + "\n\nA late note on NATO's future.\n")
        run.reindex = cli("index", corpus, "--index", index)
        run.reindexed = time.perf_counter()
        while not stop_when(run):
            time.sleep(0.02)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    run.ended = time.perf_counter()
    return run


def after_reindex(run: LoadRun) -> int:
    """How many requests were sent after the re-index finished."""
    return sum(began > run.reindexed for _, began, _, _, _ in list(run.seen))


@pytest.mark.slow
def test_the_api_holds_under_load_while_the_corpus_is_reindexed(
    tmp_path: Path, sample_index: Path, embedder: Embedder
) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(SAMPLE, corpus)
    sample_cache(sample_index, index, embedder)  # the first index takes its vectors from there
    assert cli("index", corpus, "--index", index).returncode == 0
    with api_server(index, tmp_path / "api.log") as url:
        old = answers(url)
        run = reindex_under_load(
            url, corpus, index, clients=8,
            reindex_when=lambda run: len(run.seen) + len(run.failures) >= 48,
            stop_when=lambda run: after_reindex(run) >= 48 or len(run.failures) > 0,
        )  # fmt: skip
        new = answers(url)

    assert run.reindex.returncode == 0, run.reindex.stderr  # type: ignore[attr-defined]
    assert not run.failures, run.failures[:5]
    errors = [(p, s, b) for p, _, _, s, b in run.seen if s != 200]
    assert not errors, errors[:5]
    assert [p for p in REQUESTS if old[p] != new[p]], "the re-index changed no answer"
    neither = [p for p, _, _, _, body in run.seen if body not in (old[p], new[p])]
    assert not neither, f"{len(neither)} answers were neither the old nor the new one"
    after = [body == new[p] and old[p] != new[p] for p, began, _, _, body in run.seen
             if began > run.reindexed]  # fmt: skip
    assert any(after), "no answer after the re-index showed the new version"
