"""Where embedding time goes, fp32 against int8: linear layers, attention and the rest, per passage.

Run: .venv/bin/python benchmarks/embedding_profile.py [--n N] [--json OUT]

Embeds the sample passages as `paraseek index` does, with precision fp32 (torch) and auto
(OpenVINO int8). Each path is timed unprofiled (passages/s), then profiled once to split its time
into parts: torch's profiler for fp32, OpenVINO's per-node counters for int8. The parts' shares
of the profiled run are applied to the unprofiled time. The last line says what the 4x target
of issue 5 would need from each part.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

PARTS = ("linear layers", "attention", "everything else")


def _timed(embedder: Any, texts: list[str], rounds: int = 3) -> float:
    """Milliseconds per passage: the best of `rounds` passes after a warm-up."""
    embedder.embed_documents(texts[:32])
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        embedder.embed_documents(texts)
        best = min(best, time.perf_counter() - start)
    return best * 1000 / len(texts)


def fp32_shares(embedder: Any, texts: list[str]) -> dict[str, float]:
    """The fp32 (torch) path's time by part, from torch's profiler: fractions summing to 1."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        embedder.embed_documents(texts)
    parts: Counter[str] = Counter()
    for event in prof.key_averages():
        key = event.key
        if key in ("aten::addmm", "aten::mm"):
            parts[PARTS[0]] += event.self_cpu_time_total
        elif "scaled_dot_product" in key or key in ("aten::bmm", "aten::_softmax"):
            parts[PARTS[1]] += event.self_cpu_time_total
        else:
            parts[PARTS[2]] += event.self_cpu_time_total
    total = sum(parts.values())
    return {part: parts[part] / total for part in PARTS}


def int8_shares(texts: list[str]) -> dict[str, float]:
    """The int8 (OpenVINO) path's time by part, from its per-node counters: fractions."""
    from paraseek.embedder import Embedder, openvino_runtime

    openvino_runtime._CONFIG["PERF_COUNT"] = True
    try:
        embedder = Embedder(precision="auto")
    finally:
        del openvino_runtime._CONFIG["PERF_COUNT"]
    encoder = embedder._encoder
    if encoder.runtime != openvino_runtime.RUNTIME:
        raise SystemExit(f"precision auto runs {encoder.runtime} here: {embedder.note}")
    request, parts = encoder._request, Counter[str]()
    infer = request.infer

    def counted(feed: dict[str, np.ndarray]) -> Any:
        result = infer(feed)
        for node in request.profiling_info:
            seconds = node.real_time.total_seconds()
            if node.node_type.startswith("FullyConnected"):
                parts[PARTS[0]] += seconds
            elif ".attention.self" in node.node_name and not node.node_type.startswith("Fully"):
                parts[PARTS[1]] += seconds
            else:
                parts[PARTS[2]] += seconds
        return result

    encoder._request = type("Counted", (), {"infer": staticmethod(counted)})()
    embedder.embed_documents(texts[:32])
    parts.clear()
    embedder.embed_documents(texts)
    total = sum(parts.values())
    return {part: parts[part] / total for part in PARTS}


def multiply_adds(texts: list[str]) -> dict[str, float]:
    """Multiply-adds per passage (in G) of the linear layers and of attention, from the model."""
    import torch

    from paraseek.embedder import Embedder

    embedder = Embedder(precision="fp32")
    model = embedder._encoder.model
    layers = [
        m for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and "pooler" not in name
    ]  # fmt: skip
    tokens = np.array([len(embedder.token_spans(t)) + 2 for t in texts], dtype=np.float64)
    config = model[0].auto_model.config
    linear = tokens.mean() * sum(m.in_features * m.out_features for m in layers)
    attention = 2 * config.num_hidden_layers * config.hidden_size * float(np.mean(tokens**2))
    return {PARTS[0]: linear / 1e9, PARTS[1]: attention / 1e9, "tokens": float(tokens.mean())}


