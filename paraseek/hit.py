"""Hit: a passage returned for a query, with its score, rank and what a reader should know."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Hit:
    """A passage returned for one query, with its score and rank.

    Attributes:
        rank: 1 for the best hit (for `compare`, the rank within its document).
        score: relevance from 0 to 1, higher is better, on the same scale for every query
            (calibration.relevance): 0.5 is the index's silence floor, under which a passage
            does not address a question by meaning. Dense mode and `similar`: the cosine so
            calibrated, and so `compare` (its silence floor is 0.5 too); keyword mode: BM25 as
            a share of what a passage holding each query word once scores; hybrid: the two
            combined, with the share of the query's words the passage holds where they are
            rare together (a long technical claim: see search.COVERAGE_RARITY; a lookup, such
            as a name, ranks first the passages that hold its words: see
            search.lookup_units); with a re-ranker, the cross-encoder's score.
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
        author: the document's author (corpus.Document.author), or None.
        cosine: the raw cosine similarity of the query (or passage) and this passage, where
            it was computed; None in keyword mode.
        bm25: the raw BM25 score of the query's words in this passage (0: none occurs);
            None in dense mode and for `similar` and `compare`.
        asked: where this passage was surfaced by the question it answers (an interviewer's
            question or a heading kept as a passage of its own, which matched the query),
            that passage's id; `score`, `cosine` and `bm25` are then the question's.
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
    author: str | None = None
    cosine: float | None = None
    bm25: float | None = None
    asked: int | None = None

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
        """What a reader should know about where the passage stands: its `lead_note`, that it
        answers the question in its context (`asked`), and who says it ("comment by
        Anonymous"), if any."""
        lead = self.lead_note()
        answers = "answers the question above" if self.asked is not None else None
        return [note for note in (lead, answers, self.voice) if note]
