"""Shared talking points: groups of passages of several documents that say nearly the same thing."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..calibration import cosine_at, relevance
from ..corpus import Passage, speaker, voice
from ..index.keyword import words
from ..search import Searcher
from .align import SHARED_THRESHOLD

POINT_WORDS = 4  # words that name a talking point
# Common words that say nothing about a point, beyond keyword.STOPWORDS (which queries use).
_BLAND = frozenset(
    "also any can could even every get got just like made make many may might much must new "
    "now one said say says see shall still thing things two way well what yes".split()
)


@dataclass(frozen=True)
class Point:
    """A talking point: passages of several documents that say nearly the same thing.

    Attributes:
        passages: each with its best link score, in document order: a relevance (0 to 1, 0.5
            at the silence floor), as More like this scores.
        cosines: each passage's best link as a raw cosine, in the same order.
        words: up to POINT_WORDS words that set it apart, most telling first: used in most of
            its documents and rare in the rest of the collection.
    """

    passages: list[tuple[Passage, float]]
    words: list[str]
    cosines: list[float] = field(default_factory=list)

    @property
    def documents(self) -> int:
        """How many documents share the point."""
        return len({p.document_id for p, _ in self.passages})

    def to_dict(self, titles: dict[str, str]) -> dict[str, object]:
        """The point as JSON-ready data; `titles` maps document ids to titles. A passage's
        `speaker` and `voice` are Hit's (None for the document's own words)."""
        return {
            "words": self.words,
            "documents": self.documents,
            "passages": [
                {"passage_id": p.id, "document_id": p.document_id,
                 "title": titles.get(p.document_id, ""), "score": score, "cosine": cosine,
                 "text": p.text, "speaker": speaker(p.context), "voice": voice(p.context, p.text)}
                for (p, score), cosine in zip(self.passages, self.cosines, strict=True)
            ],
        }  # fmt: skip


def talking_points(
    searcher: Searcher, threshold: float = SHARED_THRESHOLD, neighbours: int = 10,
    document_ids: Sequence[str] | None = None, comments: bool = False,
) -> list[Point]:  # fmt: skip
    """Groups of passages from different documents that say nearly the same thing.

    `threshold` is a relevance (0 to 1, 0.5 at the silence floor: calibration.relevance), the
    scale of every score shown; the cosine it stands for on this index (calibration.cosine_at)
    is the cut. Passages are linked when one is among the other's `neighbours` nearest
    passages of another document with a cosine of at least the cut. Links join groups
    strongest first, and two groups join only if their passages' mean cosine across them is at
    least the cut (average linkage), so a point does not drift from one subject to the next
    along a chain of links. A point spans at least two documents; each passage's score is its
    strongest link in the point, as a relevance. Comments (see `Hit.speaker`) take part only if `comments`: a reader's comment
    is not a talking point of the document it is under. A question kept as a passage of its
    own (see `Searcher.leads`) takes no part: the passage that answers it does.

    Returns:
        Points, most documents first, then highest mean link score.
    """
    every = searcher.passage_ids(
        list(document_ids) if document_ids else [d.id for d in searcher.documents()]
    )
    skip = set() if comments else searcher.comment_ids()
    passages = {int(p.id or 0): p for p in searcher.passages(every)}
    skip |= {int(i or 0) for i in searcher.leads(list(passages.values()))}  # their answers speak
    ids = [i for i in every if i not in skip]
    if len(ids) < 2:
        return []
    vectors = searcher.vectors(ids)
    floor = searcher.floor()
    cut = cosine_at(threshold, floor)
    found, scores = searcher.nearest(vectors, min(neighbours + 1, len(ids)), passage_ids=ids)
    links = sorted(
        (
            (float(score), source, int(other.id or 0))
            for source, row, row_scores in zip(ids, found, scores, strict=True)
            for other, score in zip(row, row_scores, strict=True)
            if score >= cut and other.document_id != passages[source].document_id
        ),
        reverse=True,
    )
    row_of = {i: n for n, i in enumerate(ids)}
    group_of = _average_linkage(links, lambda i: vectors[row_of[i]], cut)
    best: dict[int, float] = {}
    for score, a, b in links:
        if group_of[a] is group_of[b]:
            best[a], best[b] = max(best.get(a, 0.0), score), max(best.get(b, 0.0), score)
    result = []
    for members in {id(g): g for g in group_of.values()}.values():
        if len({passages[i].document_id for i in members}) < 2:
            continue
        ordered = sorted(members, key=lambda i: (passages[i].document_id, passages[i].ordinal))
        result.append([(passages[i], round(best[i], 4)) for i in ordered])
    result.sort(key=lambda g: (-len({p.document_id for p, _ in g}), -sum(s for _, s in g) / len(g)))
    rarity = _rarity(list(passages.values()))  # of every word written, comments' too
    return [
        Point(
            [(p, round(relevance(cosine, floor), 4)) for p, cosine in group],
            _telling_words([p for p, _ in group], rarity),
            [cosine for _, cosine in group],
        )
        for group in result
    ]


def _average_linkage(
    links: Sequence[tuple[float, int, int]],
    vector: Callable[[int], np.ndarray],
    threshold: float,
) -> dict[int, list[int]]:
    """The group (a shared list) of each linked passage, joined along `links` in their order.

    Two groups join when the mean cosine of their passages' vectors across them is at least
    `threshold`. That mean is the dot product of the groups' vector sums over the number of
    pairs, so each group keeps its sum instead of its vectors being multiplied pair by pair.
    """
    group_of: dict[int, list[int]] = {}
    total: dict[int, np.ndarray] = {}  # id(group) -> the sum of its passages' vectors
    for _, a, b in links:
        for i in (a, b):
            if i not in group_of:
                group_of[i] = [i]
                total[id(group_of[i])] = vector(i).astype(np.float64)
        one, two = group_of[a], group_of[b]
        if one is two:
            continue
        mean = float(total[id(one)] @ total[id(two)]) / (len(one) * len(two))
        if mean >= threshold:
            total[id(one)] += total.pop(id(two))
            one.extend(two)
            for i in two:
                group_of[i] = one
    return group_of


def _rarity(passages: Sequence[Passage]) -> dict[str, float]:
    """Inverse passage frequency of each lower-cased word: log(passages / passages using it)."""
    used = Counter(w for p in passages for w in {w.lower() for w in words(p.text)})
    return {w: math.log(len(passages) / n) for w, n in used.items()}


def _telling_words(group: Sequence[Passage], rarity: dict[str, float]) -> list[str]:
    """POINT_WORDS words of `group`: in the most of its documents, often, and rare elsewhere.

    A word scores (documents of the group using it) x log(1 + uses in the group) x its rarity;
    it is shown as most often written (so "NATO", "Russia", "elections"), and a word
    beginning with the same six letters as a better one (another form of it) is left out.
    """
    written: dict[str, Counter[str]] = {}
    documents: dict[str, set[str]] = {}
    for p in group:
        for w in words(p.text):
            if len(w) > 2 and not w.isdigit() and w.lower() not in _BLAND:
                written.setdefault(w.lower(), Counter())[w] += 1
                documents.setdefault(w.lower(), set()).add(p.document_id)
    score = {
        w: len(documents[w]) * math.log1p(sum(forms.values())) * rarity.get(w, 0.0)
        for w, forms in written.items()
    }
    top: list[str] = []
    for w in sorted(score, key=lambda w: (-score[w], w)):
        if len(top) == POINT_WORDS or score[w] <= 0:
            break
        if all(w[:6] != t[:6] for t in top):  # one of "imperialis(t|m)"
            top.append(w)
    return [written[w].most_common(1)[0][0] for w in top]
