"""Indexing throughput by executor: local, then Ray with 1 and 2 workers, on one generated corpus.

Run: .venv/bin/python benchmarks/ray_scaling.py [--files 60] [--rounds 2] [--workers 1,2]
     [--precision auto] [--json OUT]

Writes a corpus of `files` text files (paragraphs of data/corpus drawn at random, each made
unique, about 50 passages a file), then indexes it into a fresh index folder (so with an empty
embedding cache: every passage is embedded) once per executor and round, alternating the order
between rounds; the median counts. One local Ray (127.0.0.1, every CPU here) serves every Ray
run; its start-up is reported apart, while each run's time includes starting its actors and
loading one model per actor, as a real `paraseek index --executor ray` does. Prints markdown.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def write_corpus(folder: Path, files: int, seed: int = 0) -> None:
    """`files` text files of about 40 paragraphs each, drawn from the sample corpus; every
    paragraph gets a unique tag, so no two passages share a text (and a cache entry)."""
    paragraphs = [
        p.strip()
        for f in sorted((ROOT / "data" / "corpus").glob("*.txt"))
        for p in f.read_text(encoding="utf-8").split("\n\n")
        if len(p.strip()) > 80
    ]
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for i in range(files):
        body = [f"{p} (note {i}.{j})" for j, p in enumerate(rng.choices(paragraphs, k=40))]
        (folder / f"doc{i:04d}.txt").write_text(
            f"Generated document {i}\n\n" + "\n\n".join(body) + "\n", encoding="utf-8"
        )


def index_once(corpus: Path, embedder: Any, executor: Any) -> dict[str, float]:
    """Index `corpus` into a fresh folder with `executor`.

    Returns:
        embedded: passages embedded; pass1_s: from the first progress call to the last (read,
        split, embed, commit to the cache; for Ray also starting the actors and loading their
        models); steady_per_s: passages per second from the first batch done to the end, so
        without start-up; total_s: the whole update, pass 2 (the index commit) included.
    """
    from paraseek.index import Writer

    calls: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory(prefix="paraseek-ray-bench-") as folder:
        start = time.perf_counter()
        with Writer(Path(folder) / "index", embedder) as writer:
            report = writer.update(
                [corpus], executor=executor,
                progress=lambda done, _: calls.append((time.perf_counter(), done)),
            )  # fmt: skip
        total = time.perf_counter() - start
    first = next((t, d) for t, d in calls if d > 0)
    end = calls[-1]
    pass1 = end[0] - calls[0][0]
    steady = (end[1] - first[1]) / (end[0] - first[0]) if end[1] > first[1] else end[1] / pass1
    return {"embedded": report.embedded, "pass1_s": pass1, "steady_per_s": steady, "total_s": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--files", type=int, default=60, help="generated files (about 50 passages each)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="runs of each executor")
    parser.add_argument("--workers", default="1,2", help="Ray worker counts to measure")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32"])
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()

    import ray
    from run import machine

    from paraseek.index.executors import LocalExecutor
    from paraseek.scale.ray import RayExecutor

    temp = tempfile.TemporaryDirectory(prefix="paraseek-ray-bench-")
    corpus = Path(temp.name) / "corpus"
    write_corpus(corpus, args.files)
    os.environ.setdefault("PARASEEK_CACHE", str(Path(temp.name) / "cache"))
    started = time.perf_counter()
    ray.init(
        address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False,
        _node_ip_address="127.0.0.1", logging_level=logging.ERROR, log_to_driver=False,
    )  # fmt: skip
    ray_start = time.perf_counter() - started
    executors: dict[str, Any] = {"local": LocalExecutor()}
    for n in (int(w) for w in args.workers.split(",")):
        executors[f"ray, {n} worker{'s' if n > 1 else ''}"] = RayExecutor(workers=n)
    load = [os.getloadavg()[0]]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in executors}
    from paraseek.embedder import Embedder

    embedder = Embedder(precision=args.precision)  # builds or loads the int8 model once
    index_once(corpus, embedder, LocalExecutor())  # warm-up: file cache, first-call set-up
    for round_ in range(args.rounds):
        names = list(executors) if round_ % 2 == 0 else list(reversed(executors))
        for name in names:
            runs[name].append(index_once(corpus, embedder, executors[name]))
            print(f"{name}: {runs[name][-1]}", file=sys.stderr, flush=True)
            load.append(os.getloadavg()[0])
    ray.shutdown()

    passages = int(runs["local"][0]["embedded"])
    rates = {
        name: {
            "pass1_per_s": statistics.median(r["embedded"] / r["pass1_s"] for r in results),
            "steady_per_s": statistics.median(r["steady_per_s"] for r in results),
        }
        for name, results in runs.items()
    }
    one = next(n for n in rates if n.startswith("ray"))
    print(f"Machine: {machine()}")
    print(
        f"Corpus: {args.files} generated files, {passages} passages, all embedded each run "
        f"(fresh cache); precision {args.precision} ({embedder.runtime}); median of "
        f"{args.rounds} runs, order alternating; local Ray start-up {ray_start:.1f} s (once, "
        f"not counted); load average (1 min) {min(load):.1f}-{max(load):.1f} during the runs.\n"
    )
    print(
        "| executor | pass 1 passages/s (with start-up) | steady passages/s | steady vs local "
        f"| steady vs {one} | pass 1 runs (s) |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for name, rate in rates.items():
        seconds = ", ".join(f"{r['pass1_s']:.1f}" for r in runs[name])
        steady = rate["steady_per_s"]
        print(
            f"| {name} | {rate['pass1_per_s']:.1f} | {steady:.1f} "
            f"| {steady / rates['local']['steady_per_s']:.2f}x "
            f"| {steady / rates[one]['steady_per_s']:.2f}x | {seconds} |"
        )
    if args.json:
        figures = {"machine": machine(), "passages": passages, "ray_start_s": ray_start,
                   "load_1min": load, "runs": runs, "passages_per_s": rates}  # fmt: skip
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    temp.cleanup()


if __name__ == "__main__":
    main()
