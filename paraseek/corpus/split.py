"""Document -> Passage: paragraphs, their context (title, heading, question) and token-bounded splits."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from .read import Document, clean_title, is_date_line

TokenSpans = Callable[[str], list[tuple[int, int]]]
"""Maps a text to the character span of each of its tokens (no special tokens)."""

TITLE_TOKENS = 32
HEADING_TOKENS = 32
LEAD_TOKENS = 64
SHARES_FOR = 254
"""The budget the context shares above are for (a 256-token model less its two special
tokens); a model with a smaller budget gets them in proportion, so the text keeps its half."""
CLIPPED = " …"  # ends a context part cut to its token share
HEADING_WORDS = 12
QUESTION_WORDS = 30


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
            one per line; embedded together with `text`.
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


def normalise_space(text: str) -> str:
    """`text` with runs of whitespace collapsed to one space and the ends stripped."""
    return " ".join(text.split())


# --- paragraphs and sentences --------------------------------------------------------------

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\f\v]*\n\s*")
_SENTENCE_BREAK = re.compile(r"[.!?…]+[\"”’')\]]*(?P<ws>\s+)(?=[\"“‘(\[]?[^\W_a-z])|(?P<nl>\n\s*)")
_DASH = re.compile(r"^[-–—•]\s+")
_QA = re.compile(r"^(?P<tag>q|a|question|answer)\s*[:.)]\s+", re.IGNORECASE)
_SPEAKER = re.compile(r"^[^\n]{1,60}\bsaid\s*(?:\.{2,}|…|:)?$", re.IGNORECASE)
_NUMBERED_HEADING = re.compile(r"^(?:[IVXLC]+|\d+(?:\.\d+)*|[A-Z])[.)]\s+\S")
_TERMINAL = tuple('.!?:;…"”’-–—,')


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the blank-line separated paragraphs of `text`, leading/trailing space excluded."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        _append_stripped(spans, text, pos, end)
        pos = match.end() if match else len(text)
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences (and lines) of `text`, whitespace between them excluded."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in _SENTENCE_BREAK.finditer(text):
        gap = match.start("ws") if match.group("ws") else match.start("nl")
        _append_stripped(spans, text, pos, gap)
        pos = match.end()
    _append_stripped(spans, text, pos, len(text))
    return spans


def _append_stripped(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        left = start + len(piece) - len(piece.lstrip())
        spans.append((left, left + len(stripped)))


# --- roles of paragraphs -------------------------------------------------------------------


def _roles(document: Document, paragraphs: list[str]) -> list[str]:
    """One of title, heading, question, speaker, intro, body for every paragraph."""
    dashes = [i for i, p in enumerate(paragraphs) if _DASH.match(p)]
    asked = dashes[::2]
    interview = len(dashes) >= 4 and sum("?" in paragraphs[i] for i in asked) * 2 >= len(asked)
    roles = []
    expect_question = True
    title_seen = False
    for paragraph in paragraphs:
        words = len(paragraph.split())
        one_line = "\n" not in paragraph
        qa = _QA.match(paragraph)
        if not title_seen and one_line and clean_title(paragraph) == document.title:
            role, title_seen = "title", True
        elif qa:
            role = "question" if qa.group("tag").lower().startswith("q") else "body"
        elif interview and _DASH.match(paragraph):
            role = "question" if expect_question else "body"
            expect_question = not expect_question
        elif one_line and _SPEAKER.match(paragraph):
            role = "speaker"
        elif (
            one_line
            and words <= HEADING_WORDS
            and (
                not paragraph.endswith(_TERMINAL)
                or words <= 4
                or is_date_line(paragraph)
                or _NUMBERED_HEADING.match(paragraph)
            )
        ):
            role = "heading"
            expect_question = True
        elif paragraph.endswith("?") and words <= QUESTION_WORDS:
            role = "question"
        elif one_line and words <= HEADING_WORDS:
            role = "intro"
        else:
            role = "body"
        roles.append(role)
    return roles


@dataclass
class _Block:
    start: int
    end: int
    context: list[tuple[int, int]]  # (paragraph index, token limit) of each context part


def _blocks(document: Document, spans: list[tuple[int, int]]) -> list[_Block]:
    """Group paragraphs into blocks: body paragraphs, each with its context paragraphs.

    An intro line joins the passage it introduces. Context paragraphs that introduce no
    passage (a heading right before another, a trailing byline) become blocks of their own,
    so no text is lost.
    """
    text = document.text
    paragraphs = [text[s:e] for s, e in spans]
    roles = _roles(document, paragraphs)
    title = heading = lead = None
    intro_start: int | None = None
    blocks: list[_Block] = []
    used: set[int] = set()
    for i, ((start, end), role) in enumerate(zip(spans, roles, strict=True)):
        paragraph_text = paragraphs[i]
        if role == "title":
            title = i
        elif role == "heading":
            heading, lead = i, None
        elif role in ("question", "speaker"):
            lead = i
        elif role == "intro":
            intro_start = start if intro_start is None else intro_start
        elif (
            blocks and roles[i - 1] == "body" and blocks[-1].end == spans[i - 1][1]
            and not paragraphs[i - 1].endswith(_TERMINAL) and paragraph_text[:1].islower()
        ):  # fmt: skip
            blocks[-1].end = end  # a sentence broken by a blank line stays whole
        else:
            context = [
                (j, limit)
                for j, limit in (
                    (title, TITLE_TOKENS),
                    (heading, HEADING_TOKENS),
                    (lead, LEAD_TOKENS),
                )
                if j is not None
            ]
            blocks.append(_Block(start if intro_start is None else intro_start, end, context))
            used.update(j for j, _ in context)
            intro_start = None
    title_only = [(title, TITLE_TOKENS)] if title is not None else []
    if intro_start is not None:
        blocks.append(_Block(intro_start, spans[-1][1], title_only))
        used.update(j for j, _ in title_only)
    for i, role in enumerate(roles):
        if role in ("title", "heading", "question", "speaker") and i not in used:
            blocks.append(_Block(*spans[i], title_only if title != i else []))
    return sorted(blocks, key=lambda b: b.start)


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
    blocks = _blocks(document, spans)
    contexts = []
    clipped: set[int] = set()
    for block in blocks:
        parts = []
        for j, limit in block.context:
            part = normalise_space(text[slice(*spans[j])])
            parts.append(_clip(part, token_spans, _share(limit, max_tokens)))
            if parts[-1] != part:
                clipped.add(j)
        contexts.append("\n".join(parts))
    own = {(b.start, b.end) for b in blocks}
    for j in sorted(clipped):
        if spans[j] not in own:
            blocks.append(_Block(*spans[j], []))
            contexts.append("")
    passages: list[Passage] = []
    for block, context in sorted(zip(blocks, contexts, strict=True), key=lambda bc: bc[0].start):
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
    tokens = token_spans(part)
    if len(tokens) <= limit:
        return part
    cut = tokens[limit - 1][1]
    space = part.rfind(" ", 0, cut + 1)
    return part[: space if space > 0 else cut].rstrip() + CLIPPED


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
