"""Load: concurrent clients on `paraseek api` for a set time while the corpus is re-indexed.

Run by hand: .venv/bin/python benchmarks/load.py [--clients 32] [--seconds 60] [--report FILE]

The timed version of tests/test_load.py (which bounds its run by counts and checks the same
things): the clients cycle through six requests; a quarter of the way in, a document is added
and another changed, and `paraseek index` re-indexes the sample corpus under the load. Every
answer must be a 200 equal to the answer before or after the re-index. Prints throughput and
latency percentiles as JSON (and writes them to --report); docs/reliability.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import SAMPLE, cli  # noqa: E402
from tests.test_load import REQUESTS, after_reindex, answers, api_server, reindex_under_load  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--report", help="also write the figures to this JSON file")
    args = parser.parse_args()
    seconds = args.seconds
    with tempfile.TemporaryDirectory(prefix="paraseek-load-") as scratch:
        work = Path(scratch)
        corpus, index = work / "corpus", work / "index"
        shutil.copytree(SAMPLE, corpus)
        assert cli("index", corpus, "--index", index).returncode == 0
        with api_server(index, work / "api.log") as url:
            old = answers(url)
            run = reindex_under_load(
                url, corpus, index, args.clients,
                reindex_when=lambda run: time.perf_counter() - run.started >= seconds / 4,
                stop_when=lambda run: time.perf_counter() - run.started >= max(
                    seconds, run.reindexed - run.started + seconds / 4
                ),
            )  # fmt: skip
            new = answers(url)
    seen = run.seen
    errors = [s for _, _, _, s, _ in seen if s != 200]
    neither = [p for p, _, _, _, body in seen if body not in (old[p], new[p])]
    elapsed = run.ended - run.started
    latencies = np.array([latency for _, _, latency, _, _ in seen]) * 1000
    report = {
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests": len(seen),
        "errors": len(errors) + len(run.failures),
        "neither_old_nor_new": len(neither),
        "throughput_per_s": round(len(seen) / elapsed, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "reindex_s": round(run.reindexed - run.started - seconds / 4, 1),
        "requests_after_reindex": after_reindex(run),
        "answers_old": sum(body == old[p] for p, _, _, _, body in seen),
        "answers_new": sum(body == new[p] and old[p] != new[p] for p, _, _, _, body in seen),
        "requests_checked": len(REQUESTS),
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
    }
    print(json.dumps(report))
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    if report["errors"] or neither:
        raise SystemExit("load: some answers failed or were neither the old nor the new one")


if __name__ == "__main__":
    main()
