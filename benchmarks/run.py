"""Run every benchmark and write docs/benchmarks.md: `make bench` (or this script).

Run: .venv/bin/python benchmarks/run.py [--only embedding,profile,indexing,ann,search,app]
[--ann-sizes ...]

Each benchmark prints markdown; its output is kept in benchmarks/results/NAME.md, so a partial
run (--only) re-renders the page with the other sections from their last run. Every section
states its command, when it ran, and the machine; run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "docs" / "benchmarks.md"
PYTHON = ".venv/bin/python"

SECTIONS = {
    "embedding": (
        "Embedding throughput: each precision path against fp32, same run",
        ["benchmarks/embedding.py"],
    ),
    "profile": (
        "Where embedding time goes: fp32 against int8, part by part",
        ["benchmarks/embedding_profile.py"],
    ),
    "indexing": (
        "Indexing throughput, the whole pipeline: fp32 against auto, same run",
        ["benchmarks/indexing.py", "--docs", "{indexing_docs}"],
    ),
    "ann": (
        "Vector indexes at 10k, 100k and 1M passages",
        ["benchmarks/ann.py", "--sizes", "{ann_sizes}"],
    ),
    "search": (
        "Search latency: cold and warm CLI, warm search at 10k and 100k passages",
        ["benchmarks/search_latency.py", "--sizes", "{search_sizes}"],
    ),
    "app": ("Streamlit interaction latency (sample corpus)", ["benchmarks/app_latency.py"]),
}


def machine() -> str:
    """Cores, CPU model and the flags that matter for the fast paths."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
              "amx_bf16", "amx_int8"]  # fmt: skip
    have = [f for f in wanted if f in flags]
    missing = [f for f in wanted if f not in flags]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores of {model}, {memory:.0f} GiB; CPU flags: {', '.join(have)}"
        f" (not: {', '.join(missing) or 'none'}); Python {platform.python_version()}"
    )


def run(name: str, args: argparse.Namespace) -> None:
    title, command = SECTIONS[name]
    command = [PYTHON, *(c.format(**vars(args)) for c in command)]
    print(f"== {name}: {' '.join(command)}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"benchmark {name} failed (exit {result.returncode})")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(
        f"## {title}\n\n`{' '.join(command)}` ({when}, {seconds:.0f} s; {machine()})\n\n"
        f"{result.stdout.strip()}\n",
        encoding="utf-8",
    )


def render() -> None:
    parts = [
        "# Benchmarks\n",
        "Written by `make bench` (`benchmarks/run.py`) from `benchmarks/results/*.md`; do not edit "
        "by hand. Each section names the command that produced it, when, and the machine. Speed "
        "is measured here and never asserted in tests; the tests check that every fast path "
        "gives the reference's results. Retrieval quality per mode and precision: "
        "[quality.md](quality.md).\n",
    ]
    for name in SECTIONS:
        file = RESULTS / f"{name}.md"
        parts.append(
            file.read_text(encoding="utf-8") if file.exists() else f"## {name}\n\n(not run yet)\n"
        )
    notes = ROOT / "benchmarks" / "NOTES.md"
    if notes.exists():
        parts.append(notes.read_text(encoding="utf-8"))
    PAGE.write_text("\n".join(parts), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--ann-sizes", default="10000,100000,1000000")
    parser.add_argument("--search-sizes", default="10000,100000")
    parser.add_argument("--indexing-docs", default="1500", help="SciFact documents to index")
    args = parser.parse_args()
    for name in args.only.split(","):
        if name not in SECTIONS:
            raise SystemExit(f"unknown section {name!r}; valid: {', '.join(SECTIONS)}")
        run(name, args)
        render()
    print(f"wrote {PAGE.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
