"""Embedding speed and agreement: precision fp32 against auto on the same passages, same run.

Run: .venv/bin/python benchmarks/embedding.py [--n N] [--rounds 3] [--cache DIR] [--json OUT]
Embeds the first N passages of data/corpus (default: all, as `paraseek index` splits them) with
Embedder(precision="fp32") and Embedder(precision="auto"), warm-up first, then `rounds` timed
passes alternating between the two (the median counts, so a burst of load from other processes
hits both alike). Without --cache the auto model is built in a fresh temporary cache, so its
build time is measured too. Prints a markdown table; --json writes the figures.
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
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu() -> dict[str, Any]:
    """The CPU's name, core count and the flags that decide which runtime is fast."""
    name, flags = platform.processor() or platform.machine(), set[str]()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and name in ("", platform.machine()):
                name = line.partition(":")[2].strip()
            elif line.startswith("flags"):
                flags = set(line.partition(":")[2].split())
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"name": name, "cores": cores, "flags": [f for f in FLAGS if f in flags]}


def passages(limit: int | None) -> list[str]:
    """Embedded texts of the sample corpus's passages, in corpus order."""
    from paraseek.corpus import Document, read_documents, split_document
    from paraseek.embedder import Embedder

    splitter = Embedder(precision="fp32")
    texts = [
        p.embedded_text
        for doc in read_documents([ROOT / "data" / "corpus"])
        if isinstance(doc, Document)
        for p in split_document(doc, splitter.token_spans, splitter.max_tokens)
    ]
    return texts[:limit] if limit else texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="passages (default: all)")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes of each precision")
    parser.add_argument("--cache", help="PARASEEK_CACHE to use (default: a fresh temporary one)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    temp = tempfile.TemporaryDirectory(prefix="paraseek-bench-")
    os.environ["PARASEEK_CACHE"] = args.cache or temp.name

    from paraseek.embedder import Embedder

    texts = passages(args.n)
    fp32 = Embedder(precision="fp32")
    start = time.perf_counter()
    auto = Embedder(precision="auto")
    load_s = time.perf_counter() - start
    builds = sorted(
        Path(os.environ["PARASEEK_CACHE"]).glob("*/openvino-int8-*/build.json"),
        key=lambda p: p.stat().st_mtime,
    )
    check = json.loads(builds[-1].read_text()).get("spec", {}).get("check", {}) if builds else {}

    vectors: dict[str, np.ndarray] = {}
    rates: dict[str, list[float]] = {"fp32": [], "auto": []}
    for embedder in (fp32, auto):
        embedder.embed_documents(texts[:32])  # warm-up
    for _ in range(args.rounds):
        for name, embedder in (("fp32", fp32), ("auto", auto)):
            start = time.perf_counter()
            vectors[name] = embedder.embed_documents(texts)
            rates[name].append(len(texts) / (time.perf_counter() - start))
    cosines = np.sum(vectors["fp32"] * vectors["auto"], axis=1)
    info = cpu()
    fp32_rate, auto_rate = (statistics.median(rates[k]) for k in ("fp32", "auto"))
    figures = {
        "passages": len(texts),
        "rounds": args.rounds,
        "fp32": {"runtime": fp32.runtime, "passages_per_s": round(fp32_rate, 1)},
        "auto": {
            "runtime": auto.runtime,
            "note": auto.note,
            "passages_per_s": round(auto_rate, 1),
            "load_or_build_s": round(load_s, 1),
            "build_check": check,
        },
        "ratio": round(auto_rate / fp32_rate, 2),
        "min_cosine": round(float(cosines.min()), 5),
        "mean_cosine": round(float(cosines.mean()), 5),
        "all_rates": {k: [round(r, 1) for r in v] for k, v in rates.items()},
        "cpu": info,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    print(f"CPU: {info['name']}, {info['cores']} cores, flags: {' '.join(info['flags'])}")
    print(
        f"{len(texts)} passages, median of {args.rounds} passes; load average {figures['load_average']}\n"
    )
    print("| precision | runtime | passages/s | vs fp32 | min cosine | mean cosine |")
    print("|---|---|---|---|---|---|")
    print(f"| fp32 | {fp32.runtime} | {fp32_rate:.1f} | 1.00x | 1 | 1 |")
    print(
        f"| auto | {auto.runtime} | {auto_rate:.1f} | {figures['ratio']:.2f}x "
        f"| {figures['min_cosine']:.4f} | {figures['mean_cosine']:.4f} |\n"
    )
    print(f"auto load (incl. build when the cache is empty): {load_s:.1f} s", end="")
    print(f"; int8 build alone: {check['build_seconds']} s" if "build_seconds" in check else "")
    if auto.note:
        print(f"auto fell back: {auto.note}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    temp.cleanup()


if __name__ == "__main__":
    main()
