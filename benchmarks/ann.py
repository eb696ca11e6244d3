"""Vector index benchmark: build, load, single-query latency, recall@10 and memory per kind.

Run: .venv/bin/python benchmarks/ann.py [--sizes 10000,100000,1000000] [--kinds flat,hnsw,ivf]
         [--queries 1000] [--json OUT] [--dir TMP]
For each size it generates a clustered collection (see `clustered`), then for each kind, plus
what `choose("auto", n)` picks, builds a `paraseek.index.ann.Vectors` the way the writer does
(training sample, adds in batches of 8,192), saves and reloads it, and times single queries
(k=10, warm, one at a time as a web server sends them) against exact brute force. Prints a
markdown table with the machine. Bounded: queries to an index stop after --query-seconds.
Defaults (10k, 100k, 1M) take about 25 minutes on 2 cores, most of it building HNSW (11 min)
and IVF (7 min) at 1M; --sizes 10000,100000 takes 4.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from run import machine  # noqa: E402  (benchmarks/run.py: cores, CPU model, flags)

from paraseek.index.ann import (  # noqa: E402
    AnnSpec,
    Vectors,
    choose,
    training_size,
)

DIMENSION = 384
K = 10
ADD_BATCH = 8192  # as the writer adds


def clustered(n: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic collection shaped like all-MiniLM-L6-v2 passage embeddings, and queries.

    Hierarchical Gaussian mixture in 384-d, normalised: a common offset (embeddings share a
    direction), topics, documents within a topic and passages within a document, each drawn
    with the same anisotropic covariance whose eigenvalues decay as i^-0.71 (a low effective
    dimension). Queries are held out: a random document's centre plus larger anisotropic and
    isotropic noise, since real questions sit off the passages' manifold. Topics grow as
    sqrt(n): a bigger collection covers more subjects and each more densely.

    The parameters were fitted on 4,000 real passage embeddings (SciFact abstracts in 60-word
    passages) and 1,109 query embeddings (SciFact claims): mean pair cosine 0.10 (real 0.11),
    passage nearest-neighbour cosine 0.84 / 10th 0.57 (real 0.86 / 0.50), query nearest 0.54 /
    10th 0.38 (real 0.57 / 0.44), variance in the top 10 / 50 / 100 principal axes 27 / 60 /
    76% (real 28 / 60 / 78%), local intrinsic dimension at the queries 24 (real 24); i.i.d.
    Gaussian vectors instead have 4 / 20 / 37% and 109, far harder than any text collection.

    Returns:
        (passages, queries): float32 (n, 384) and (queries, 384), unit rows.
    """
    rng = np.random.default_rng(seed)
    d = DIMENSION
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    scale = np.arange(1, d + 1) ** (-0.709 / 2)
    shape = (basis * (scale / np.sqrt((scale**2).sum()))).T.astype(np.float32)

    def draw(rows: int) -> np.ndarray:
        return rng.standard_normal((rows, d), dtype=np.float32) @ shape

    offset = rng.standard_normal(d).astype(np.float32)
    offset *= 0.487 / np.linalg.norm(offset)
    topics = draw(max(4, round(150 * np.sqrt(n / 4000))))
    documents = max(1, round(n / 3.18))
    weights = rng.lognormal(0, 1, len(topics))
    centres = topics[rng.choice(len(topics), documents, p=weights / weights.sum())]
    centres += 0.896 * draw(documents)
    owner = np.repeat(np.arange(documents), rng.geometric(1 / 3.18, documents))[:n]
    owner = np.concatenate([owner, rng.integers(0, documents, n - len(owner))])
    rng.shuffle(owner)
    passages = np.empty((n, d), np.float32)
    for begin in range(0, n, 65536):
        rows = owner[begin : begin + 65536]
        passages[begin : begin + len(rows)] = offset + centres[rows] + 0.606 * draw(len(rows))
    passages /= np.linalg.norm(passages, axis=1, keepdims=True)
    noise = float(0.505 / np.sqrt(d)) * rng.standard_normal((queries, d), dtype=np.float32)
    asked = offset + centres[rng.integers(0, documents, queries)] + 2.026 * draw(queries) + noise
    asked /= np.linalg.norm(asked, axis=1, keepdims=True)
    return passages, asked


