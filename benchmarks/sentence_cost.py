"""What sentence vectors (or close words' word vectors) cost at index time: passages/s and
bytes per passage against another checkout of paraseek (main), in the same run.

Run: .venv/bin/python benchmarks/sentence_cost.py --other /tmp/paraseek-main [--docs 1000] [--rounds 2]
(`git archive main | tar -x -C /tmp/paraseek-main` makes the other checkout). Each round
indexes the first N SciFact documents into a fresh index with each checkout's code in its own
process (precision auto, the model loaded before the clock starts), alternating, so a burst of
load from other processes hits both alike; the median rate of each is reported, and the
index folder's bytes (database, WAL checkpointed at close, vector file) per passage.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import json, sys, time
from pathlib import Path
from paraseek.embedder import Embedder
from paraseek.evaluate import load_beir
from paraseek.index import Writer
dataset, docs, index = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
documents = list(load_beir(dataset).documents())[:docs]
embedder = Embedder(precision="auto")
embedder.embed_documents(["warm up"])
if len(sys.argv) > 4:  # --cold-words: without this machine's word vectors (paraseek/words.py)
    import shutil
    from paraseek.embedder.cache import cache_root
    shutil.rmtree(cache_root() / "words", ignore_errors=True)
start = time.perf_counter()
with Writer(index, embedder) as writer:
    passages = writer.add(documents).passages
seconds = time.perf_counter() - start
size = sum(f.stat().st_size for f in index.rglob("*") if f.is_file())
print(json.dumps({"seconds": seconds, "passages": passages, "bytes": size}))
"""


def run(code: Path, dataset: str, docs: int, index: Path, cold: bool) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, dataset, str(docs), str(index), *(["cold"] if cold else [])],
        env=env, cwd=code, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", required=True, help="the other checkout (e.g. main)")
    parser.add_argument("--dataset", default=str(ROOT.parent / "shared/eval/scifact"))
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--cold-words", action="store_true",
        help="empty this machine's cache of word vectors ($PARASEEK_CACHE/words) before each "
        "index, so that every word is embedded (a first index on a machine)",
    )  # fmt: skip
    args = parser.parse_args()
    codes = {"other": Path(args.other).resolve(), "this": ROOT}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in codes}
    with tempfile.TemporaryDirectory(prefix="paraseek-cost-") as temp:
        for round_ in range(args.rounds):
            for name, code in codes.items():
                where = Path(temp) / f"{name}-{round_}"
                figures = run(code, args.dataset, args.docs, where, args.cold_words)
                results[name].append(figures)
                print(name, json.dumps(figures), flush=True)
    print("| code | passages | passages/s (median) | bytes per passage |")
    print("|---|---:|---:|---:|")
    rate, size = {}, {}
    for name, runs in results.items():
        rate[name] = statistics.median(r["passages"] / r["seconds"] for r in runs)
        size[name] = runs[-1]["bytes"] / runs[-1]["passages"]
        print(f"| {name} | {runs[-1]['passages']:.0f} | {rate[name]:.1f} | {size[name]:.0f} |")
    print(f"speed ratio this/other: {rate['this'] / rate['other']:.3f}; "
          f"size ratio: {size['this'] / size['other']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
