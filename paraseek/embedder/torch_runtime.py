"""sentence-transformers on torch: the only module that imports torch, transformers or sentence_transformers.

They are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DeviceUnavailableError, ModelLoadError, RuntimeUnavailableError
from .base import ModelSpec
from .pooling import pool_spans

_DOCUMENT_PROMPTS = ("document", "passage", "corpus")
# Pooling modes that pooling.py computes exactly as sentence-transformers does.
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "lasttoken")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_REGROW = 8  # GPU batches in a row that fit before the part size is doubled again
_PLAIN_TEXT = {"text": {"method": "forward", "method_output_name": "last_hidden_state"}}


def _load(kind: str, target: str, failure: str, device: str = "cpu") -> Any:
    """Load `target` with sentence-transformers' class `kind` on `device` ("cpu" or "cuda").

    Raises:
        ModelLoadError: `failure` with "{reason}" replaced by the library's first line.
    """
    if Path(target).exists():  # a local folder: never reach for the network
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # On the CPU batches are small and the cores are busy embedding, and a forked process (a
    # server's worker) must not inherit the tokenizer's threads. A GPU waits for the tokenizer:
    # its threads doubled the passages per second (H100, 16 cores: 2,560 -> 4,720).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true" if device == "cuda" else "false")
    try:
        import sentence_transformers
        import transformers

        transformers.utils.logging.disable_progress_bar()
        return getattr(sentence_transformers, kind)(target, device=device)
    except Exception as exc:  # any failure inside the library means: this model cannot load
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(failure.replace("{reason}", reason[:200])) from exc


class TorchEncoder:
    """A SentenceTransformer run by torch: float32, bfloat16 on CPUs made for it, or a CUDA GPU."""

    def __init__(
        self, model_id: str, target: str, dtype: str = "fp32", device: str = "cpu"
    ) -> None:
        """Load the model at `target` (a folder or hub name) for the model id `model_id`.

        Args:
            dtype: "fp32", "bf16" (CPUs with native bfloat16) or "fp16" (GPUs): the weights'
                type.
            device: "cpu" or "cuda" (the current CUDA GPU).

        Raises:
            ModelLoadError: it cannot be loaded.
        """
        self.model = _load(
            "SentenceTransformer", target,
            f"Cannot load embedding model '{model_id}': {{reason}}; give a "
            "sentence-transformers model name or a local model folder with --model or "
            "PARASEEK_MODEL (the bundled default is all-MiniLM-L6-v2).",
            device,
        )  # fmt: skip
        if dtype != "fp32":
            import torch

            self.model.to({"bf16": torch.bfloat16, "fp16": torch.float16}[dtype])
        self.device = device
        self.runtime = f"torch-{dtype}" if device == "cpu" else f"torch-{device}-{dtype}"
        prompts = getattr(self.model, "prompts", None) or {}
        self.query_prompt: str = prompts.get("query") or ""
        self.document_prompt: str = next(
            (prompts[p] for p in _DOCUMENT_PROMPTS if prompts.get(p)), ""
        )
        dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dimension = int(dim() or 0)
        self.specials = len(self.model.tokenizer("")["input_ids"])
        self.max_seq_length = int(self.model.max_seq_length or 512)
        # The fast tokenizer is not safe to share between threads (a web server's workers):
        # "Already borrowed" errors. One lock serialises tokenizing and encoding.
        self._lock = threading.Lock()
        self._gpu_part = 0  # texts per GPU call since one ran out of memory; 0: the whole batch
        self._clean = 0  # batches in a row since, without running out

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in `text`, special tokens excluded."""
        with self._lock:
            encoded = self.model.tokenizer(
                text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
            )
        return [(int(a), int(b)) for a, b in encoded["offset_mapping"]]

    def encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        """Embed one batch; float32 (len(texts), dimension), unit rows.

        Raises:
            DeviceUnavailableError: the GPU has not the memory for even one text.
        """
        with self._lock:
            vectors = (
                self._encode(texts, prompt) if self.device == "cpu" else self._fit(texts, prompt)
            )
        out = np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)
        if self.runtime != "torch-fp32":  # normalised in bfloat16: not quite unit length
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def encode_sentences(
        self, texts: Sequence[str], prompt: str, spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """`Encoder.encode_sentences` (base.py): the sentences pooled out of torch's forward pass."""
        shift = len(prompt)
        with self._lock:
            outputs = self.model.encode(
                list(texts), prompt=prompt or None, batch_size=max(len(texts), 1),
                output_value=None, normalize_embeddings=True, show_progress_bar=False,
            )  # fmt: skip
            offsets = self.model.tokenizer(
                [prompt + t for t in texts], return_offsets_mapping=True, truncation=True,
                max_length=self.max_seq_length, verbose=False,
            )["offset_mapping"]  # fmt: skip
        vectors = np.stack([o["sentence_embedding"].float().cpu().numpy() for o in outputs]).astype(
            np.float32
        )
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        sentences = [
            pool_spans(
                o["token_embeddings"].float().cpu().numpy(),
                np.asarray(offset),
                [(a + shift, b + shift) for a, b in wanted],
            )
            for o, offset, wanted in zip(outputs, offsets, spans, strict=True)
        ]
        return vectors, sentences

    def _fit(self, texts: Sequence[str], prompt: str) -> Any:
        """`_encode` on the GPU in parts of at most `_gpu_part` texts, halved while one does
        not fit.

        The part size that fitted is kept for the next batches, so a GPU short of memory
        (another process holds some) is not made to run out on every batch; it doubles back
        after `_REGROW` batches in a row went through, as batches come longest first and
        shrink.
        """
        part = self._gpu_part or len(texts)
        parts = [self._halving(texts[i : i + part], prompt) for i in range(0, len(texts), part)]
        if self._gpu_part and part == self._gpu_part:  # no new halving in this batch
            self._clean += 1
            if self._clean >= _REGROW:  # doubled, or back to whole batches
                grown = self._gpu_part * 2
                self._gpu_part, self._clean = (0 if grown >= len(texts) else grown), 0
        return np.concatenate(parts)

    def _halving(self, texts: Sequence[str], prompt: str) -> Any:
        import torch

        try:
            return self._encode(texts, prompt)
        except torch.cuda.OutOfMemoryError:
            pass  # retried below, out of the handler: its traceback holds the failed tensors
        torch.cuda.empty_cache()
        if len(texts) == 1:
            raise DeviceUnavailableError(
                f"The GPU ran out of memory embedding a single text of {len(texts[0])} "
                "characters; free its memory (nvidia-smi shows who holds it), or index with "
                "--device cpu."
            )
        half = len(texts) // 2
        self._gpu_part, self._clean = half, 0
        return np.concatenate(
            [self._halving(texts[:half], prompt), self._halving(texts[half:], prompt)]
        )

    def _encode(self, texts: Sequence[str], prompt: str) -> Any:
        return self.model.encode(
            list(texts),
            prompt=prompt or None,
            batch_size=max(len(texts), 1),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


def describe(encoder: TorchEncoder) -> ModelSpec:
    """How to run `encoder`'s transformer outside torch and pool its output as it does.

    Raises:
        RuntimeUnavailableError: the model has a part that only torch runs here (a Dense
            module, an unknown pooling mode, a slow tokenizer, ...); the message says which.
    """
    model = encoder.model
    names = [type(module).__name__ for module in model]
    if not names or names[0] != "Transformer":
        raise RuntimeUnavailableError(f"model starts with a {names[0] if names else 'no'} module")
    if getattr(model[0], "modality_config", _PLAIN_TEXT) != _PLAIN_TEXT:
        raise RuntimeUnavailableError("model's transformer is not a plain text encoder")
    extra = [n for n in names[1:] if n not in ("Pooling", "Normalize")]
    if extra or names[1:2] != ["Pooling"] or names.count("Pooling") != 1:
        raise RuntimeUnavailableError(f"model has a {(extra or ['second Pooling'])[0]} module")
    pooling = model[1]
    modes = pooling.pooling_mode
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    unknown = [m for m in modes if m not in POOLING_MODES]
    if unknown:
        raise RuntimeUnavailableError(f"model uses {unknown[0]} pooling")
    prompts = getattr(model, "prompts", None) or {}
    if not getattr(pooling, "include_prompt", True) and any(prompts.values()):
        raise RuntimeUnavailableError("model's pooling leaves out its prompt tokens")
    tokenizer = model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise RuntimeUnavailableError("model has no fast tokenizer")
    features = model.preprocess(["a text"])
    inputs = tuple(k for k in _INPUTS if k in features)
    extra = [k for k in features if k not in _INPUTS and k != "modality"]
    if extra or "input_ids" not in inputs:
        raise RuntimeUnavailableError(f"model's tokenizer gives {(extra or ['no input_ids'])[0]}")
    default = getattr(model, "default_prompt_name", None)
    return ModelSpec(
        pooling=modes,
        inputs=inputs,
        dimension=encoder.dimension,
        max_seq_length=encoder.max_seq_length,
        specials=encoder.specials,
        query_prompt=encoder.query_prompt,
        document_prompt=encoder.document_prompt,
        default_prompt=str(prompts.get(default) or "") if default else "",
        pad_id=int(tokenizer.pad_token_id or 0),
        pad_token=str(tokenizer.pad_token or ""),
        padding_side=str(getattr(tokenizer, "padding_side", "right")),
    )


def save_tokenizer(encoder: TorchEncoder, path: Path) -> None:
    """Write the model's fast tokenizer to `path` (tokenizer.json), without padding or truncation."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(encoder.model.tokenizer.backend_tokenizer.to_str())
    backend.no_padding()
    backend.no_truncation()
    backend.save(str(path))


def export_module(encoder: TorchEncoder, spec: ModelSpec) -> tuple[Any, dict[str, Any]]:
    """The transformer as a torch module that returns only its token embeddings, and example input.

    Returns:
        (module, example): the module maps the tensors named in `spec.inputs`, each of shape
        (batch, tokens), to the last hidden state, shape (batch, tokens, hidden); `example`
        holds such tensors for tracing.
    """
    import torch

    auto = encoder.model[0].auto_model.eval()
    names = spec.inputs

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.auto = auto

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor | None = None,
            token_type_ids: torch.Tensor | None = None,
        ) -> torch.Tensor:
            given = {"attention_mask": attention_mask, "token_type_ids": token_type_ids}
            kwargs = {k: v for k, v in given.items() if k in names}
            return self.auto(input_ids=input_ids, **kwargs).last_hidden_state

    features = encoder.model.preprocess(["a short text", "and a somewhat longer one to pad"])
    example = {k: features[k] for k in names}
    return TokenEmbeddings().eval(), example


class Reranker:
    """A sentence-transformers CrossEncoder that scores (query, passage) pairs."""

    def __init__(self, model: str) -> None:
        """Load the cross-encoder `model`: a model name (downloaded: needs a network) or a folder.

        Raises:
            ModelLoadError: it cannot be loaded.
        """
        self.model_id = str(Path(model).resolve()) if Path(model).exists() else model
        self._model = _load(
            "CrossEncoder", model,
            f"Cannot load re-ranker '{model}': {{reason}}; give a sentence-transformers "
            "CrossEncoder name or a local folder with --reranker or PARASEEK_RERANKER.",
        )  # fmt: skip

    def scores(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Relevance of each text to the query, shape (len(texts),), float32; higher is better."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        pairs = [(query, t) for t in texts]
        return np.asarray(
            self._model.predict(pairs, show_progress_bar=False), dtype=np.float32
        ).reshape(-1)
