"""OpenVINO: the only module that imports openvino or nncf; runs and builds the int8 model.

Running a built model needs openvino, tokenizers and NumPy only, never torch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import ModelSpec
from .pooling import normalise, pool, pool_spans

MODEL_FILE = "model.xml"
COMPILED_DIR = "compiled"
TOKENIZER_FILE = "tokenizer.json"
RUNTIME = "openvino-int8"
# One stream that uses every core: on a small CPU it beats THROUGHPUT's parallel streams for
# length-sorted batches, and a single query gets all cores. Threads are not pinned to cores:
# as fast on an idle CPU, and ~20% faster than pinned ones when other processes are busy on
# the same (2-core) CPU.
# What int8 leaves in float is computed in float32 on every CPU. On a CPU with native bfloat16
# OpenVINO would otherwise compute it in bf16. On a 2-core AMD EPYC that was no faster within
# the noise (3.34x torch fp32's speed in bf16, 3.21x in float32, 9 alternating rounds), and the
# vectors, so near-tied rankings, would differ from one CPU to the next (docs/quality.md).
_CONFIG: dict[str, Any] = {
    "PERFORMANCE_HINT": "LATENCY",
    "ENABLE_CPU_PINNING": False,
    "INFERENCE_PRECISION_HINT": "f32",
}
# Layer names left in float by each recipe, tried in this order until one passes the check.
# The feed-forward output projections see the widest activations (after GELU). For
# all-MiniLM-L6-v2 the plain recipe passes (worst cosine 0.994 on the sample passages, 0.990 on
# single words); keeping the first layer's projection in float lifts those to 0.997 and 0.994
# but costs ~8% of the speed, keeping them all about a quarter: later recipes are for models
# that need them. Names of BERT-like (BERT, RoBERTa, MPNet, XLM-R), DistilBERT and
# decoder-style models; a pattern that matches nothing is ignored.
_FFN_OUT = (
    r".*\.layer\.{}\.output\.dense/.*",
    r".*\.layer\.{}\.ffn\.lin2/.*",
    r".*\.layers\.{}\.mlp\.(down_proj|fc2)/.*",
)
RECIPES: dict[str, tuple[str, ...]] = {
    "int8": (),
    "int8-float-ffn0": tuple(p.format("0") for p in _FFN_OUT),
    "int8-float-ffn-out": tuple(p.format(r"\d+") for p in _FFN_OUT),
}
# Texts per inference: batches come sorted by length, and small ones pad less (2 cores, sample
# corpus: 8 ran 7% faster than 32 on an idle CPU, 25% on a busy one).
_INFER_BATCH = 8


class Tokens:
    """The model's fast tokenizer, read from tokenizer.json, padding and truncating like the model."""

    def __init__(self, folder: Path, spec: ModelSpec) -> None:
        from tokenizers import Tokenizer

        # As the torch path does: batches are small, and a forked process (a server's worker)
        # must not inherit the tokenizer's thread pool.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.spec = spec
        self._plain = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._batch = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._batch.enable_truncation(spec.max_seq_length)
        self._batch.enable_padding(
            direction=spec.padding_side, pad_id=spec.pad_id, pad_token=spec.pad_token
        )

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens of `text`, special tokens excluded."""
        return [
            (int(a), int(b)) for a, b in self._plain.encode(text, add_special_tokens=False).offsets
        ]

    def batch(self, texts: Sequence[str], prompt: str) -> dict[str, np.ndarray]:
        """The model inputs for `prompt` + each text: int64 arrays (len(texts), longest tokens)."""
        return self.feed(self.encodings(texts, prompt))

    def encodings(self, texts: Sequence[str], prompt: str) -> list[Any]:
        """The tokenizer's encodings of `prompt` + each text (ids, masks, offsets), padded."""
        prompt = prompt or self.spec.default_prompt
        return list(self._batch.encode_batch([prompt + t for t in texts]))

    def feed(self, encodings: Sequence[Any]) -> dict[str, np.ndarray]:
        """The model inputs of `encodings`: int64 arrays (len(encodings), longest tokens)."""
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        return {name: np.asarray(columns[name], dtype=np.int64) for name in self.spec.inputs}


