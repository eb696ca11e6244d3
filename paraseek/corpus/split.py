"""Blocks -> Passage: each block's context clipped to its token share, and token-bounded splits."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from .read import Document, plain
from .structure import (
    TITLE_TOKENS,
    Block,
    blocks,
    normalise_space,
    paragraph_spans,
    sentence_spans,
)

TokenSpans = Callable[[str], list[tuple[int, int]]]
"""Maps a text to the character span of each of its tokens (no special tokens)."""

SHARES_FOR = 254
"""The budget that the context parts' token shares (structure.TITLE_TOKENS, ...) are for: a
256-token model less its two special tokens. A model with a smaller budget gets them in
proportion, so the text keeps its half."""
SPLITTING = 4  # the splitting rules' version: a change re-splits unchanged documents too
CLIPPED = " …"  # ends a context part cut to its token share
HEAD_CHARS = 8  # characters a token, at least, in the head of a long part tokenized to clip it


@dataclass(frozen=True)
class Passage:
    """The unit that is embedded and returned: a span of one document plus its context.

    Attributes:
        document_id: id of the Document it comes from.
        ordinal: position among the document's passages, from 0.
        start: offset of the first character in the document text.
        end: offset one past the last character; `text == document.text[start:end]`.
        text: the passage text, exactly as in the document.
        context: title, then the heading and the question or speaker line it belongs to,
            one per line, as plain text (Markdown heading marks and link targets dropped:
            read.plain); embedded together with `text`.
        id: the index's passage id, or None before the passage is stored.
    """

    document_id: str
    ordinal: int
    start: int
    end: int
    text: str
    context: str
    id: int | None = None

    @property
    def embedded_text(self) -> str:
        """What the model embeds: context and text, whitespace collapsed."""
        return embedded_text(self.context, self.text)


def embedded_text(context: str, text: str) -> str:
    """Context and text joined, with every run of whitespace collapsed to one space."""
    return normalise_space(f"{context}\n{text}" if context else text)


# --- token budgets -------------------------------------------------------------------------


def split_document(document: Document, token_spans: TokenSpans, max_tokens: int) -> list[Passage]:
    """Split `document` into passages whose embedded text fits in `max_tokens` tokens.

    Args:
        document: the document to split.
        token_spans: the embedding model's tokenizer, as character spans of tokens.
        max_tokens: the model's limit minus special and prompt tokens; at least 64.

    Returns:
        Passages in document order. A paragraph too long for the budget is split at sentence
        boundaries (a sentence too long on its own, at word boundaries), never truncated. A
        context part longer than its share (title 32, heading 32, question 64 tokens, in
        proportion for budgets under 254) is clipped in the context and also kept as a
        passage of its own.
    """
    if max_tokens < 64:
        raise ValueError(f"max_tokens must be at least 64, got {max_tokens}")
    text = document.text
    spans = paragraph_spans(text)
    if not spans:
        return []
    found = blocks(document, spans)
    contexts = []
    clipped: set[int] = set()
    for block in found:
        parts = []
        for j, limit in block.context:
            part = plain(normalise_space(text[slice(*spans[j])]))  # context is plain text
            parts.append(_clip(part, token_spans, _share(limit, max_tokens)))
            if parts[-1] != part:
                clipped.add(j)
        contexts.append("\n".join(parts))
    own = {(b.start, b.end) for b in found}
    for j in sorted(clipped):
        if spans[j] not in own:
            found.append(Block(*spans[j], []))
            contexts.append("")
    passages: list[Passage] = []
    for block, context in sorted(zip(found, contexts, strict=True), key=lambda bc: bc[0].start):
        for start, end in _fit(text, block.start, block.end, context, token_spans, max_tokens):
            passages.append(
                Passage(document.id, len(passages), start, end, text[start:end], context)
            )
    return passages


def is_lead(passage: Passage, following: Passage | None) -> bool:
    """Whether `passage` is a long question or heading kept as a passage of its own.

    Such a context part is clipped in the context of the passages it leads (the answers to a
    question), and kept whole on its own so no text is lost; the passage after it, `following`,
    carries its start in its context. It says what a document is about, not what it says:
    an interviewer's question, not the answer.
    """
    if passage.context or following is None or following.document_id != passage.document_id:
        return False
    text = normalise_space(passage.text)
    return any(
        line.endswith(CLIPPED) and text.startswith(line[: -len(CLIPPED)])
        for line in following.context.splitlines()
    )


def split_record(document: Document, token_spans: TokenSpans, max_tokens: int) -> list[Passage]:
    """Split a record (a BEIR document: title and one text) into as few passages as fit.

    The whole text is one passage with the title as context, unless it exceeds `max_tokens`;
    then it is split at sentence boundaries like a long paragraph.
    """
    text = document.text
    spans = paragraph_spans(text)
    if not spans:
        return []
    if max_tokens < 64:
        raise ValueError(f"max_tokens must be at least 64, got {max_tokens}")
    title = normalise_space(document.title)
    context = _clip(title, token_spans, _share(TITLE_TOKENS, max_tokens))
    start, end = spans[0][0], spans[-1][1]
    return [
        Passage(document.id, i, s, e, text[s:e], context)
        for i, (s, e) in enumerate(_fit(text, start, end, context, token_spans, max_tokens))
    ]


def _share(limit: int, max_tokens: int) -> int:
    """A context part's token limit for this budget: `limit`, less for budgets under 254."""
    return max(1, limit * min(max_tokens, SHARES_FOR) // SHARES_FOR)


def _clip(part: str, token_spans: TokenSpans, limit: int) -> str:
    tokens = _first_tokens(part, token_spans, limit)
    if len(tokens) <= limit:
        return part
    cut = tokens[limit - 1][1]
    space = part.rfind(" ", 0, cut + 1)
    return part[: space if space > 0 else cut].rstrip() + CLIPPED


def _first_tokens(part: str, token_spans: TokenSpans, limit: int) -> list[tuple[int, int]]:
    """More than `limit` tokens from the start of `part`, or all of its tokens.

    A long part (a heading paragraph of thousands of words) is tokenized up to a space past
    about HEAD_CHARS characters a token: the tokenizer splits words at spaces before it cuts
    them into tokens, so the tokens before that space are the whole part's. Where that head
    has `limit` tokens or fewer (long words), the whole part is tokenized.
    """
    head = part.find(" ", HEAD_CHARS * (limit + 1))
    if head > 0:
        tokens = token_spans(part[:head])
        if len(tokens) > limit:
            return tokens
    return token_spans(part)


def _fit(
    text: str, start: int, end: int, context: str, token_spans: TokenSpans, max_tokens: int
) -> list[tuple[int, int]]:
    """Split text[start:end] so that every piece embedded with `context` fits `max_tokens`."""
    budget = max_tokens - len(token_spans(context)) - 1
    return _fit_pieces(text, start, end, context, token_spans, max_tokens, max(1, budget))


def _fit_pieces(
    text: str, start: int, end: int, context: str, token_spans: TokenSpans, max_tokens: int,
    budget: int,
) -> list[tuple[int, int]]:  # fmt: skip
    fitted: list[tuple[int, int]] = []
    for s, e in _split_span(text, start, end, budget, token_spans):
        over = len(token_spans(embedded_text(context, text[s:e]))) - max_tokens
        if over <= 0 or budget == 1:  # one token a piece cannot be split further
            fitted.append((s, e))
        else:  # the tokenizer is not additive over the pieces: split this one tighter
            tighter = max(1, budget - over - 1)
            fitted.extend(_fit_pieces(text, s, e, context, token_spans, max_tokens, tighter))
    return fitted


def _split_span(
    text: str, start: int, end: int, budget: int, token_spans: TokenSpans
) -> list[tuple[int, int]]:
    segment = text[start:end]
    tokens = _embedded_tokens(segment, token_spans)
    if len(tokens) <= budget:
        return [(start, end)]
    starts = [a for a, _ in tokens]

    def count(a: int, b: int) -> int:
        return bisect_left(starts, b) - bisect_left(starts, a)

    pieces: list[tuple[int, int]] = []
    for a, b in sentence_spans(segment):
        if count(a, b) <= budget:
            pieces.append((a, b))
        else:
            pieces.extend(_windows(segment, a, b, tokens, starts, budget))
    chunks = -(-len(tokens) // budget)
    target = -(-len(tokens) // chunks)
    packed: list[list[int]] = []
    for a, b in pieces:
        if (
            packed
            and count(packed[-1][0], packed[-1][1]) < target
            and count(packed[-1][0], b) <= budget
        ):
            packed[-1][1] = b
        else:
            packed.append([a, b])
    return [(start + a, start + b) for a, b in packed]


def _embedded_tokens(segment: str, token_spans: TokenSpans) -> list[tuple[int, int]]:
    """The tokens of `segment` as it is embedded (whitespace collapsed), as spans of `segment`.

    Counting the raw text would be wrong where Python and the tokenizer disagree on what is
    a space: "a\x1cb" is one token raw (the tokenizer drops the control character) and two
    once `normalise_space` has made it "a b"; a separator such as U+2028 is the reverse.
    """
    words = [m.span() for m in re.finditer(r"\S+", segment)]
    if not words:
        return []
    normal = " ".join(segment[a:b] for a, b in words)
    if normal == segment:  # one space between words already (most text): no mapping needed
        return _snapped(segment, token_spans(segment))
    return _mapped(segment, words, normal, token_spans)


def _snapped(segment: str, tokens: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`_mapped` for a segment that is its own normal form: a token's end on a space is
    snapped back to its word, and its start on one forward to the next word (single spaces)."""
    spans = []
    for a, b in tokens:
        first = a + 1 if a < len(segment) and segment[a] == " " else a
        if b > a:
            last = b - 1 if segment[b - 1] == " " else b
            spans.append((first, max(first, last)))
        else:
            spans.append((first, first))
    return spans


def _mapped(
    segment: str, words: list[tuple[int, int]], normal: str, token_spans: TokenSpans
) -> list[tuple[int, int]]:
    """The tokens of `normal` (the words of `segment` joined by single spaces), as spans of
    `segment`; a token's start or end on a space is snapped to a word."""
    offsets = []  # where each word starts in `normal`
    at = 0
    for a, b in words:
        offsets.append(at)
        at += b - a + 1

    def to_segment(i: int, end: bool) -> int:
        w = max(0, bisect_right(offsets, i) - 1)
        inside = i - offsets[w]
        word_start, word_end = words[w]
        if inside < word_end - word_start:
            return word_start + inside + end
        if end or w + 1 == len(words):  # on the space between words: snap to a word
            return word_end
        return words[w + 1][0]

    spans = []
    for a, b in token_spans(normal):
        first = to_segment(a, end=False)
        spans.append((first, max(first, to_segment(b - 1, end=True)) if b > a else first))
    return spans


def _windows(
    segment: str, a: int, b: int, tokens: list[tuple[int, int]], starts: list[int], budget: int
) -> list[tuple[int, int]]:
    """Cut one over-long sentence into runs of at most `budget` tokens, at spaces if possible."""
    first, last = bisect_left(starts, a), bisect_left(starts, b)
    out = []
    piece_start, i = a, first
    while last - i > budget:
        # Never cut between two tokens of one character: the model's normaliser splits a
        # Hangul syllable into three jamo tokens that share its character span.
        cut = i + budget
        while cut > i + 1 and not (
            segment[tokens[cut][0] - 1].isspace() and tokens[cut][0] >= tokens[cut - 1][1]
        ):
            cut -= 1
        if cut == i + 1:
            cut = i + budget
            while cut > i + 1 and tokens[cut][0] < tokens[cut - 1][1]:
                cut -= 1
        out.append((piece_start, tokens[cut - 1][1]))
        piece_start, i = tokens[cut][0], cut
    out.append((piece_start, b))
    return out