def fp32_gemm_rate() -> float:
    """GMAC/s of a large float32 matrix multiply in torch on every core: about the CPU's fp32 peak."""
    import torch

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(3):
        a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2.0:
        a @ b
        count += 1
    return 2048**3 * count / (time.perf_counter() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="passages (default: all)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from embedding import cpu, passages

    from paraseek.embedder import Embedder

    texts = passages(args.n)
    fp32, auto = Embedder(precision="fp32"), Embedder(precision="auto")
    ms = {"fp32": _timed(fp32, texts), "int8": _timed(auto, texts)}
    shares = {"fp32": fp32_shares(fp32, texts), "int8": int8_shares(texts)}
    part_ms = {k: {p: ms[k] * shares[k][p] for p in PARTS} for k in ms}
    macs = multiply_adds(texts)
    # AVX-512 VNNI does 64 int8 multiply-adds per instruction where an FMA does 16 in float32,
    # on the same ports: the int8 peak is 4x the float32 peak.
    int8_peak = 4 * fp32_gemm_rate()
    info = cpu()
    print(f"CPU: {info['name']}, {info['cores']} cores, flags: {' '.join(info['flags'])}")
    print(
        f"{len(texts)} passages of {macs['tokens']:.0f} tokens on average; per passage "
        f"{macs[PARTS[0]]:.2f} G multiply-adds in the linear layers, {macs[PARTS[1]]:.3f} G in "
        f"attention. fp32 is torch ({fp32.runtime}), int8 is precision auto ({auto.runtime}).\n"
    )
    print("| part | fp32 ms/passage | int8 ms/passage | int8 speed-up | int8 GMAC/s |")
    print("|---|---:|---:|---:|---:|")
    for part in PARTS:
        f, i = part_ms["fp32"][part], part_ms["int8"][part]
        rate = f"{macs[part] / i * 1000:.0f}" if part in macs else ""
        print(f"| {part} | {f:.2f} | {i:.2f} | {f / i:.2f}x | {rate} |")
    print(
        f"| **total** | {ms['fp32']:.2f} | {ms['int8']:.2f} | **{ms['fp32'] / ms['int8']:.2f}x** |"
        " |\n"
    )
    print(verdict(ms, part_ms, macs, int8_peak))
    if args.json:
        figures = {"ms_per_passage": ms, "parts_ms": part_ms, "multiply_adds_g": macs,
                   "int8_peak_gmac_s": int8_peak, "cpu": info}  # fmt: skip
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def verdict(
    ms: dict[str, float], part_ms: dict[str, dict[str, float]], macs: dict[str, float],
    int8_peak: float,
) -> str:  # fmt: skip
    """Whether int8 reaches 4x fp32, and if not, what each part would need."""
    budget = ms["fp32"] / 4
    linear, attention, rest = (part_ms["int8"][p] for p in PARTS)
    rate = macs[PARTS[0]] / linear * 1000
    if rate > int8_peak:  # torch's float32 is well short of this CPU's peak (MKL on AMD)
        peak = (
            f" The int8 linear layers run at {rate:.0f} GMAC/s, more than 4x the "
            f"{int8_peak / 4:.0f} GMAC/s of a large fp32 matrix multiply in torch: torch's "
            "float32 runs well below this CPU's peak, so that is no estimate of the int8 peak."
        )
    else:
        peak = (
            f" At this CPU's int8 peak, about {int8_peak:.0f} GMAC/s (4x the "
            f"{int8_peak / 4:.0f} GMAC/s of a large fp32 matrix multiply in torch), the linear "
            f"layers would take {macs[PARTS[0]] / int8_peak * 1000:.2f} ms."
        )
    if ms["int8"] <= budget:
        return (
            f"4x is met: int8 takes {ms['int8']:.2f} ms per passage, where 4x allows "
            f"{budget:.2f} ms." + peak
        )
    attention_left, linear_left = budget - linear - rest, budget - attention - rest
    return (
        f"4x would need int8 at {budget:.2f} ms per passage. With the linear layers and the rest "
        f"as they are, attention would have to fit in {attention_left:.2f} ms instead of "
        f"{attention:.2f} ms"
        + (
            f", {attention / attention_left:.1f} times faster."
            if attention_left > 0
            else ": impossible even if attention took no time."
        )
        + f" With attention and the rest as they are, the linear layers would have to fit in "
        f"{linear_left:.2f} ms ({macs[PARTS[0]] / max(linear_left, 1e-9) * 1000:.0f} GMAC/s)."
        + peak
    )


if __name__ == "__main__":
    main()
