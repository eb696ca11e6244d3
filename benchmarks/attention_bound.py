"""How fast attention alone can run here: the floor under any attention kernel we could write.

Run by hand (not part of `make bench`):
    .venv/bin/python benchmarks/attention_bound.py [--length 136] [--batch 8]

all-MiniLM-L6-v2 has 6 layers of 12 heads of 32 dimensions; the sample passages average 136
tokens and the int8 path runs batches of 8. For those shapes this times, on 2 threads, torch's
batched matrix multiplies (oneDNN) with and without the softmax between them, its fused
scaled_dot_product_attention, the softmax alone, and its int8 matrix multiply (`_int_mm`, one
head at a time: it takes 2-D matrices only). No masking, scaling or head reshaping is counted,
so a real kernel could only be slower. Times are per passage, all 6 layers, median of 5 rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

LAYERS, HEADS, DIM = 6, 12, 32


def per_passage_ms(run: Callable[[], object], batch: int, repeats: int = 100) -> float:
    """Median over 5 rounds of one call's time, scaled to one passage and every layer."""
    for _ in range(10):
        run()
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeats):
            run()
        rounds.append((time.perf_counter() - started) / repeats)
    return statistics.median(rounds) * LAYERS / batch * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=136, help="tokens per passage")
    parser.add_argument("--batch", type=int, default=8, help="passages per inference")
    args = parser.parse_args()
    torch.set_num_threads(2)
    n, length = args.batch * HEADS, args.length
    q, k, v = (torch.randn(n, length, DIM) for _ in range(3))
    scores = torch.bmm(q, k.transpose(1, 2))
    q8 = torch.randint(-127, 128, (length, DIM), dtype=torch.int8)
    k8 = torch.randint(-127, 128, (DIM, length), dtype=torch.int8)
    shaped = [t.view(args.batch, HEADS, length, DIM) for t in (q, k, v)]
    runs: dict[str, Callable[[], object]] = {
        "fp32 bmm, softmax, bmm": lambda: torch.bmm(torch.softmax(torch.bmm(q, k.mT), -1), v),
        "fp32 bmm, bmm (no softmax)": lambda: torch.bmm(torch.bmm(q, k.mT), v),
        "fp32 scaled_dot_product_attention": lambda: (
            torch.nn.functional.scaled_dot_product_attention(*shaped)
        ),
        "softmax alone": lambda: torch.softmax(scores, -1),
        "int8 _int_mm, Q K^T only": lambda: [torch._int_mm(q8, k8) for _ in range(n)],
    }
    macs = 2 * LAYERS * HEADS * length * length * DIM  # per passage, both products
    print(f"{args.batch} passages of {length} tokens; {macs / 1e9:.3f} G multiply-adds per passage")
    print("| kernel | ms per passage (6 layers) | G multiply-adds/s |")
    print("|---|---:|---:|")
    for name, run in runs.items():
        ms = per_passage_ms(run, args.batch, repeats=20 if "int8" in name else 100)
        work = macs / 2 if "int8" in name else macs
        rate = "" if name == "softmax alone" else f"{work / ms / 1e6:.0f}"
        print(f"| {name} | {ms:.3f} | {rate} |")


if __name__ == "__main__":
    main()
