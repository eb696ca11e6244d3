"""Properties of the splitter for arbitrary Unicode text, with the real model's tokenizer:
offsets map back to the text, no text is lost, no passage exceeds the model's limit."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from paraseek.corpus import (
    Document,
    Passage,
    normalise_space,
    paragraph_spans,
    split_document,
    split_record,
)
from paraseek.corpus.read import plain, text_title
from paraseek.corpus.split import _embedded_tokens, _mapped
from paraseek.corpus.structure import metadata_spans
from paraseek.embedder import Embedder, bundled_model_path

EXAMPLES = 500

# Pieces that stress paragraph, sentence and role detection and the tokenizer: every kind of
# line and paragraph break, spaces the tokenizer drops or keeps, combining marks, emoji
# sequences, CJK without spaces, right-to-left scripts, controls, and the markers of headings,
# questions, interviews and speakers.
SPECIAL = [
    "\n", "\n\n", "\n \n", "\r\n", "\r\n\r\n", "\r", "\u2028", "\u2029", "\x85", "\t", "\x0b",
    "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x00", "\x7f", "\xa0", "\u3000", "\u200b", "\ufeff",
    " ", "  ", ". ", "? ", "! ", "… ", "...", "“", "”", "’", "\"", "(", ")", "- ", "— ", "• ",
    "Q: ", "A: ", "Question: ", "He said:", "1. ", "IV. ", "# ", "\ufffd",
    "e\u0301", "a\u0308\u0323", "\u0301", "👩‍👩‍👧", "🇫🇷", "👍🏽", "😀",
    "北京是中国的首都人口众多历史悠久", "東京", "한국어", "ภาษาไทย",
    "مرحبا بالعالم", "שלום עולם", "\u202e", "\u200f",
    "Déjà", "naïve", "ﬁ", "Ⅻ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "ß", "İ",
]  # fmt: skip
WORDS = st.text(st.characters(min_codepoint=ord("a"), max_codepoint=ord("z")), min_size=1)
ANY_CHARACTER = st.characters(codec="utf-8")  # any character a file can hold: no surrogates
PIECE = st.one_of(
    st.sampled_from(SPECIAL),
    WORDS,
    WORDS.map(str.capitalize),
    st.text(ANY_CHARACTER, min_size=1, max_size=8),
    # long runs, so that paragraphs, sentences and words must be cut to fit the budget
    st.builds(str.__mul__, st.one_of(WORDS, st.sampled_from(SPECIAL)), st.integers(20, 300)),
    st.builds(
        lambda word, gap, n: (word + gap) * n, WORDS, st.sampled_from(SPECIAL), st.integers(20, 300)
    ),
)
TEXT = st.one_of(
    st.lists(PIECE, max_size=60).map("".join),
    st.text(ANY_CHARACTER, max_size=600),
)
LONG = "antidisestablishmentarianism"
# Counterexamples found by these tests, kept as explicit examples. (text, budget; 0 for the
# model's own budget)
FOUND = [
    # The tokenizer drops \x1c, so the raw text counted one token per "ab\x1cab..." run while
    # the embedded text, where str.split() had made \x1c a space, had one per "ab": IndexError.
    ("ab\x1c" * 600, 0),
    ("word\x85" * 400, 0),
    # Title, heading and question shares (32 + 32 + 64 tokens) exceeded the whole budget of a
    # 128-token model, leaving a negative budget for the text: IndexError.
    (f"{'why ' * 40}\n\n{' '.join([LONG] * 12)}\n\n{' '.join([LONG] * 20)}?\n\n"
     f"{'Because it is so. ' * 30}", 126),
    # A window cut between two of the three jamo tokens of one Hangul syllable (all share its
    # character span): the next passage began inside the previous one.
    ("aaaa\r" * 78 + "한국어", 64),
    ("aaaa\r" * 60 + "한국어", 64),
]  # fmt: skip
BUDGETS = st.sampled_from([0, 0, 126, 64])  # 0: the model's own (254); 126: a 128-token model


def document(text: str) -> Document:
    """A Document for `text`, titled the way read_document titles a file."""
    return Document(
        id="0123456789ab",
        path="/nowhere/x.txt",
        title=text_title(text) or "x",
        date=None,
        content_hash=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        text=text,
    )


@pytest.fixture(scope="module")
def model_limit() -> Callable[[str], int]:
    """Tokens of a text for the model's own Hugging Face tokenizer, special tokens included,
    minus the model's maximum sequence length: positive means the model would truncate."""
    from transformers import AutoTokenizer

    folder = bundled_model_path()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    limit = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
    return lambda text: len(tokenizer(text, verbose=False)["input_ids"]) - limit


