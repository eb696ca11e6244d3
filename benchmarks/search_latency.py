"""Query latency as users feel it: cold and warm CLI search, and warm search at 10k-100k passages.

Run: .venv/bin/python benchmarks/search_latency.py [--sizes 10000,100000] [--json OUT]

- cold CLI: `paraseek search QUESTION --index SAMPLE` in a new process, end to end (Python
  start, imports, model load, search, printing), for each --precision; median of 5 runs.
- warm: `Searcher.search` in one process (query embedding + vector search + BM25 for hybrid
  + loading the passages from SQLite), p50/p95 over 100 questions, dense and hybrid; and what
  the search note "no passage comes close" costs: `compare.closest_score` per question (of
  a query just searched, whose vector the embedder remembers, as in `GET /search`) and
  `compare.silence_floor` (median of 3), which the cold CLI pays once per run; and
  `Searcher.compare` (every document's best passage), p50/p95 over 20 questions.
- scale: an index of N passages built by the real `paraseek index` from generated documents
  whose vectors are put in the embedding cache beforehand (each a sample passage's real
  embedding plus noise: embedding 100k passages would take most of an hour), so the SQLite,
  FTS5 and vector index are real and of full size. Reports the indexing process's peak memory
  (bounded: it streams) and the warm latencies at that size.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "data" / "corpus"
SCRIPT = Path(sys.executable).parent / "paraseek"

from app_latency import QUESTIONS, percentile  # noqa: E402  (the same questions as the app benchmark)

WORDS = "policy election war media party workers sanctions history economy press".split()


def questions(n: int, first: int = 0) -> list[str]:
    """Questions number `first` to `first + n`, all distinct, so that no cache (the embedder
    remembers recent queries) answers one measured elsewhere."""
    rng = random.Random(3)
    every = [f"{QUESTIONS[i % len(QUESTIONS)]} {rng.choice(WORDS)} {i}" for i in range(first + n)]
    return every[first:]


def ab_arguments(description: str) -> argparse.ArgumentParser:
    """A parser with what every A/B latency script (coverage, feedback, sentence) takes: the
    generated index's size, an index folder to build once and reuse, questions per variant."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--index", help="an index folder to build once and reuse")
    parser.add_argument("--n", type=int, default=100)
    return parser


def scaled_or_given(folder: str | None, size: int, prefix: str) -> Path:
    """The index folder to measure: `folder` itself if it holds an index (SciFact's, say), else
    `folder/index`, built there once with `build_scaled` (in a new temporary folder if None)."""
    root = Path(folder) if folder else Path(tempfile.mkdtemp(prefix=prefix))
    if (root / "manifest.json").exists():
        return root
    if not (root / "index" / "manifest.json").exists():
        build_scaled(root, size, "auto")
    return root / "index"


def alternate(searches: dict[str, Callable[[str], object]], n: int) -> dict[str, list[float]]:
    """Milliseconds of each search, n questions each, taken in turn on different questions so
    that a burst of load hits them alike; each is warmed up once first. Prints, as markdown,
    p50 and p95 of each, then each one's p50 as a ratio to the last one's (the baseline), and
    returns the times by name."""
    for search in searches.values():
        search("warm up the model and the caches")
    names = list(searches)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i, q in enumerate(questions(len(names) * n, 1000)):
        name = names[i % len(names)]
        started = time.perf_counter()
        searches[name](q)
        times[name].append((time.perf_counter() - started) * 1000)
    print("| ranking | p50 ms | p95 ms |")
    print("|---|---:|---:|")
    for name, t in times.items():
        print(f"| {name} | {statistics.median(t):.1f} | {percentile(t, 95):.1f} |")
    base = names[-1]
    for name in names[:-1]:
        ratio = statistics.median(times[name]) / statistics.median(times[base])
        print(f"p50 ratio, {name} / {base}: {ratio:.2f}")
    return times


