"""Embedding on a CUDA GPU: the device auto picks, its agreement with fp32 on the CPU, its speed.

Run by hand on a machine with a CUDA GPU (not part of `make bench`, whose machine has none):
    .venv/bin/python benchmarks/gpu_embedding.py [--model M] [--n 20000] [--rounds 3]

Embeds the sample corpus's paragraphs with Embedder() (device auto: the GPU, float16 if it
passes the check) and with fp32 on the CPU, and compares the vectors and each query's top 5.
Then times auto and fp32 on the GPU on `n` paragraphs (the sample's, repeated with a counter),
alternating, after a warm-up; the best round counts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = (
    "Did Russia interfere in the US election?",
    "What role does religion play?",
    "Who is Michael Flynn?",
    "What is MAGA communism?",
    "Why did the working class turn away from the Democrats?",
)


def paragraphs() -> list[str]:
    """The sample corpus's paragraphs (blank-line separated, over 40 characters)."""
    found: list[str] = []
    for path in sorted((ROOT / "data" / "corpus").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        found += [p.strip() for p in text.split("\n\n") if len(p.strip()) > 40]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model name or folder (default: bundled)")
    parser.add_argument("--n", type=int, default=20000, help="paragraphs to time")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from paraseek.embedder import Embedder
    from paraseek.embedder.models import cuda_available

    if not cuda_available():
        raise SystemExit("torch sees no CUDA GPU here")
    import torch

    texts = paragraphs()
    start = time.perf_counter()
    auto = Embedder(args.model)
    print(
        f"GPU: {torch.cuda.get_device_name()}, {os.cpu_count()} CPU cores, torch {torch.__version__}"
    )
    print(
        f"auto: {auto.device} {auto.runtime} {auto.note!r}, loaded in {time.perf_counter() - start:.1f} s"
    )
    reference = Embedder(args.model, precision="fp32", device="cpu")
    cosines = np.sum(auto.embed_documents(texts) * reference.embed_documents(texts), axis=1)
    print(f"{len(texts)} paragraphs: cosine with fp32 on the CPU min {cosines.min():.5f}")
    ours, theirs = auto.embed_queries(list(QUESTIONS)), reference.embed_queries(list(QUESTIONS))
    a, b = auto.embed_documents(texts), reference.embed_documents(texts)
    same = [
        len(set(np.argsort(-(a @ q))[:5]) & set(np.argsort(-(b @ r))[:5]))
        for q, r in zip(ours, theirs, strict=True)
    ]
    print(f"top 5 shared with fp32 on the CPU, per question: {same}")
    fp32 = Embedder(args.model, precision="fp32", device="cuda")
    big = [f"{p} ({i})" for i in range(args.n // len(texts) + 1) for p in texts][: args.n]
    best = {auto.runtime: 0.0, fp32.runtime: 0.0}
    for embedder in (auto, fp32):
        embedder.embed_documents(big[:2048])  # warm-up: new shapes, the tokenizer's threads
    for _ in range(args.rounds):
        for embedder in (auto, fp32):
            start = time.perf_counter()
            embedder.embed_documents(big)
            best[embedder.runtime] = max(
                best[embedder.runtime], len(big) / (time.perf_counter() - start)
            )
    for runtime, rate in best.items():
        print(f"{runtime}: {rate:.0f} passages/s ({len(big)} paragraphs, best of {args.rounds})")


if __name__ == "__main__":
    main()
