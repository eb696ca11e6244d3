"""The on-disk index: the only package that imports faiss."""

from __future__ import annotations

from .store import MAX_K, DocumentInfo, Index, check_k, read_manifest
from .write import UpdateReport, Writer

__all__ = ["MAX_K", "DocumentInfo", "Index", "UpdateReport", "Writer", "check_k", "read_manifest"]