def check(
    doc: Document, passages: list[Passage], embedder: Embedder, max_tokens: int,
    over: Callable[[str], int] | None,
) -> None:  # fmt: skip
    """Offsets map back, passages are in order, within `max_tokens` (and the model's own limit
    where `over` is given), and every visible character is in a passage or a context."""
    text = doc.text
    covered = [False] * len(text)
    previous_end = 0
    for ordinal, p in enumerate(passages):
        assert p.ordinal == ordinal and p.document_id == doc.id
        assert 0 <= p.start < p.end <= len(text)
        assert p.text == text[p.start : p.end]  # offsets map back, exactly
        assert p.text == p.text.strip()
        assert p.start >= previous_end  # in order, no overlap
        previous_end = p.end
        covered[p.start : p.end] = [True] * (p.end - p.start)
        assert len(embedder.token_spans(p.embedded_text)) <= max_tokens
        if over is not None:
            assert over(p.embedded_text) <= 0, (over(p.embedded_text), p.embedded_text)
    # No text is lost: every character the model can see (one it makes a token of: not a
    # space, a control or format character, or a lone combining mark) is in a passage, or its
    # whole paragraph is context (a title, heading or question) given in full to the passages
    # it introduces.
    contexts = {line for p in passages for line in p.context.split("\n")}
    metadata = metadata_spans(doc)  # bylines, datelines, site headers: neither
    for start, end in paragraph_spans(text):
        visible = [covered[i] for i in range(start, end) if _seen(text[i], embedder)]
        if not all(visible) and (start, end) not in metadata:
            assert not any(visible), ("a paragraph is partly lost", text[start:end])
            assert plain(normalise_space(text[start:end])) in contexts, text[start:end]


@functools.cache
def _tokens_of(character: str, embedder: Embedder) -> int:
    return len(embedder.token_spans(character))


def _seen(character: str, embedder: Embedder) -> bool:
    """Whether the model sees `character`: it makes at least one token of it."""
    return not character.isspace() and _tokens_of(character, embedder) > 0


def examples(test: Callable[..., None]) -> Callable[..., None]:
    """`test` with every FOUND counterexample as an explicit @example."""
    for text, budget in reversed(FOUND):
        test = example(text=text, budget=budget)(test)
    return test


@examples
@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, budget=BUDGETS)
def test_split_document_properties(
    text: str, budget: int, embedder: Embedder, model_limit: Callable[[str], int]
) -> None:
    doc = document(text)
    max_tokens = budget or embedder.max_tokens
    passages = split_document(doc, embedder.token_spans, max_tokens)
    check(doc, passages, embedder, max_tokens, None if budget else model_limit)


@pytest.mark.slow
@examples
@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, budget=BUDGETS)
def test_split_record_properties(
    text: str, budget: int, embedder: Embedder, model_limit: Callable[[str], int]
) -> None:
    doc = document(text)
    max_tokens = budget or embedder.max_tokens
    passages = split_record(doc, embedder.token_spans, max_tokens)
    check(doc, passages, embedder, max_tokens, None if budget else model_limit)
    if text.strip():
        assert passages  # a record's text is all passage, never context


# Tokenizers whose spans take in the space before or after a word, as SentencePiece ones can
# ("▁word"): the shortcut for already-normal text must snap them as the general mapping does.
def leading_space(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r" ?\S{1,3}", text)]


def trailing_space(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"\S{1,3} ?| ", text)]


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT)
def test_text_already_normal_maps_its_tokens_as_the_general_mapping_does(
    text: str, embedder: Embedder
) -> None:
    segment = normalise_space(text)
    words = [m.span() for m in re.finditer(r"\S+", segment)]
    assert " ".join(segment[a:b] for a, b in words) == segment  # the shortcut's case
    for token_spans in (embedder.token_spans, leading_space, trailing_space):
        general = _mapped(segment, words, segment, token_spans)
        assert _embedded_tokens(segment, token_spans) == (general if words else [])
