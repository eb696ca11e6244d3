"""Why hybrid search misses on a BEIR split: the claims whose first document is not a relevant one.

Run: .venv/bin/python benchmarks/failures.py ../shared/eval/scifact --index IDX --cache CACHE [--list FILE]
CACHE is the file `benchmarks/tune_fusion.py ... --cache CACHE` wrote (the train split's
candidates, as the Searcher saw them). For each claim the relevant document does not lead, it
prints the relevant document's fused rank, its best passage's dense and keyword ranks (among the
candidates), the query tokens that passage lacks, and a category; then the categories' counts.
A token counts as missing when the relevant passage has no posting of it; its cause is read from
the claim's spelling (a part of a hyphenated, slashed or "+" name, a number, a Greek letter)
or from the relevant document's text (another form of the word: a plural or suffix the porter
stemmer keeps apart, British and American spellings).
"""

from __future__ import annotations

import argparse
import pickle
import re
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tune_fusion import Candidates, fused, setting

from paraseek.evaluate import documents_in_order, load_beir
from paraseek.index import keyword

DEFAULT = "cov=0.1,c0=2"
_COMPOUND = re.compile(r"[^\W_]+(?:[-/+'][^\W_]*)+")
_NEGATION = re.compile(r"\b(not|no|none|never|lack|lacks|fail|fails|without|cannot)\b|n't\b", re.I)
_GREEK = re.compile(r"[\u0370-\u03ff]|\b(alpha|beta|gamma|delta|kappa)\b", re.I)
_KINDS = {
    "with a hyphenated, slashed or + name": re.compile(r"[^\W_]+(?:[-/+][^\W_]*)+"),
    "with a number": re.compile(r"\d"),
    "negated": _NEGATION,
}
_SPELLINGS = [
    ("ae", "e"),
    ("oe", "e"),
    ("our", "or"),
    ("ise", "ize"),
    ("yse", "yze"),
    ("tre", "ter"),
]


def origins(query: str) -> dict[str, str]:
    """Query token -> how the claim spells the word it comes from, for the tokens of a
    compound name ("IL-6"), a number or a Greek letter; plain words are absent."""
    found: dict[str, str] = {}
    for compound in _COMPOUND.findall(query):
        for word in keyword._WORD.findall(compound.lower()):
            for token in keyword.term_tokens(word):
                found.setdefault(token, "compound")
    for word in keyword.query_terms(query):
        for token in keyword.term_tokens(word):
            if any(ch.isdigit() for ch in token):
                found[token] = "number" if token.isdigit() else found.get(token, "alphanumeric")
            if _GREEK.search(word):
                found[token] = "greek"
    return found


def _joined(text: str) -> str:
    """`text` lower-cased with every hyphen and space between word characters dropped."""
    return re.sub(r"(?<=\w)[- ](?=\w)", "", text.lower())


