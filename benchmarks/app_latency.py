"""Streamlit interaction latency on the sample corpus: a search typed into the running app.

Run: .venv/bin/python benchmarks/app_latency.py [--index DIR] [--runs 20] [--json OUT]
Builds an index of data/corpus if --index is not given. Times AppTest reruns after the first
load (model and index cached by st.cache_resource), as a user's Enter in the search box.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "Why did Michael Flynn resign?", "Did Russia interfere in the US election?",
    "What is MAGA communism?", "Who does Putin represent?", "What role does religion play?",
    "How should people respond to the Trump regime?", "What happened to the Soviet Union?",
    "Why is the American left corrupt?", "What is the ILPS asking for?", "Who are the Shakers?",
]  # fmt: skip


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    from streamlit.testing.v1 import AppTest

    from paraseek.embedder import Embedder
    from paraseek.index import Writer

    parser = argparse.ArgumentParser()
    parser.add_argument("--index")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    index = args.index
    if index is None:
        index = os.path.join(tempfile.mkdtemp(), "index")
        with Writer(index, Embedder()) as writer:
            writer.update([ROOT / "data" / "corpus"])
    os.environ["PARASEEK_INDEX"] = index
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    started = time.perf_counter()
    at.run()
    first = time.perf_counter() - started
    timings: dict[str, list[float]] = {
        "search (top 3 explained)": [],
        "change k": [],
        "mode dense": [],
    }
    for i in range(args.runs):
        question = QUESTIONS[i % len(QUESTIONS)] + ("" if i < len(QUESTIONS) else " ")
        started = time.perf_counter()
        at.text_input[0].input(question).run()
        timings["search (top 3 explained)"].append(time.perf_counter() - started)
        assert not at.exception
        started = time.perf_counter()
        at.slider[0].set_value(5 if i % 2 else 10).run()
        timings["change k"].append(time.perf_counter() - started)
    for i in range(min(args.runs, 10)):
        at.selectbox[0].select("dense" if i % 2 == 0 else "hybrid")
        started = time.perf_counter()
        at.run()
        timings["mode dense"].append(time.perf_counter() - started)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}"
    )
    print(f"first load (model + index): {first:.2f} s")
    print("| interaction | runs | p50 ms | p95 ms |")
    print("|---|---|---|---|")
    for name, values in timings.items():
        print(
            f"| {name} | {len(values)} | {statistics.median(values) * 1000:.0f} | {percentile(values, 95) * 1000:.0f} |"
        )
    if args.json:
        figures = {
            "first_load_s": first,
            "interactions": {
                name: {"runs": len(v), "p50_ms": statistics.median(v) * 1000,
                       "p95_ms": percentile(v, 95) * 1000}
                for name, v in timings.items()
            },
        }  # fmt: skip
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
