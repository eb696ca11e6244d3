"""The on-disk index: the only package that imports faiss (see docs/architecture.md)."""

from __future__ import annotations

from .database import read_manifest
from .reader import MAX_K, Index, check_k
from .rows import DocumentInfo
from .writer import UpdateReport, Writer

__all__ = ["MAX_K", "DocumentInfo", "Index", "UpdateReport", "Writer", "check_k", "read_manifest"]