def cold_cli(index: Path, precision: str, runs: int = 5) -> float:
    """Median seconds of a cold `paraseek search` (a new process each time)."""
    times = []
    for i in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [SCRIPT, "search", QUESTIONS[i % len(QUESTIONS)], "--index", index, "-k", "5",
             "--precision", precision],
            check=True, capture_output=True,
        )  # fmt: skip
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def warm(index: Path, precision: str, n: int = 100) -> dict[str, dict[str, float]]:
    """p50/p95 ms of warm searches, dense and hybrid, k=10."""
    from paraseek.search import Searcher

    searcher = Searcher.open(index, precision=precision)
    out = {}
    for offset, mode in enumerate(("dense", "hybrid")):
        searcher.search("warm up the model and the caches", 10, mode=mode)
        times = []
        for q in questions(n, offset * n):
            started = time.perf_counter()
            searcher.search(q, 10, mode=mode)
            times.append((time.perf_counter() - started) * 1000)
        out[mode] = {"p50_ms": statistics.median(times), "p95_ms": percentile(times, 95)}
    # What the "nothing comes close" note adds: the closest cosine of each query just searched
    # (hybrid's: the embedder remembers its vector, as after a real search, so this is the
    # k=1 search), and the silence floor, calibrated once per process (the CLI) or per index
    # version (the app and the API).
    from paraseek.compare import closest_score, silence_floor

    times = []
    for q in questions(n, n):
        started = time.perf_counter()
        closest_score(searcher, q)
        times.append((time.perf_counter() - started) * 1000)
    out["closest"] = {"p50_ms": statistics.median(times), "p95_ms": percentile(times, 95)}
    floors = []
    for _ in range(3):
        started = time.perf_counter()
        silence_floor(searcher)
        floors.append((time.perf_counter() - started) * 1000)
    out["floor"] = {"median_ms": statistics.median(floors)}
    # Compare: each document's best passage (one scan of the cached vectors, built once per
    # index version, here by the untimed first call).
    searcher.compare("warm up the table of vectors")
    times = []
    for q in questions(20, 2 * n):
        started = time.perf_counter()
        searcher.compare(q)
        times.append((time.perf_counter() - started) * 1000)
    out["compare"] = {"p50_ms": statistics.median(times), "p95_ms": percentile(times, 95)}
    out["runtime"] = {"name": searcher.embedder.runtime}  # type: ignore[dict-item]
    return out


