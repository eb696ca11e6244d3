"""Two documents side by side: each paragraph of one with its closest paragraph of the other."""

from __future__ import annotations

from dataclasses import dataclass

from ..calibration import relevance
from ..corpus import Passage, speaker, voice
from ..search import Searcher

# The relevance (calibration.relevance: 0.5 at the silence floor) at or above which two
# paragraphs say nearly the same thing: on the sample corpus, a cosine of 0.599.
SHARED_THRESHOLD = 0.7


@dataclass(frozen=True)
class Alignment:
    """A paragraph of one document and its closest paragraph in another."""

    passage: Passage
    match: Passage | None  # None when the other document is empty
    score: float  # relevance, 0 to 1, as More like this scores (0.5 at the silence floor)
    shared: bool  # score >= the threshold
    cosine: float = 0.0  # the raw cosine similarity, -1 to 1

    def to_dict(self) -> dict[str, object]:
        """The pair as JSON-ready data: the passage, its score and verdict, its match or None;
        `speaker` and `voice` are Hit's (None for the document's own words)."""
        match = self.match
        return {
            "passage_id": self.passage.id, "text": self.passage.text,
            "speaker": speaker(self.passage.context),
            "voice": voice(self.passage.context, self.passage.text),
            "score": self.score, "cosine": self.cosine, "shared": self.shared,
            "match": None if match is None else {
                "passage_id": match.id, "text": match.text, "speaker": speaker(match.context),
                "voice": voice(match.context, match.text),
            },
        }  # fmt: skip


def align(
    searcher: Searcher, document_a: str, document_b: str, threshold: float = SHARED_THRESHOLD,
    comments: bool = False,
) -> list[Alignment]:  # fmt: skip
    """Each passage of document A with its closest passage of document B, in A's order.

    Args:
        threshold: the relevance (0 to 1, 0.5 at the silence floor) from which a pair is
            `shared`.
        comments: align comments too (see `Hit.speaker`); left out by default, on both sides,
            unless a document has nothing else. A question kept as a passage of its own (see
            `Searcher.leads`) is left out the same way: the passage that answers it aligns.
    """
    with searcher.snapshot():
        every_a = searcher.document_passages(document_a)
        every_b = searcher.document_passages(document_b)
        skip = searcher.leads(every_a + every_b)  # a question: its answer aligns
        if not comments:
            skip |= set(searcher.comment_ids())
        a = _own(every_a, skip)
        b = _own(every_b, skip)
        if not a:
            return []
        if not b:
            return [Alignment(p, None, 0.0, False) for p in a]
        va = searcher.vectors([int(p.id or 0) for p in a])
        vb = searcher.vectors([int(p.id or 0) for p in b])
        floor = searcher.floor()
    similarity = va @ vb.T
    best = similarity.argmax(axis=1)
    rows = []
    for i, (p, j) in enumerate(zip(a, best, strict=True)):
        cosine = float(similarity[i, j])
        score = round(relevance(cosine, floor), 4)
        rows.append(Alignment(p, b[j], score, score >= threshold, round(cosine, 4)))
    return rows


def _own(passages: list[Passage], skip: set[int | None]) -> list[Passage]:
    """`passages` without those in `skip` (ids), unless that leaves nothing."""
    return [p for p in passages if p.id not in skip] or passages
