"""Pass 1's splits, kept for pass 2 within a memory bound, so most documents are split once."""

from __future__ import annotations

from collections.abc import Callable

from ..corpus import Document, Passage, TokenSpans

Splitter = Callable[[Document, TokenSpans, int], list[Passage]]

KEEP_BYTES = 32 * 2**20
"""What the kept splits may hold: about 120 bytes a passage plus its context's characters, so
some 250,000 passages of a typical corpus. Documents past that are split again in pass 2."""
_PASSAGE_BYTES = 120


class Splits:
    """A splitter that keeps what it returns, up to `keep` bytes, and hands it out once more.

    Pass 1 splits a document to embed its passages; pass 2 needs the same passages to insert
    them. Splitting is tokenizing, a tenth of indexing's time with int8 embedding, so pass 2
    takes the kept split instead of computing it again: same document path, content hash and
    token budget give the same passages. A split is handed out once, then forgotten.
    """

    def __init__(self, split: Splitter, keep: int = KEEP_BYTES) -> None:
        self._split = split
        self._keep = keep
        self._held = 0
        self._kept: dict[tuple[str, str, int], tuple[int, list[tuple[int, int, str]]]] = {}

    def __call__(
        self, document: Document, token_spans: TokenSpans, max_tokens: int
    ) -> list[Passage]:
        key = (document.path, document.content_hash, max_tokens)
        kept = self._kept.pop(key, None)
        if kept is not None:
            size, spans = kept
            self._held -= size
            return [
                Passage(document.id, i, start, end, document.text[start:end], context)
                for i, (start, end, context) in enumerate(spans)
            ]
        passages = self._split(document, token_spans, max_tokens)
        size = sum(_PASSAGE_BYTES + len(p.context) for p in passages)
        if self._held + size <= self._keep:
            self._kept[key] = (size, [(p.start, p.end, p.context) for p in passages])
            self._held += size
        return passages
