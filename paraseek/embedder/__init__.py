"""Text -> unit vectors: the Embedder, its runtimes (torch, OpenVINO) and the Reranker.

Importing this package imports neither torch nor openvino; each runtime module imports its
library when it is first used.
"""

from __future__ import annotations

from .core import Embedder
from .models import DEFAULT_MODEL, PRECISIONS, bundled_model_path, resolve_model
from .torch_runtime import Reranker

__all__ = [
    "DEFAULT_MODEL",
    "PRECISIONS",
    "Embedder",
    "Reranker",
    "bundled_model_path",
    "resolve_model",
]
