"""How close int8 embedding can get to 4x fp32 here, with attention faster or free.

Run by hand (not part of `make bench`), on an idle machine:
    .venv/bin/python benchmarks/attention_ceiling.py [--rounds 3]

Embeds the sample passages with fp32, with auto (OpenVINO int8, whose attention runs in float),
and with two edits of auto's own int8 graph, timed in alternating rounds in one run:
- "int8 kernel": each layer's attention is done by benchmarks/int8_attention.c (AVX-512 VNNI,
  built here with gcc), called from an OpenVINO custom operation;
- "custom operation doing nothing": the same custom operation with no work, so the cost of
  calling out of OpenVINO shows apart from the kernel's;
- "free attention": each layer's attention is replaced by Q + K + V, which costs next to
  nothing but keeps the Q and K projections that attention needs. No attention can be faster,
  so this is the ceiling for any attention kernel in this graph.
All variants tokenize, pad and pool as paraseek does (batches of 8, longest first); the table
gives passages per second, the ratio to fp32 and the worst cosine to fp32 over the passages.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# The kernel's OpenMP threads must sleep, not spin, between calls: OpenVINO's threads need the
# same 2 cores. torch loads the same OpenMP runtime and reads this once, so it is set before
# torch is imported; fp32 ran at 56.1 passages/s with it and 56.5-57.2 without (noise).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

HEADS, DIM, BATCH = 12, 32, 8
LAYER = "__module.auto.encoder.layer.{}."


def int8_folder() -> Path:
    """The newest passed OpenVINO int8 build of the default model in paraseek's cache."""
    from paraseek.embedder.cache import cache_root

    builds = [
        b
        for b in cache_root().glob("all-MiniLM-L6-v2-*/openvino-int8-*/build.json")
        if json.loads(b.read_text()).get("passed")
    ]
    if not builds:
        raise SystemExit("no int8 build in the cache: run paraseek index once with auto first")
    return max(builds, key=lambda b: b.stat().st_mtime).parent


def build_kernel(where: Path) -> Any:
    """benchmarks/int8_attention.c compiled for this CPU and loaded, or None if it cannot be."""
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if "avx512_vnni" not in flags:
        print("no avx512_vnni on this CPU: the int8 kernel is left out")
        return None
    lib = where / "libint8attention.so"
    source = ROOT / "benchmarks" / "int8_attention.c"
    command = ["gcc", "-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", str(source)]
    subprocess.run([*command, "-o", str(lib)], check=True)
    kernel = ctypes.CDLL(str(lib))
    pointer = ctypes.c_void_p
    kernel.attention.argtypes = [pointer] * 4 + [ctypes.c_int] * 3 + [pointer, ctypes.c_float]
    return kernel


def edited_graph(folder: Path, replace: Callable[[Any, Any, Any, Any], Any]) -> Any:
    """auto's int8 graph with each layer's attention output replaced by replace(q, k, v, mask).

    q, k, v: the projections as (batch, tokens, 384); the result must have the same shape.
    """
    import openvino as ov

    model = ov.Core().read_model(str(folder / "model.xml"))
    nodes = {op.get_friendly_name(): op for op in model.get_ordered_ops()}
    mask = next(p for p in model.get_parameters() if p.get_friendly_name() == "attention_mask")
    for layer in range(6):
        prefix = LAYER.format(layer)
        q = nodes[prefix + "attention.self.query/aten::linear/Add/fq_output_0"].output(0)
        k = nodes[prefix + "attention.self.key/aten::linear/Add/fq_output_0"].output(0)
        v = nodes[prefix + "attention.self.value/aten::linear/Add"].output(0)
        context = nodes[prefix + "attention.self/aten::reshape/Reshape_1"].output(0)
        new = replace(q, k, v, mask.output(0))
        for target in list(context.get_target_inputs()):
            target.replace_source_output(new)
    model.validate_nodes_and_infer_types()
    return model