def variant(token: str, words: set[str]) -> str | None:
    """A form of `token` that the document holds under another token: British or American
    spelling, or a longer or shorter form the porter stemmer keeps apart."""
    for a, b in _SPELLINGS:
        for x, y in ((a, b), (b, a)):
            if x in token and token.replace(x, y) in words:
                return "spelling"
    if len(token) >= 6:
        stem = token[: max(6, len(token) - 2)]
        if any(w != token and w.startswith(stem) for w in words):
            return "form"
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--index", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--settings", default=DEFAULT)
    parser.add_argument("--list", help="a file to write one line per missed claim to")
    args = parser.parse_args()
    kept: list[Candidates]
    kept, documents = pickle.loads(Path(args.cache).read_bytes())
    dataset = load_beir(args.dataset, args.split)
    conn = sqlite3.connect(f"file:{Path(args.index) / 'paraseek.db'}?mode=ro", uri=True)
    s = setting(args.settings)
    counts: Counter[str] = Counter()
    causes: Counter[str] = Counter()
    claims: Counter[str] = Counter()
    kinds = {kind: [0, 0] for kind in _KINDS}  # kind -> [claims first, claims missed]
    lines = []
    for q, c in zip(dataset.queries, kept, strict=True):
        query = dataset.queries[q]
        relevant = {d for d, g in dataset.qrels[q].items() if g > 0}
        score = fused(c, s)
        order = np.lexsort((c.ids, -score))
        docs = documents_in_order([documents[int(c.ids[n])] for n in order], 100)
        missed = not (docs and docs[0] in relevant)
        for kind, pattern in _KINDS.items():
            if pattern.search(query):
                kinds[kind][missed] += 1
        if not missed:
            counts["first"] += 1
            continue
        tokens = keyword.query_tokens(keyword.query_terms(query))
        rank = next((r for r, d in enumerate(docs) if d in relevant), None)
        top = order[0]
        if rank is None:
            counts["not a candidate"] += 1
            lines.append(f"{q}\tnot a candidate\t{query}")
            continue
        rel = next(n for n in order if documents[int(c.ids[n])] in relevant)
        missing = [t for j, t in enumerate(tokens) if c.per_token[rel, j] == 0]
        top_only = [
            t for j, t in enumerate(tokens) if c.per_token[rel, j] == 0 and c.per_token[top, j] > 0
        ]
        doc = documents[int(c.ids[rel])]
        passage, context = conn.execute(
            "SELECT text, context FROM passages WHERE id = ?", (int(c.ids[rel]),)
        ).fetchone()
        whole = " ".join(
            t for (t,) in conn.execute("SELECT text FROM passages WHERE document_id = ?", (doc,))
        )
        held = {t for t, _, _ in keyword.count_terms([(1, passage, context)])[0]}
        elsewhere = {t for t, _, _ in keyword.count_terms([(1, whole, "")])[0]}
        born = origins(query)
        why = []
        for t in missing:
            cause = born.get(t)
            if cause is None:
                cause = "another passage" if t in elsewhere else variant(t, held) or "absent"
            why.append(f"{t}:{cause}")
            causes[cause] += 1
        for cause in {w.split(":")[1] for w in why}:
            claims[cause] += 1
        top_text = " ".join(
            conn.execute(
                "SELECT text, context FROM passages WHERE id = ?", (int(c.ids[top]),)
            ).fetchone()
        )
        joined = [_joined(m) for m in _COMPOUND.findall(query) if "-" in m]
        if any(j in _joined(passage) and j not in _joined(top_text) for j in joined):
            counts["a hyphenated name as written: in the relevant passage, not the top one"] += 1
        if any(j in _joined(top_text) and j not in _joined(passage) for j in joined):
            counts["a hyphenated name as written: in the top passage, not the relevant one"] += 1
        gap = float(score[top] - score[rel])
        side = (
            "dense"
            if c.dense_rank[rel] > c.dense_rank[top] and c.keyword_rank[rel] <= c.keyword_rank[top]
            else "keyword"
            if c.keyword_rank[rel] > c.keyword_rank[top] and c.dense_rank[rel] <= c.dense_rank[top]
            else "both"
        )
        kind = "near tie" if gap < 0.01 else side
        counts[f"{'2-3' if rank < 3 else '4-10' if rank < 10 else '>10'}, {kind}"] += 1
        if any(w.endswith(":compound") for w in why):
            counts["lacks a token of a compound name"] += 1
        lines.append(
            f"{q}\trank {rank + 1}\tgap {gap:.3f}\tdense {c.dense_rank[rel] + 1} vs "
            f"{c.dense_rank[top] + 1}\tkeyword {c.keyword_rank[rel] + 1} vs "
            f"{c.keyword_rank[top] + 1}\tmissing {' '.join(why) or '-'}\t"
            f"top only {' '.join(top_only) or '-'}\t{query}"
        )
    if args.list:
        Path(args.list).write_text("\n".join(lines) + "\n")
    print(f"{len(dataset.queries)} claims, settings {args.settings!r}")
    for name, n in sorted(counts.items()):
        print(f"  {name}: {n}")
    for kind, (first, missed) in kinds.items():
        print(f"  claims {kind}: {missed} of {first + missed} missed")
    print("tokens the relevant passage lacks, by cause: tokens (claims)")
    for name, n in causes.most_common():
        print(f"  {name}: {n} ({claims[name]})")


if __name__ == "__main__":
    main()
