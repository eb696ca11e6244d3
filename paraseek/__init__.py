"""paraseek: semantic search over a collection of documents (the public API)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Document",
    "DocumentInfo",
    "Embedder",
    "Hit",
    "Index",
    "ParaseekError",
    "Passage",
    "Searcher",
    "UpdateReport",
    "Writer",
    "__version__",
]

# Imported on first use, so `paraseek --help` and error paths do not pay for faiss and torch.
_WHERE = {
    "Document": "corpus", "Passage": "corpus", "Embedder": "embedder", "ParaseekError": "errors",
    "DocumentInfo": "index", "Index": "index", "UpdateReport": "index", "Writer": "index",
    "Hit": "search", "Searcher": "search",
}  # fmt: skip

if TYPE_CHECKING:
    from .corpus import Document, Passage
    from .embedder import Embedder
    from .errors import ParaseekError
    from .index import DocumentInfo, Index, UpdateReport, Writer
    from .search import Hit, Searcher


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'paraseek' has no attribute {name!r}")