def kernel_op(kernel: Any, work: bool = True) -> Any:
    """An OpenVINO custom operation class that runs `kernel` on (q, k, v, mask).

    With work=False it only sets its output's shape: the cost of the custom operation itself.
    """
    from openvino import Op

    class Int8Attention(Op):  # type: ignore[misc]
        def __init__(self, inputs: Any = None) -> None:
            super().__init__(self, inputs)

        def validate_and_infer_types(self) -> None:
            self.set_output_type(0, self.get_input_element_type(0), self.get_input_partial_shape(0))

        def clone_with_new_inputs(self, new_inputs: Any) -> Any:
            return Int8Attention(new_inputs)

        def get_type_name(self) -> str:
            return "Int8Attention"

        def visit_attributes(self, visitor: Any) -> bool:
            return True

        def has_evaluate(self) -> bool:
            return True

        def evaluate(self, outputs: Any, inputs: Any) -> bool:
            q, k, v, mask = (np.ascontiguousarray(t.data) for t in inputs)
            outputs[0].shape = inputs[0].shape
            if not work:
                return True
            out = outputs[0].data
            lengths = np.ascontiguousarray(mask.sum(1), dtype=np.int32)
            batch, seq = q.shape[:2]
            scale = ctypes.c_float(1 / np.sqrt(DIM))
            pointers = [x.ctypes.data for x in (q, k, v, out)]
            done = kernel.attention(*pointers, batch, seq, HEADS, lengths.ctypes.data, scale)
            return bool(done == 0)

    return Int8Attention


def embedder_of(folder: Path, model: Any) -> Callable[[list[str]], np.ndarray]:
    """Embed texts with `model` (an OpenVINO graph of the int8 build) as paraseek does."""
    import openvino as ov

    from paraseek.embedder.base import ModelSpec
    from paraseek.embedder.openvino_runtime import _CONFIG, Tokens
    from paraseek.embedder.pooling import normalise, pool

    spec = ModelSpec.from_json(json.loads((folder / "build.json").read_text())["spec"])
    tokens = Tokens(folder, spec)
    request = ov.Core().compile_model(model, "CPU", dict(_CONFIG)).create_infer_request()

    def embed(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), spec.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for begin in range(0, len(order), BATCH):
            rows = order[begin : begin + BATCH]
            feed = tokens.batch([texts[i] for i in rows], "")
            hidden = request.infer(feed, share_inputs=True, share_outputs=True)[0]
            out[rows] = normalise(pool(hidden, feed["attention_mask"], spec.pooling))
        return out

    return embed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed passes of each variant")
    args = parser.parse_args()
    from embedding import cpu, passages
    from openvino import opset13 as ops

    from paraseek.embedder import Embedder

    texts = passages(None)
    fp32, auto = Embedder(precision="fp32"), Embedder(precision="auto")
    folder = int8_folder()
    variants: dict[str, Callable[[list[str]], np.ndarray]] = {
        "fp32": fp32.embed_documents,
        "auto (OpenVINO int8, float attention)": auto.embed_documents,
    }
    temp = tempfile.TemporaryDirectory(prefix="paraseek-attention-")
    kernel = build_kernel(Path(temp.name))
    if kernel is not None:
        op = kernel_op(kernel)
        graph = edited_graph(folder, lambda q, k, v, mask: op([q, k, v, mask]).output(0))
        variants["int8 kernel attention"] = embedder_of(folder, graph)
        idle = kernel_op(kernel, work=False)
        graph = edited_graph(folder, lambda q, k, v, mask: idle([q, k, v, mask]).output(0))
        variants["custom operation doing nothing"] = embedder_of(folder, graph)
    free = edited_graph(folder, lambda q, k, v, mask: ops.add(ops.add(q, k), v).output(0))
    variants["free attention (Q + K + V)"] = embedder_of(folder, free)

    reference = fp32.embed_documents(texts)
    cosine = {
        name: float((embed(texts) * reference).sum(1).min()) for name, embed in variants.items()
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, embed in variants.items():
            start = time.perf_counter()
            embed(texts)
            rates[name].append(len(texts) / (time.perf_counter() - start))
    speed = {name: statistics.median(r) for name, r in rates.items()}
    machine = cpu()
    print(f"{len(texts)} sample passages, median of {args.rounds} alternating rounds")
    print(f"CPU: {machine['name']}, {machine['cores']} cores, {' '.join(machine['flags'])}")
    print("| variant | passages/s | x fp32 | min cosine to fp32 |")
    print("|---|---:|---:|---:|")
    for name, rate in speed.items():
        note = " (not an embedding)" if name.startswith(("free", "custom")) else ""
        ratio = rate / speed["fp32"]
        print(f"| {name} | {rate:.1f} | {ratio:.2f}x | {cosine[name]:.4f}{note} |")


if __name__ == "__main__":
    main()
