"""paraseek: semantic search over a collection of documents."""

from __future__ import annotations

__version__ = "0.1.0"
