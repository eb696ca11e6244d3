"""Embedding on a GPU short of memory: how often it runs out, and what that costs.

Run by hand on a machine with a CUDA GPU (not part of `make bench`, whose machine has none):
    .venv/bin/python benchmarks/gpu_memory.py [--model M] [--batches 24] [--fractions 0.004,0.002]

Caps torch's share of the GPU's memory (`set_per_process_memory_fraction`) so that a batch of
256 long passages does not fit, then embeds `batches` such batches twice, in alternation:
as paraseek does (the part size that fitted is kept for the next batches) and starting every
batch at its full size, as paraseek did before 2026-11-23. Prints passages per second, how many
calls ran out of memory, and the largest difference from the vectors of an uncapped run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BATCH = 256


def long_passages(n: int) -> list[str]:
    """`n` texts of about 1,500 characters, from the sample corpus's paragraphs."""
    found: list[str] = []
    for path in sorted((ROOT / "data" / "corpus").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        found += [p.strip() for p in text.split("\n\n") if len(p.strip()) > 40]
    texts = [" ".join([p] * 4)[:1500] for p in found]
    return (texts * (n // len(texts) + 1))[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model name or folder (default: bundled)")
    parser.add_argument("--batches", type=int, default=24)
    parser.add_argument("--fractions", default="0.004,0.003,0.002", help="of the GPU's memory")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from paraseek.embedder import Embedder
    from paraseek.errors import DeviceUnavailableError

    if not torch.cuda.is_available():
        raise SystemExit("torch sees no CUDA GPU here")
    texts = long_passages(BATCH * args.batches)
    encoder: Any = Embedder(args.model, device="cuda", precision="fp32")._encoder
    reference = np.concatenate(
        [encoder.encode(texts[i : i + BATCH], "") for i in range(0, len(texts), BATCH)]
    )
    calls, failed = [0], [0]
    plain = encoder._encode

    def counted(batch: list[str], prompt: str) -> Any:
        calls[0] += 1
        try:
            return plain(batch, prompt)
        except torch.cuda.OutOfMemoryError:
            failed[0] += 1
            raise

    encoder._encode = counted
    print(f"{torch.cuda.get_device_name()}; {len(texts)} passages in batches of {BATCH}")
    print("| memory share | batches start at | passages/s | out of memory / calls | max diff |")
    print("|---:|---|---:|---:|---:|")
    for fraction in (float(f) for f in args.fractions.split(",")):
        for keep in (False, True, False, True):
            torch.cuda.empty_cache()
            torch.cuda.set_per_process_memory_fraction(fraction)
            encoder._gpu_part, encoder._clean = 0, 0
            calls[0] = failed[0] = 0
            torch.cuda.synchronize()
            start = time.perf_counter()
            try:
                out = []
                for i in range(0, len(texts), BATCH):
                    if not keep:  # as before: every batch first tried whole
                        encoder._gpu_part, encoder._clean = 0, 0
                    out.append(encoder.encode(texts[i : i + BATCH], ""))
            except DeviceUnavailableError as exc:
                print(f"| {fraction} | {'the kept size' if keep else 'full size'} | {exc} |")
                continue
            torch.cuda.synchronize()
            rate = len(texts) / (time.perf_counter() - start)
            diff = float(np.abs(np.concatenate(out) - reference).max())
            where = "the kept size" if keep else "full size"
            print(f"| {fraction} | {where} | {rate:.0f} | {failed[0]} / {calls[0]} | {diff:.1e} |")


if __name__ == "__main__":
    main()
