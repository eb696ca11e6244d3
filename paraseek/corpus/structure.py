"""Document -> blocks: paragraphs and sentences, each paragraph's role, and the context of each."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .read import Document, clean_title, head_roles, is_date_line

TITLE_TOKENS = 32  # each context part's share of a 254-token budget (see split.SHARES_FOR)
HEADING_TOKENS = 32
LEAD_TOKENS = 64
HEADING_WORDS = 12
QUESTION_WORDS = 30


def normalise_space(text: str) -> str:
    """`text` with runs of whitespace collapsed to one space and the ends stripped."""
    return " ".join(text.split())


# --- paragraphs and sentences --------------------------------------------------------------

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\f\v]*\n\s*")
_SENTENCE_BREAK = re.compile(r"[.!?…]+[\"”’')\]]*(?P<ws>\s+)(?=[\"“‘(\[]?[^\W_a-z])|(?P<nl>\n\s*)")
_DASH = re.compile(r"^[-–—•]\s+")
_QA = re.compile(r"^(?P<tag>q|a|question|answer)\s*[:.)]\s+", re.IGNORECASE)
_SPEAKER = re.compile(r"^[^\n]{1,60}\b(?P<said>said)\s*(?:\.{2,}|…|:)$", re.IGNORECASE)
_OPENING_QUOTE = tuple("\"“‘'«„")
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


def speaker(context: str) -> str | None:
    """Who says a passage, if not the document's author: the name on the speaker line of its
    context ("Anonymous said..." gives "Anonymous"), as in a blog's reader comments; else None.
    """
    for line in reversed(context.splitlines()):
        match = _SPEAKER.match(line.strip())
        if match:
            return line.strip()[: match.start("said")].strip() or None
    return None


def voice(context: str, text: str) -> str | None:
    """A reader's note on who says a passage, if not the document's author: "comment by NAME"
    ("Anonymous said..."), or "quoting NAME" for a quotation ("The minister said:", then the
    passage in quotation marks); else None."""
    name = speaker(context)
    if name is None:
        return None
    return f"quoting {name}" if _quotation(context, text) else f"comment by {name}"


def _quotation(said: str, following: str) -> bool:
    """Whether a speaker line (or a context ending in one) introduces a quotation ("The
    minister said:", then `following` in quotation marks) rather than a comment
    ("Anonymous said...")."""
    return said.rstrip().endswith(":") and following.lstrip().startswith(_OPENING_QUOTE)


def _roles(document: Document, paragraphs: list[str]) -> list[str]:
    """One of title, heading, question, speaker, quoter, intro, body, meta for every paragraph.

    A meta paragraph is document metadata, not text to search: a byline, a lone name line or
    a date under the title, a site header (read.head_roles). It is neither a passage nor the
    context of one.

    A quoter is a speaker line that introduces a quotation: only the quoted paragraphs after
    it are the speaker's; a speaker line's comment runs to the next context line.
    """
    dashes = [i for i, p in enumerate(paragraphs) if _DASH.match(p)]
    asked = dashes[::2]
    interview = len(dashes) >= 4 and sum("?" in paragraphs[i] for i in asked) * 2 >= len(asked)
    roles = []
    expect_question = True
    title_seen = False
    commenting = False  # after a speaker line, a question is part of the comment, not a lead
    quoting = False  # after a quoter, while paragraphs open with a quotation mark
    meta = head_roles(paragraphs, document.title)
    for i, paragraph in enumerate(paragraphs):
        if i in meta:
            roles.append("meta")
            continue
        words = len(paragraph.split())
        one_line = "\n" not in paragraph
        qa = _QA.match(paragraph)
        quoting = quoting and paragraph.startswith(_OPENING_QUOTE)
        if quoting:
            role = "body"  # however short: the quotation, not a line introducing the next
        elif not title_seen and one_line and clean_title(paragraph) == document.title:
            role, title_seen = "title", True
        elif qa:
            role = "question" if qa.group("tag").lower().startswith("q") else "body"
        elif interview and _DASH.match(paragraph):
            role = "question" if expect_question else "body"
            expect_question = not expect_question
        elif (
            one_line and _SPEAKER.match(paragraph) and not commenting
            and _quotation(paragraph, paragraphs[i + 1] if i + 1 < len(paragraphs) else "")
        ):  # fmt: skip
            role, quoting = "quoter", True
        elif one_line and _SPEAKER.match(paragraph):
            role, commenting = "speaker", True
        elif (
            one_line
            and words <= HEADING_WORDS
            and (
                not paragraph.endswith(_TERMINAL)
                or (words <= 4 and not commenting)  # "Thanks!" in a comment is no heading
                or is_date_line(paragraph)
                or _NUMBERED_HEADING.match(paragraph)
            )
        ):
            role = "heading"
            expect_question = True
        elif paragraph.endswith("?") and words <= QUESTION_WORDS and not commenting:
            role = "question"
        elif one_line and words <= HEADING_WORDS:
            role = "intro"
        else:
            role = "body"
        roles.append(role)
    return roles


_CONTEXT_ROLES = ("title", "heading", "question", "speaker", "quoter")


def metadata_spans(document: Document) -> list[tuple[int, int]]:
    """Spans of the paragraphs of `document` that are metadata (a byline, a lone name line or
    a date under the title, a site header): in no passage and no context."""
    spans = paragraph_spans(document.text)
    roles = _roles(document, [document.text[s:e] for s, e in spans])
    return [span for span, role in zip(spans, roles, strict=True) if role == "meta"]


@dataclass
class Block:
    start: int
    end: int
    context: list[tuple[int, int]]  # (paragraph index, token limit) of each context part


def _context(title: int | None, heading: int | None, lead: int | None) -> list[tuple[int, int]]:
    """A block's context parts: (paragraph index, token limit) of its title, heading, lead."""
    parts = ((title, TITLE_TOKENS), (heading, HEADING_TOKENS), (lead, LEAD_TOKENS))
    return [(j, limit) for j, limit in parts if j is not None]


def _close(
    blocks: list[Block], used: set[int], start: int, end: int, context: list[tuple[int, int]]
) -> None:
    """Add short closing lines (start to end) to the block before them if they continue it
    (same context), else as a block of their own."""
    if blocks and blocks[-1].context == context and blocks[-1].start < start:
        blocks[-1].end = end
    else:
        blocks.append(Block(start, end, context))
        used.update(j for j, _ in context)


def blocks(document: Document, spans: list[tuple[int, int]]) -> list[Block]:
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
    blocks: list[Block] = []
    used: set[int] = set()
    for i, ((start, end), role) in enumerate(zip(spans, roles, strict=True)):
        paragraph_text = paragraphs[i]
        if role == "meta" and intro_start is None:
            continue
        if (role in _CONTEXT_ROLES or role == "meta") and intro_start is not None:
            # Short lines that a context line follows introduce nothing: they close what came
            # before (else the next passage would span the context line too).
            _close(blocks, used, intro_start, spans[i - 1][1], _context(title, heading, lead))
            intro_start = None
        if role == "meta":
            continue
        if role == "title":
            title = i
        elif role == "heading":
            heading, lead = i, None
        elif role in ("question", "speaker", "quoter"):
            lead = i
        elif role == "intro":
            intro_start = start if intro_start is None else intro_start
        elif (
            blocks and roles[i - 1] == "body" and blocks[-1].end == spans[i - 1][1]
            and not paragraphs[i - 1].endswith(_TERMINAL) and paragraph_text[:1].islower()
        ):  # fmt: skip
            blocks[-1].end = end  # a sentence broken by a blank line stays whole
        else:
            if lead is not None and roles[lead] == "quoter":
                if not paragraph_text.startswith(_OPENING_QUOTE):
                    lead = None  # the quotation is over: the author speaks again
            context = _context(title, heading, lead)
            blocks.append(Block(start if intro_start is None else intro_start, end, context))
            used.update(j for j, _ in context)
            intro_start = None
    title_only = [(title, TITLE_TOKENS)] if title is not None else []
    if intro_start is not None:  # short closing lines
        _close(blocks, used, intro_start, spans[-1][1], _context(title, heading, lead))
    for i, role in enumerate(roles):
        if role in _CONTEXT_ROLES and i not in used:
            blocks.append(Block(*spans[i], title_only if title != i else []))
    return sorted(blocks, key=lambda b: b.start)