def exact_top(passages: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the k highest inner products per query, int64 (queries, k), by BLAS."""
    best = np.zeros((len(queries), 0), np.int64)
    best_scores = np.zeros((len(queries), 0), np.float32)
    for begin in range(0, len(passages), 200_000):
        scores = queries @ passages[begin : begin + 200_000].T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best = np.hstack([best, top + begin])
        best_scores = np.hstack([best_scores, np.take_along_axis(scores, top, 1)])
        keep = np.argsort(-best_scores, axis=1)[:, :k]
        best, best_scores = (
            np.take_along_axis(best, keep, 1),
            np.take_along_axis(best_scores, keep, 1),
        )
    return best


def build(spec: AnnSpec, passages: np.ndarray, ids: np.ndarray) -> Vectors:
    """A `Vectors` of `passages`, trained on a random sample and added in batches."""
    n = len(passages)
    size = training_size(spec, n)
    sample = None
    if size:
        sample = passages[np.random.default_rng(1).choice(n, size, replace=False)]
    vectors = Vectors.create(spec, DIMENSION, sample)
    for begin in range(0, n, ADD_BATCH):
        vectors.add(passages[begin : begin + ADD_BATCH], ids[begin : begin + ADD_BATCH])
    return vectors


def query(
    vectors: Vectors, queries: np.ndarray, truth_ids: np.ndarray, seconds: float
) -> dict[str, float]:
    """Single warm queries until done or `seconds` pass: latency percentiles and recall@10."""
    for one in queries[:50]:
        vectors.search(one[None], K)  # warm caches and pages
    wall, cpu, found = [], [], []
    deadline = time.perf_counter() + seconds
    for one in queries:
        started, started_cpu = time.perf_counter(), time.thread_time()
        _, hit = vectors.search(one[None], K)
        wall.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - started_cpu)
        found.append(hit[0])
        if time.perf_counter() > deadline:
            break
    pairs = zip(found, truth_ids[: len(found)], strict=True)
    return {
        "p50_ms": round(1000 * float(np.median(wall)), 3),
        "p95_ms": round(1000 * float(np.percentile(wall, 95)), 3),
        "cpu_p50_ms": round(1000 * float(np.median(cpu)), 3),  # near p50 on an idle machine
        "queries": len(wall),
        "recall@10": round(float(np.mean([len(set(f) & set(t)) / K for f, t in pairs])), 4),
    }


def measure(
    spec: AnnSpec, passages: np.ndarray, queries: np.ndarray, truth: np.ndarray,
    folder: Path, seconds: float, deletes: bool,
) -> list[dict[str, object]]:  # fmt: skip
    """Build, save, load and query one index: one table row, two with `deletes`.

    With `deletes`, 20% of the passages (the writer's rebuild threshold) are then removed from
    the loaded index and it is queried again against exact search over the rest.
    """
    n = len(passages)
    ids = np.arange(1, n + 1, dtype=np.int64) * 3  # sparse, like rowids after deletes
    started = time.perf_counter()
    vectors = build(spec, passages, ids)
    seconds_to_build = time.perf_counter() - started
    file = folder / f"{spec.kind}-{n}.faiss"
    vectors.save(file)
    memory, size = vectors.memory_bytes(), file.stat().st_size
    del vectors
    started = time.perf_counter()
    vectors = Vectors.load(file)
    load = time.perf_counter() - started
    file.unlink()
    base = {"n": n, "index": spec.describe(), "kind": spec.kind}
    rows = [
        base | {"build_s": round(seconds_to_build, 2), "load_s": round(load, 3)}
        | query(vectors, queries, ids[truth], seconds)
        | {"bytes_per_passage": round(memory / n), "file_bytes_per_passage": round(size / n)}
    ]  # fmt: skip
    if deletes:
        gone = np.random.default_rng(2).random(n) < 0.2
        vectors.remove(ids[gone])
        kept = np.flatnonzero(~gone)
        kept_truth = ids[kept[exact_top(passages[kept], queries, K)]]
        rows.append(base | {"index": spec.describe() + ", 20% deleted"}
                    | query(vectors, queries, kept_truth, seconds))  # fmt: skip
    for row in rows:
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def main() -> None:
    import faiss

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--kinds", default="flat,hnsw,ivf")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--query-seconds", type=float, default=15.0, help="per index at most")
    parser.add_argument("--json", help="write the rows here")
    parser.add_argument("--dir", help="where to write the index files (default: a temp dir)")
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="paraseek-ann-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        passages, queries = clustered(n, args.queries)
        truth = exact_top(passages, queries, K)
        specs = [choose(kind, n) for kind in args.kinds.split(",")]
        auto = choose("auto", n)
        for spec in dict.fromkeys([*specs, auto]):
            deletes = spec == auto and spec.kind != "flat"
            for row in measure(spec, passages, queries, truth, folder, args.query_seconds, deletes):
                rows.append(row | {"auto": spec == auto})
        del passages, queries
    print(f"\nMachine: {machine()}; faiss {faiss.__version__}, {faiss.omp_get_max_threads()} "
          "OpenMP threads for builds; queries one at a time.")  # fmt: skip
    print("Data: `clustered` (hierarchical mixture fitted to real all-MiniLM-L6-v2 embeddings), "
          f"{args.queries} held-out queries, k={K}, recall@10 against exact search.\n")  # fmt: skip
    print("| passages | index | build s | load s | p50 ms | p95 ms | recall@10 | bytes/passage "
          "(file) |\n|---:|---|---:|---:|---:|---:|---:|---:|")  # fmt: skip
    for r in rows:
        mark = " **(auto)**" if r["auto"] else ""
        size = f"{r['bytes_per_passage']} ({r['file_bytes_per_passage']})" if "load_s" in r else ""
        print(f"| {r['n']:,} | {r['index']}{mark} | {r.get('build_s', '')} | "
              f"{r.get('load_s', '')} | {r['p50_ms']} | {r['p95_ms']} | {r['recall@10']} | "
              f"{size} |")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