def build_scaled(folder: Path, passages: int, precision: str) -> dict[str, float]:
    """An index of about `passages` passages whose vectors are pre-cached (see module doc)."""
    import numpy as np

    from paraseek.corpus import Document, read_documents, split_document
    from paraseek.embedder import Embedder
    from paraseek.index import Writer
    from paraseek.index.database import connect, transaction
    from paraseek.index.rows import model_key, store, text_hash

    try:  # sentence vectors, where this checkout stores them
        from paraseek.index import sentence_vectors
    except ImportError:
        sentence_vectors = None  # type: ignore[assignment]
    embedder = Embedder(precision=precision)
    base = [
        p.text for d in read_documents([SAMPLE]) if isinstance(d, Document)
        for p in split_document(d, embedder.token_spans, embedder.max_tokens)
    ]  # fmt: skip
    base_vectors = embedder.embed_documents(base)
    corpus = folder / "corpus"
    corpus.mkdir(parents=True)
    rng = np.random.default_rng(5)
    per_document = 50
    index = folder / "index"
    with Writer(index, embedder):
        pass  # creates the schema
    conn = connect(index / "paraseek.db")
    key = model_key(embedder)
    for d in range(passages // per_document):
        chosen = rng.choice(len(base), per_document, replace=False)
        paragraphs = [f"{base[i]} [{d}-{j}]" for j, i in enumerate(chosen)]
        text = f"Generated document {d}\n\n" + "\n\n".join(paragraphs) + "\n"
        (corpus / f"doc{d:06}.txt").write_text(text, encoding="utf-8")
        document = next(iter(read_documents([corpus / f"doc{d:06}.txt"])))
        assert isinstance(document, Document)
        split = split_document(document, embedder.token_spans, embedder.max_tokens)
        vectors = []
        for p in split:  # a passage takes the vector of the first paragraph marked in it
            marks = re.findall(rf"\[{d}-(\d+)\]", p.text)
            j = int(marks[0]) if marks else int(rng.integers(per_document))
            v = base_vectors[chosen[j]] + rng.normal(0, 0.02, base_vectors.shape[1])
            vectors.append(v / np.linalg.norm(v))
        with transaction(conn):
            store(
                conn,
                key,
                [text_hash(p.embedded_text) for p in split],
                np.asarray(vectors, np.float32),
            )
            if sentence_vectors is not None:  # each sentence: its passage's vector plus noise
                rows = {}
                for p, v in zip(split, vectors, strict=True):
                    count = len(sentence_vectors.spans(p.context, p.text))
                    if count:
                        m = v + rng.normal(0, 0.05, (count, len(v)))
                        m /= np.linalg.norm(m, axis=1, keepdims=True)
                        rows[text_hash(p.embedded_text)] = sentence_vectors.encode(m)
                sentence_vectors.store(conn, key, rows)
    conn.close()
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", _INDEX_CHILD, str(corpus), str(index), precision, str(SCRIPT)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures["index_seconds"] = seconds
    return figures


# Runs `paraseek index` and prints its peak RSS. The figure comes from a grandchild of this
# process: a direct child of a big process reports the parent's high-water mark (Linux keeps it
# across fork and exec), which made an earlier run report this script's own 1.2 GB.
_INDEX_CHILD = """
import json, resource, subprocess, sys
corpus, index, precision, script = sys.argv[1:5]
code = subprocess.run([script, "index", corpus, "--index", index, "--precision", precision],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"exit": code, "peak_rss_mb": rss / 1024}))
"""


def main() -> None:
    from paraseek.embedder import Embedder
    from paraseek.index import Index, Writer

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="passage counts for the scale part")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as scratch:
        sample = Path(scratch) / "sample"
        with Writer(sample, Embedder(precision="auto")) as writer:
            writer.update([SAMPLE])
        results["sample_passages"] = Index(sample).stats()["passages"]
        results["cold_cli_s"] = {p: cold_cli(sample, p) for p in ("auto", "fp32")}
        results["warm_sample"] = {p: warm(sample, p) for p in ("auto", "fp32")}
        scaled = {}
        for size in [int(s) for s in args.sizes.split(",") if s]:
            folder = Path(scratch) / f"scale{size}"
            figures = build_scaled(folder, size, "auto")
            stats = Index(folder / "index").stats()
            figures["passages"] = stats["passages"]
            figures["documents"] = stats["documents"]
            figures["ann"] = stats["faiss_index"]
            figures["warm"] = warm(folder / "index", "auto")
            scaled[str(size)] = figures
            print(json.dumps({size: figures}), file=sys.stderr)
        results["scale"] = scaled
    print(markdown(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def markdown(results: dict) -> str:  # type: ignore[type-arg]
    """The figures as markdown tables."""
    cold, warm_sample = results["cold_cli_s"], results["warm_sample"]
    lines = [
        f"Sample corpus ({results['sample_passages']} passages), k=10 (cold: k=5, text output).",
        "",
        "| search | precision (runtime) | dense p50 / p95 ms | hybrid p50 / p95 ms | closest p50 ms | silence floor ms | compare p50 / p95 ms | cold CLI s (median of 5) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for precision in ("auto", "fp32"):
        w = warm_sample[precision]
        lines.append(
            f"| sample | {precision} ({w['runtime']['name']}) | {w['dense']['p50_ms']:.1f} / "
            f"{w['dense']['p95_ms']:.1f} | {w['hybrid']['p50_ms']:.1f} / {w['hybrid']['p95_ms']:.1f} "
            f"| {w['closest']['p50_ms']:.1f} | {w['floor']['median_ms']:.0f} "
            f"| {w['compare']['p50_ms']:.1f} / {w['compare']['p95_ms']:.1f} | {cold[precision]:.2f} |"
        )
    lines += [
        "",
        "At scale (generated documents, vectors pre-cached; `paraseek index` builds the real index):",
        "",
        "| passages (documents) | vector index | dense p50 / p95 ms | hybrid p50 / p95 ms | closest p50 ms | silence floor ms | compare p50 / p95 ms | indexing s | indexing peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for figures in results["scale"].values():
        w = figures["warm"]
        lines.append(
            f"| {figures['passages']:,} ({figures['documents']:,}) | {figures['ann']} "
            f"| {w['dense']['p50_ms']:.1f} / "
            f"{w['dense']['p95_ms']:.1f} | {w['hybrid']['p50_ms']:.1f} / {w['hybrid']['p95_ms']:.1f} "
            f"| {w['closest']['p50_ms']:.1f} | {w['floor']['median_ms']:.0f} "
            f"| {w['compare']['p50_ms']:.0f} / {w['compare']['p95_ms']:.0f} "
            f"| {figures['index_seconds']:.0f} | {figures['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
