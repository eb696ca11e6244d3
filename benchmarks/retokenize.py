"""Keyword tokenization variants, measured without embedding anything again.

Run: .venv/bin/python benchmarks/retokenize.py SRC_IDX DST_IDX VARIANT
copies SRC_IDX to DST_IDX and rebuilds only its BM25 postings and lengths with VARIANT's
tokenization (seconds: the vectors and sentence vectors are kept); then
`benchmarks/tune_fusion.py ... --index DST_IDX --tokens VARIANT --cache NEW_CACHE` measures it
(the queries are tokenized the same way). Variants (docs/quality.md, "Failure analysis"):
  same: today's tokenization (the control: it must give today's figures);
  names: a hyphenated name with a number or a part of at most three letters ("IL-6",
    "4-PBA", "Ly-6C", "NF-κB") also counts as one joined token ("il6"), beside its parts, in
    passages and queries, so "IL6" and "IL-6" match each other;
  compounds: every hyphenated compound also counts joined ("tissueresident").
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paraseek.index import keyword

_HYPHENATED = re.compile(r"[^\W_]+(?:-[^\W_]+)+")
_count_terms = keyword.count_terms
_query_terms = keyword.query_terms


def _is_name(compound: str) -> bool:
    return any(any(ch.isdigit() for ch in p) or len(p) <= 3 for p in compound.split("-"))


def joined(text: str, variant: str) -> list[str]:
    """The joined forms of `text`'s hyphenated compounds that `variant` adds."""
    found = _HYPHENATED.findall(text)
    if variant == "names":
        found = [c for c in found if _is_name(c)]
    return [c.replace("-", "") for c in found]


def _with_joined(text: str, variant: str) -> str:
    """`text` with each compound's joined form written after it."""
    if variant == "same" or "-" not in text:
        return text
    keep = _is_name if variant == "names" else (lambda c: True)
    return _HYPHENATED.sub(
        lambda m: f"{m.group(0)} {m.group(0).replace('-', '')}" if keep(m.group(0)) else m.group(0),
        text,
    )


def patch(variant: str) -> None:
    """Make paraseek's keyword module tokenize passages and queries as `variant` does."""
    if variant == "same":
        return

    def count_terms(rows: Sequence[tuple[int, str, str]]):  # type: ignore[no-untyped-def]
        return _count_terms(
            [(i, _with_joined(t, variant), _with_joined(c, variant)) for i, t, c in rows]
        )

    def query_terms(query: str) -> list[str]:
        words = _query_terms(query)
        return list(dict.fromkeys([*words, *(w.lower() for w in joined(query, variant))]))

    keyword.count_terms = count_terms  # type: ignore[assignment]
    keyword.query_terms = query_terms  # type: ignore[assignment]


def main() -> None:
    source, target, variant = sys.argv[1:4]
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    patch(variant)
    conn = sqlite3.connect(Path(target) / "paraseek.db")
    with conn:
        conn.execute("DELETE FROM keyword_postings")
        conn.execute("DELETE FROM keyword_lengths")
        conn.execute("DELETE FROM meta WHERE key = 'keyword_segment'")
        writer = keyword.PostingsWriter(conn)
        for pid, text, context in conn.execute("SELECT id, text, context FROM passages").fetchall():
            writer.add(pid, text, context)
        writer.finish()
    conn.execute("VACUUM")
    conn.close()


if __name__ == "__main__":
    main()
