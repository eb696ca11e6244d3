"""Load: concurrent clients on `paraseek api` while the corpus is re-indexed underneath it.

Every answer during the run must be a 200 that equals either the answer before the re-index
or the answer after it, never an error and never a mix. The figures (throughput, p50/p95/p99)
are printed (`pytest -s`) and, with PARASEEK_LOAD_REPORT=FILE, written there as JSON;
docs/reliability.md quotes a 60 s run:

    PARASEEK_LOAD_SECONDS=60 .venv/bin/python -m pytest tests/test_load.py -s

The test's own run is bounded: 32 clients for 20 s by default.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest

from .conftest import SAMPLE, SCRIPT, free_port, running
from .conftest import cli as run

CLIENTS = int(os.environ.get("PARASEEK_LOAD_CLIENTS", "32"))
SECONDS = float(os.environ.get("PARASEEK_LOAD_SECONDS", "20"))
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


def _answers(url: str) -> dict[str, object]:
    with httpx.Client(base_url=url, timeout=60) as client:
        return {path: client.get(path).json() for path in REQUESTS}


@pytest.mark.slow
def test_the_api_holds_under_load_while_the_corpus_is_reindexed(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(SAMPLE, corpus)
    assert run("index", corpus, "--index", index).returncode == 0
    with api_server(index, tmp_path / "api.log") as url:
        old = _answers(url)
        seen: list[tuple[str, float, float, int, object]] = []  # path, start, latency, status
        failures: list[str] = []
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
                        failures.append(f"{path}: {type(exc).__name__}: {exc}")
                        continue
                    seen.append(
                        (path, began, time.perf_counter() - began, answer.status_code, body)
                    )

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(SECONDS / 4)  # load first, then the re-index in the middle of it
        (corpus / "lighthouse.txt").write_text(ADDED, encoding="utf-8")
        changed = corpus / sorted(p.name for p in corpus.glob("0*.txt"))[0]
        changed.write_text(changed.read_text() + "\n\nA late note on NATO's future.\n")
        reindex = run("index", corpus, "--index", index)
        reindexed = time.perf_counter()
        time.sleep(max(SECONDS - (reindexed - started), SECONDS / 4))
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        elapsed = time.perf_counter() - started
        new = _answers(url)

    assert reindex.returncode == 0, reindex.stderr
    assert not failures, failures[:5]
    errors = [(p, s, b) for p, _, _, s, b in seen if s != 200]
    assert not errors, errors[:5]
    assert [p for p in REQUESTS if old[p] != new[p]], "the re-index changed no answer"
    neither = [p for p, _, _, _, body in seen if body not in (old[p], new[p])]
    assert not neither, f"{len(neither)} answers were neither the old nor the new one"
    after = [body == new[p] and old[p] != new[p] for p, began, _, _, body in seen
             if began > reindexed]  # fmt: skip
    assert any(after), "no answer after the re-index showed the new version"

    latencies = np.array([latency for _, _, latency, _, _ in seen]) * 1000
    report = {
        "clients": CLIENTS,
        "seconds": round(elapsed, 1),
        "requests": len(seen),
        "errors": len(errors) + len(failures),
        "throughput_per_s": round(len(seen) / elapsed, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "reindex_s": round(reindexed - started - SECONDS / 4, 1),
        "answers_old": sum(body == old[p] for p, _, _, _, body in seen),
        "answers_new": sum(body == new[p] and old[p] != new[p] for p, _, _, _, body in seen),
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
    }
    print("\nload:", json.dumps(report))
    if os.environ.get("PARASEEK_LOAD_REPORT"):
        Path(os.environ["PARASEEK_LOAD_REPORT"]).write_text(json.dumps(report, indent=2) + "\n")
