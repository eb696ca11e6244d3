"""BM25 from the index's postings: the same ranking and scores as SQLite FTS5's bm25().

FTS5 is the oracle only: each check builds an FTS5 table of the index's passages, with the
index's tokenizer, and asks its bm25() (the index itself holds no FTS5 table)."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from paraseek.embedder import Embedder
from paraseek.index import Index, Writer, keyword
from paraseek.index.check import check

from .conftest import copy_index, sample_cache

QUERIES = [
    "Russia election interference",
    "Michael Flynn resigns",
    "what do they say about the media and the press",  # stop words dropped
    "elections election elected",  # three words, one stem: three phrases, as FTS5 counts
    "naïve CAFÉ économie",  # case and diacritics folded
    "NATO's future 2016",
    "communism religion Marx",
    "zzyzx unknownword",  # no passage holds these
    "the and of",  # nothing left after stop words
]


def _fts5(path: Path, query: str, k: int, ids: list[int] | None = None) -> list[tuple[int, float]]:
    """The reference: FTS5's own bm25() over the index's passages, as (id, -bm25()), best first."""
    terms = keyword.query_terms(query)
    if not terms:
        return []
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("ATTACH DATABASE ? AS idx", (f"file:{path / 'paraseek.db'}?mode=ro",))
        conn.execute(
            f"CREATE VIRTUAL TABLE fts USING fts5(text, context, tokenize = '{keyword.TOKENIZE}')"
        )
        conn.execute(
            "INSERT INTO fts (rowid, text, context) SELECT id, text, context FROM idx.passages"
        )
        sql = (
            f"SELECT rowid, -bm25(fts, 1.0, {keyword.CONTEXT_WEIGHT}) AS score FROM fts "
            "WHERE fts MATCH ?"
        )
        args: list[object] = [" OR ".join(f'"{t}"' for t in terms)]
        if ids is not None:
            sql += f" AND rowid IN ({','.join('?' * len(ids))})"
            args.extend(ids)
        sql += " ORDER BY score DESC LIMIT ?"
        return [(int(i), float(s)) for i, s in conn.execute(sql, [*args, k]).fetchall()]
    finally:
        conn.close()


def _postings(
    index: Index, query: str, k: int, ids: list[int] | None = None
) -> list[tuple[int, float]]:
    passages, scores = index.keyword_search(query, k, ids)
    return [(int(p.id or 0), s) for p, s in zip(passages, scores, strict=True)]


def _same_ranking(found: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    """Equal scores rank by rank; ids equal except where scores tie (FTS5 orders ties freely)."""
    assert len(found) == len(expected)
    for (_, a), (_, b) in zip(found, expected, strict=True):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)
    by_score: dict[float, set[int]] = {}
    for i, s in expected:
        by_score.setdefault(round(s, 9), set()).add(i)
    cutoff = round(expected[-1][1], 9) if expected else None
    for i, s in found:
        if round(s, 9) != cutoff:  # a tie at the cut may be filled by another tied passage
            assert i in by_score[round(s, 9)]


def _agrees(path: Path, k: int = 40) -> None:
    index = Index(path)
    try:
        for query in QUERIES:
            _same_ranking(_postings(index, query, k), _fts5(path, query, k))
    finally:
        index.close()


def test_postings_rank_as_fts5_bm25(sample_index: Path) -> None:
    _agrees(sample_index, k=300)  # more than the sample holds: every matching passage
    index = Index(sample_index)
    found = _postings(index, "Russia election interference", 10)
    assert len(found) == 10 and found[0][1] > found[-1][1] > 0
    assert _postings(index, "the and of", 10) == []
    # A document filter keeps BM25's statistics of the whole collection, as FTS5 does.
    some = sorted(i for d in index.documents()[:2] for i in index.passage_ids([d.id]))
    for query in QUERIES[:4]:
        _same_ranking(_postings(index, query, 15, some), _fts5(sample_index, query, 15, some))
        assert {i for i, _ in _postings(index, query, 15, some)} <= set(some)
    index.close()


@pytest.mark.slow
def test_postings_follow_every_kind_of_update(
    corpus_copy: Path, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch,
    sample_index: Path,
) -> None:  # fmt: skip
    monkeypatch.setattr(keyword, "MAX_SEGMENTS", 2)  # merges within a few updates
    path = sample_cache(sample_index, tmp_path / "index", embedder)  # postings: none live
    files = sorted(p for p in corpus_copy.iterdir() if p.suffix in (".txt", ".md"))
    with Writer(path, embedder) as writer:
        assert writer.update([corpus_copy]).embedded == 0
    _agrees(path)

    changed = files[0]
    for round_ in range(4):  # the same document changed again and again: its terms merge
        changed.write_text(
            changed.read_text(encoding="utf-8")
            + f"\n\nRussia and the election, round {round_}: sanctions on the press.\n",
            encoding="utf-8",
        )
        with Writer(path, embedder) as writer:
            writer.update([corpus_copy])
        _agrees(path)
    files[1].unlink()
    (corpus_copy / "new.txt").write_text(
        "A new document\n\nElection interference by Russia, again, and the press.\n",
        encoding="utf-8",
    )
    with Writer(path, embedder) as writer:
        writer.update([corpus_copy])
    _agrees(path)

    conn = sqlite3.connect(path / "paraseek.db")
    most = conn.execute(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM keyword_postings GROUP BY term)"
    ).fetchone()[0]
    segments = conn.execute("SELECT segment FROM keyword_postings WHERE term = 'russia'").fetchall()
    conn.close()
    # Six writes touched "russia"; merges keep every term at MAX_SEGMENTS or fewer.
    assert most <= 2 and 1 <= len(segments) <= 2
    assert all(f.level != "error" for f in check(path))


def test_check_tokenizes_passages_again_to_find_lost_postings(
    sample_index: Path, tmp_path: Path
) -> None:
    path = copy_index(sample_index, tmp_path / "lost")
    assert [f.level for f in check(path) if f.part == "postings"] == ["ok"]
    conn = sqlite3.connect(path / "paraseek.db")
    with conn:  # the postings lost, the lengths kept: only tokenizing again tells
        conn.execute("DELETE FROM keyword_postings")
    conn.close()
    findings = [f for f in check(path) if f.part == "postings"]
    assert [f.level for f in findings] == ["error"]
    assert "of passage" in findings[0].message and "missing or miscounted" in findings[0].message
    assert findings[0].message.endswith("re-index.")


def test_damaged_postings_are_reported_not_used(sample_index: Path, tmp_path: Path) -> None:
    path = copy_index(sample_index, tmp_path / "damaged")
    conn = sqlite3.connect(path / "paraseek.db")
    with conn:
        conn.execute(
            "UPDATE keyword_postings SET weights = substr(weights, 5) WHERE term = 'russia'"
        )
    conn.close()
    findings = check(path)
    assert any(f.level == "error" and "postings of term 'russia'" in f.message for f in findings)
    index = Index(path)
    with pytest.raises(Exception, match=r"is damaged .*postings of term 'russia'.*re-index"):
        index.keyword_search("Russia", 5)
    index.close()


def test_query_tokens_are_fts5_tokens() -> None:
    assert keyword.term_tokens("Elections") == ("elect",)
    assert keyword.term_tokens("CAFÉ") == ("cafe",)
    assert keyword.query_tokens(["elections", "naïve"]) == ["elect", "naiv"]
    assert keyword.term_tokens("") == ()
    assert keyword.query_tokens([""]) == []


@pytest.mark.parametrize(
    "query",
    ["Russia election interference", "communism religion Marx", "zzyzx Flynn", "the and of"],
)
def test_coverage_is_the_share_of_the_query_idf_a_passage_holds(
    sample_index: Path, query: str
) -> None:
    # The oracle: FTS5 says which passages hold each word; IDFs as FTS5 computes them.
    conn = sqlite3.connect(":memory:")
    conn.execute("ATTACH DATABASE ? AS idx", (f"file:{sample_index / 'paraseek.db'}?mode=ro",))
    conn.execute(
        f"CREATE VIRTUAL TABLE fts USING fts5(text, context, tokenize = '{keyword.TOKENIZE}')"
    )
    conn.execute(
        "INSERT INTO fts (rowid, text, context) SELECT id, text, context FROM idx.passages"
    )
    ids = [int(i) for (i,) in conn.execute("SELECT rowid FROM fts ORDER BY rowid")]
    count = len(ids)
    holding, idfs = [], []
    for term in keyword.query_terms(query):
        held = {
            int(i)
            for (i,) in conn.execute("SELECT rowid FROM fts WHERE fts MATCH ?", (f'"{term}"',))
        }
        idf = math.log((count - len(held) + 0.5) / (len(held) + 0.5))
        holding.append(held)
        idfs.append(idf if idf > 0 else 1e-6)
    conn.close()
    shares, rarity = Index(sample_index).keyword_coverage(query, ids)
    total = sum(idfs)
    expected = [
        sum(f for f, h in zip(idfs, holding, strict=True) if i in h) / (total or 1.0) for i in ids
    ]
    assert shares == pytest.approx(expected, abs=1e-9)
    assert rarity == pytest.approx(total / math.log((count + 0.5) / 0.5), abs=1e-9)
    assert all(0.0 <= s <= 1.0 for s in shares)
    if query == "zzyzx Flynn":  # a word no passage holds weighs the most and nobody holds it
        assert max(shares) < 0.5 < rarity
