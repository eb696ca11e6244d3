"""Hit: a passage returned for a query, with its score, rank and what a reader should know."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Hit:
    """A passage returned for one query, with its score and rank.

    Attributes:
        rank: 1 for the best hit (for `compare`, the rank within its document).
        score: higher is better. Cosine similarity (-1 to 1) in dense mode and for `similar`
            and `compare`; in hybrid mode a 0-1 fusion, relative to the other candidates (see
            compare.closest_score for an absolute one); BM25 in keyword mode.
        passage_id: the passage's id in the index.
        document_id: id of the passage's document.
        title: the document's title.
        date: the document's date, YYYY-MM-DD, or None.
        source: the document's file path.
        text: the passage text; `text == document text[start:end]`.
        context: title, heading and question lines the passage was embedded with.
        start: character offset of the passage in the document text.
        end: offset one past its last character.
        ordinal: position of the passage in its document, from 0.
        matched: spans (start, end) in `text` where the query's words occur, by the keyword
            index's stemming (filled by `search`, in every mode).
        best_sentence: span in `text` of the sentence closest to the query by meaning, or
            None; filled when searching with `explain=True`.
        lead: the passage is a long question or heading kept as a passage of its own, which
            the next passage answers or develops (corpus.is_lead): an interviewer's question.
        speaker: who says the passage when it is not the document's own text: the name on
            the line that introduces it ("Anonymous said..." gives "Anonymous"), as in a
            blog's reader comments (corpus.speaker); None for the document's own words.
        voice: the same as a reader's note: "comment by NAME", or "quoting NAME" for a
            quotation ("The minister said:", then the passage in quotation marks); None for
            the document's own words (corpus.voice).
    """

    rank: int
    score: float
    passage_id: int
    document_id: str
    title: str
    date: str | None
    source: str
    text: str
    context: str
    start: int
    end: int
    ordinal: int
    matched: tuple[tuple[int, int], ...] = ()
    best_sentence: tuple[int, int] | None = None
    lead: bool = False
    speaker: str | None = None
    voice: str | None = None

    def to_dict(self) -> dict[str, object]:
        """The hit as a JSON-ready dict (the fields above)."""
        return asdict(self)

    def lead_note(self) -> str | None:
        """What a lead is, for a reader ("a question: the next passage answers it"); or None."""
        if not self.lead:
            return None
        if self.text.rstrip().endswith("?"):
            return "a question: the next passage answers it"
        return "a lead-in: the next passage develops it"

    def notes(self) -> list[str]:
        """What a reader should know about where the passage stands: its `lead_note` and who
        says it ("comment by Anonymous"), if any."""
        lead = self.lead_note()
        return [*([lead] if lead else []), *([self.voice] if self.voice else [])]