class OpenVINOEncoder:
    """A transformer exported to OpenVINO IR, with NumPy pooling; see base.Encoder."""

    def __init__(self, folder: Path, spec: ModelSpec, keep_compiled: bool = False) -> None:
        """Compile the model in `folder` (model.xml, tokenizer.json) for the CPU.

        Args:
            keep_compiled: keep the compiled model in `folder`/compiled, so the next process
                loads it in a fraction of the time (about 0.25 s instead of 0.8 s here).

        Raises:
            RuntimeError: openvino cannot read or compile it.
        """
        import openvino as ov

        self.runtime = RUNTIME
        self.spec = spec
        self.dimension = spec.dimension
        self.max_seq_length = spec.max_seq_length
        self.specials = spec.specials
        self.query_prompt = spec.query_prompt
        self.document_prompt = spec.document_prompt
        self._tokens = Tokens(folder, spec)
        core, path = ov.Core(), str(folder / MODEL_FILE)
        base = dict(_CONFIG)
        threads = os.environ.get("OMP_NUM_THREADS", "")
        if threads.isdigit() and int(threads) > 0:  # as torch does: a Ray actor's CPU share
            base["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            config = {**base, "CACHE_DIR": str(folder / COMPILED_DIR)} if keep_compiled else base
            self._compiled = core.compile_model(path, "CPU", config)
        except RuntimeError:  # e.g. a read-only cache: compiling afresh still works
            self._compiled = core.compile_model(path, "CPU", base)
        self._request = self._compiled.create_infer_request()
        self._lock = threading.Lock()  # one infer request, shared by threads of one process

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in `text`, special tokens excluded."""
        return self._tokens.spans(text)

    def encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        """Embed one batch; float32 (len(texts), dimension), unit rows."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for begin in range(0, len(texts), _INFER_BATCH):
            feed = self._tokens.batch(texts[begin : begin + _INFER_BATCH], prompt)
            out[begin : begin + _INFER_BATCH] = self._forward(feed)[1]
        return out

    def _forward(self, feed: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """One forward pass: the last hidden state and the pooled unit vectors."""
        with self._lock:
            hidden = self._request.infer(feed)[self._compiled.output(0)]
        mask = feed.get("attention_mask", np.ones(feed["input_ids"].shape, dtype=np.int64))
        return hidden, normalise(pool(hidden, mask, self.spec.pooling))

    def encode_sentences(
        self, texts: Sequence[str], prompt: str, spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """`Encoder.encode_sentences` (base.py): the sentences pooled out of OpenVINO's forward pass."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        sentences: list[np.ndarray] = []
        shift = len(prompt or self.spec.default_prompt)
        for begin in range(0, len(texts), _INFER_BATCH):
            encodings = self._tokens.encodings(texts[begin : begin + _INFER_BATCH], prompt)
            hidden, out[begin : begin + _INFER_BATCH] = self._forward(self._tokens.feed(encodings))
            for row, encoding in enumerate(encodings):
                wanted = [(a + shift, b + shift) for a, b in spans[begin + row]]
                sentences.append(pool_spans(hidden[row], np.asarray(encoding.offsets), wanted))
        return out, sentences


def quantise(
    module: Any,
    example: dict[str, Any],
    calibration: Iterable[dict[str, np.ndarray]],
    path: Path,
    keep_float: Sequence[str] = (),
) -> None:
    """Convert a torch module to OpenVINO, quantise it to int8 and save it.

    Args:
        module: a torch module mapping token inputs to token embeddings (see
            torch_runtime.export_module).
        example: example inputs by name, to trace the module with.
        calibration: model inputs by name (each int64, (batch, tokens)) from real texts; the
            activation ranges are measured on them.
        path: where to write the IR (model.xml, with model.bin beside it).
        keep_float: regular expressions of layer names to leave in float (see RECIPES).
    """
    # Tracing warnings and nncf's progress bars are noise to someone indexing their documents.
    quiet = io.StringIO()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(quiet),
        contextlib.redirect_stderr(quiet),
    ):
        warnings.simplefilter("ignore")
        import nncf
        import openvino as ov
        from nncf.quantization.advanced_parameters import AdvancedSmoothQuantParameters

        nncf.set_log_level(logging.ERROR)
        model = ov.convert_model(module, example_input=example)
        items = list(calibration)
        quantised = nncf.quantize(
            model,
            nncf.Dataset(items),
            model_type=nncf.ModelType.TRANSFORMER,  # keeps softmax, layer norms etc. in float
            subset_size=len(items),
            ignored_scope=nncf.IgnoredScope(patterns=list(keep_float), validate=False),
            # Moving less of the activations' range into the weights than the default 0.95
            # lifted the worst cosine on short queries (all-MiniLM-L6-v2: 0.980 -> 0.992).
            advanced_parameters=nncf.AdvancedQuantizationParameters(
                smooth_quant_alphas=AdvancedSmoothQuantParameters(matmul=0.8)
            ),
        )
    ov.save_model(quantised, str(path), compress_to_fp16=False)
