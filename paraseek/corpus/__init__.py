"""Files -> Document -> Passage: reading, cleaning, metadata and splitting."""

from __future__ import annotations

from .read import (
    SUFFIXES,
    Document,
    Skipped,
    UnreadableFile,
    find_date,
    find_files,
    find_sources,
    read_document,
    read_documents,
    read_files,
)
from .split import (
    SPLITTING,
    Passage,
    TokenSpans,
    embedded_text,
    is_lead,
    split_document,
    split_record,
)
from .structure import normalise_space, paragraph_spans, sentence_spans, speaker, voice

__all__ = [
    "SPLITTING",
    "SUFFIXES",
    "Document",
    "Passage",
    "Skipped",
    "TokenSpans",
    "UnreadableFile",
    "embedded_text",
    "find_date",
    "find_files",
    "find_sources",
    "is_lead",
    "normalise_space",
    "paragraph_spans",
    "read_document",
    "read_documents",
    "read_files",
    "sentence_spans",
    "speaker",
    "split_document",
    "split_record",
    "voice",
]
