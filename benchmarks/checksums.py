"""What the integrity checksums cost: the vector file's CRC-32s and each cached vector's.

Run: .venv/bin/python benchmarks/checksums.py [--size 1000000] [--dir TMP]
Builds a flat (exact) vector file of --size random 384-d unit vectors the way the writer does
and an SQLite embedding cache of the same vectors, then times, best of three, warm page cache:
- loading the vector file (`Vectors.load`, every byte checked) against what the checks add
  (the CRC-32 of FAISS's bytes, read a chunk at a time);
- scanning the whole cache, decoding each vector through its checksum (`cache.decode`, what
  `paraseek check` and the writer's repair read) against plain `np.frombuffer`;
- decoding the k = 10 vectors of one answer (`similar`, `compare`);
- the full scan of `paraseek check` and `paraseek repair` (`repair.scan`): every passage's text
  hashed again (SHA-256, passages of about 600 characters) and its cached vector checked.
At 1M passages it writes about 4 GB under --dir and takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from run import machine  # noqa: E402  (benchmarks/run.py: cores, CPU model, flags)

from paraseek.corpus import embedded_text  # noqa: E402
from paraseek.index.ann import Vectors, _crc, choose  # noqa: E402
from paraseek.index.database import SCHEMA  # noqa: E402
from paraseek.index.repair import scan  # noqa: E402
from paraseek.index.rows import decode, encode, text_hash  # noqa: E402

DIMENSION = 384
BATCH = 8192


def best(action: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of `repeat` runs of `action`, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="paraseek-checksums-") as scratch:
        folder = Path(scratch)
        vectors = Vectors.create(choose("flat", args.size, DIMENSION), DIMENSION)
        database = sqlite3.connect(folder / "cache.db", isolation_level=None)
        database.execute("PRAGMA page_size=16384")
        database.execute("PRAGMA journal_mode=WAL")
        database.executescript(SCHEMA)
        database.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("model", "m"), ("runtime", "torch-fp32"), ("dimension", str(DIMENSION))])  # fmt: skip
        words = np.array("the of and a to in is that it was for on are as with his they at be "
                         "this from have or by one had not but what all were when".split())  # fmt: skip
        for begin in range(0, args.size, BATCH):
            count = min(BATCH, args.size - begin)
            batch = rng.standard_normal((count, DIMENSION)).astype(np.float32)
            batch /= np.linalg.norm(batch, axis=1, keepdims=True)
            vectors.add(batch, np.arange(begin + 1, begin + count + 1))
            texts = [" ".join(t) for t in rng.choice(words, (count, 150))]
            database.execute("BEGIN")
            database.executemany(  # a document of 100 passages
                "INSERT OR IGNORE INTO documents VALUES (?, ?, '', NULL, '', '', 100, '', 0, NULL)",
                ((f"d{i // 100}", f"/d{i // 100}") for i in range(begin, begin + count)),
            )
            database.executemany(
                "INSERT INTO passages VALUES (?, ?, ?, 0, 0, ?, '', ?)",
                ((begin + i + 1, f"d{(begin + i) // 100}", (begin + i) % 100, t,
                  text_hash(embedded_text("", t))) for i, t in enumerate(texts)),
            )  # fmt: skip
            database.executemany(
                "INSERT INTO embeddings VALUES ('m', ?, ?)",
                (
                    (text_hash(embedded_text("", t)), encode(v))
                    for t, v in zip(texts, batch, strict=True)
                ),
            )
            database.execute("COMMIT")
        file = folder / "vectors.1.faiss"
        vectors.save(file)
        size = file.stat().st_size
        load = best(lambda: Vectors.load(file))
        with open(file, "rb") as f:
            crc = best(lambda: _crc(f, size))
        full = best(lambda: scan(database, "m"), 1)
        rows = "SELECT vector FROM embeddings"
        checked = best(
            lambda: sum(decode(b, DIMENSION) is not None for (b,) in database.execute(rows)), 2
        )
        plain = best(
            lambda: sum(len(np.frombuffer(b, np.float32)) for (b,) in database.execute(rows)), 2
        )
        blobs = [b for (b,) in database.execute(f"{rows} LIMIT 10")]
        answer = best(lambda: [decode(b, DIMENSION) for b in blobs], 1000)
        raw = best(lambda: zlib.crc32(blobs[0]), 1000)
        database.close()
    print(f"machine: {machine()}")
    print(f"{args.size:,} passages, {DIMENSION}-d, flat vector file {size / 2**20:,.0f} MiB\n")
    print("| what | with checksums | of which the checks | share |")
    print("|---|---:|---:|---:|")
    print(f"| load the vector file (`Vectors.load`) | {load:.2f} s | {crc:.2f} s | "
          f"{crc / load:.0%} |")  # fmt: skip
    print(f"| scan every cached vector (part of the full scan) | {checked:.2f} s | "
          f"{max(checked - plain, 0):.2f} s | {max(checked - plain, 0) / checked:.0%} |")  # fmt: skip
    print(f"| the full scan of `check` and `repair` (`repair.scan`) | {full:.2f} s | - | - |")
    print(f"| decode the 10 cached vectors of one answer | {answer * 1e6:.0f} µs | "
          f"{raw * 10 * 1e6:.0f} µs | - |")  # fmt: skip


if __name__ == "__main__":
    main()
