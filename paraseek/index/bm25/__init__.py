"""BM25 from posting lists in the index database: FTS5's bm25() scores without its per-row cost.

FTS5's bm25() costs about 2.5 us for every row that matches any query term, and nothing prunes
that work, so the keyword side of a query grew with the collection (about 60 ms at 100k
passages). Here each query term's postings are read from the database as NumPy arrays and
scored in one pass. The scores are FTS5's bm25(passages_fts, 1.0, CONTEXT_WEIGHT): the same
tokenizer (an in-memory FTS5 table with the index's settings), the same formula, IDF and
lengths. Rankings are unchanged; tests/test_bm25.py checks that against FTS5 itself.

Tables (written in the writer's transaction, so always in step with the passages):
- keyword_lengths(id, tokens): each passage's token count, text and context together.
- keyword_postings(term, segment, ids, weights): a term's passage ids (int64) and weighted
  term frequencies (float32), one row per segment. Each write adds a segment for every term
  it touches; a term with more than MAX_SEGMENTS segments is merged into one, without the
  passages removed since. Until then a removed passage's postings stay, and queries skip
  every id that keyword_lengths lacks.
- meta "keyword_postings" = "1" once every passage is in them; an index written before they
  existed gets them the next time it is written to, and is read through FTS5 until then.
"""

from __future__ import annotations

from .check import problems
from .read import READY, SCHEMA, Collection, best, collection, ready, scores
from .tokens import CONTEXT_WEIGHT, TOKENIZE, count_terms, highlighted, query_tokens, term_tokens
from .write import MAX_SEGMENTS, PostingsWriter, backfill, mark_ready

__all__ = [
    "CONTEXT_WEIGHT",
    "MAX_SEGMENTS",
    "READY",
    "SCHEMA",
    "TOKENIZE",
    "Collection",
    "PostingsWriter",
    "backfill",
    "best",
    "collection",
    "count_terms",
    "highlighted",
    "mark_ready",
    "problems",
    "query_tokens",
    "ready",
    "scores",
    "term_tokens",
]
