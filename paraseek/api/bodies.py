"""The JSON API's parameters and response bodies (pydantic), as the OpenAPI spec shows them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import BaseModel

from ..index import MAX_K
from ..search import MAX_QUERY_CHARS, Hit

MAX_PER_DOCUMENT = 100
MAX_ID = 2**63 - 1  # SQLite's largest integer: a larger id is invalid, not a server error

ModeName = Literal["dense", "keyword", "hybrid"]  # = search.MODES (checked by a test)
QueryText = Annotated[
    str,
    Query(
        max_length=MAX_QUERY_CHARS,
        description=f"a question or some words (not blank, at most {MAX_QUERY_CHARS} characters)",
    ),
]
K = Annotated[int, Query(ge=1, le=MAX_K, description="how many hits")]
Similarity = Annotated[
    float,
    Query(
        ge=0,
        le=1,
        description="the score (0 to 1, as search scores: 0.5 is the silence floor) at which "
        "passages say the same thing",
    ),
]
Comments = Annotated[
    bool,
    Query(
        description="let comments speak for their document too: passages under a line like "
        "'Anonymous said...' (left out by default, unless a document has nothing else)"
    ),
]
Author = Annotated[
    str | None,
    Query(description="only documents by this author: a byline's name, or part of it"),
]
Documents = Annotated[
    list[str] | None,
    Query(description="only these documents (id, path or file name); repeatable"),
]
PassageId = Annotated[
    int, Path(ge=0, le=MAX_ID, description="a passage_id from search results")
]  # fmt: skip


class ErrorBody(BaseModel):
    """Every error response."""

    error: str


class SearchResult(BaseModel):
    """`GET /search`: the hits for one query, best first.

    `closest` is the cosine similarity of the passage closest to the query in meaning (of the
    documents searched), whatever the mode (a hit's `score` is a 0-1 relevance, 0.5 at the
    floor: see Hit.score; its raw `cosine` and `bm25` are fields too). Under `floor`, the
    silence floor (see paraseek.compare.silence_floor), no passage addresses the query by
    meaning. Both are null in keyword mode.
    """

    query: str
    mode: str
    k: int
    closest: float | None
    floor: float | None
    hits: list[Hit]


class SimilarResult(BaseModel):
    """`GET /passages/{id}/similar`: the passages most like one passage, best first."""

    passage_id: int
    k: int
    hits: list[Hit]


class CompareResult(BaseModel):
    """`GET /compare`: the best passage(s) of every document, documents by best score.

    A hit's `score` is the relevance search gives (0 to 1, 0.5 at the index's silence floor:
    see Hit.score), its raw `cosine` a field too. `silent` lists the documents that don't
    address the question: their best passage scores under `floor`, 0.5, the silence floor
    (`floor_cosine` is that floor as a cosine, calibrated on the index: see
    paraseek.compare.silence_floor). `documents` counts the documents compared and
    `addressed` those at or above the floor; with `limit`, `hits` and `silent` keep to the
    first `limit` documents.
    """

    query: str
    per_document: int
    floor: float
    floor_cosine: float
    documents: int
    addressed: int
    silent: list[str]
    hits: list[Hit]


class GridCell(BaseModel):
    """One document's verdict on one question in `GET /compare/grid`."""

    document_id: str
    title: str
    score: float | None  # the best passage's relevance, 0 to 1 (Hit.score)
    cosine: float | None  # its raw cosine
    silent: bool


class GridRow(BaseModel):
    """One question in `GET /compare/grid`: how many documents address it, and each one's score."""

    query: str
    floor: float
    addressed: int
    documents: list[GridCell]


class GridResult(BaseModel):
    """`GET /compare/grid`: each document's best score for each question, in the order asked.

    A cell's `score` is the relevance search gives its document's best passage (0 to 1, 0.5
    at the silence floor: see Hit.score), with the raw `cosine` beside it. A document is
    `silent` on a question when its best passage scores under `floor`, 0.5, the silence floor
    (`floor_cosine` is that floor as a cosine: see paraseek.compare.silence_floor);
    `addressed` counts the others.
    """

    floor: float
    floor_cosine: float
    questions: list[GridRow]


class PointPassage(BaseModel):
    """A passage of a talking point, with its strongest link in the point as a relevance
    (`score`, 0 to 1, as search scores) and as a raw `cosine`."""

    passage_id: int
    document_id: str
    title: str
    score: float
    cosine: float
    text: str
    speaker: str | None  # who says it, if not the document's author (Hit.speaker)
    voice: str | None  # "comment by NAME" or "quoting NAME" (Hit.voice)


class TalkingPoint(BaseModel):
    """Passages of several documents that say nearly the same thing, named by `words`."""

    words: list[str]
    documents: int
    passages: list[PointPassage]


class PointsResult(BaseModel):
    """`GET /compare/points`: the shared talking points, most documents first.

    A point's passages have a mean score of at least `similarity`, a relevance from 0 to 1
    as search scores (the cosine it stands for on the index is the cut: see
    paraseek.compare.talking_points). `points` holds the first `limit` of `total`.
    """

    similarity: float
    total: int
    points: list[TalkingPoint]


class Counterpart(BaseModel):
    """The closest passage of the other document."""

    passage_id: int
    text: str
    speaker: str | None  # who says it, if not the document's author (Hit.speaker)
    voice: str | None  # "comment by NAME" or "quoting NAME" (Hit.voice)


class AlignedPassage(BaseModel):
    """A passage of the first document, its closest passage of the second, and the verdict."""

    passage_id: int
    text: str
    speaker: str | None  # who says it, if not the document's author (Hit.speaker)
    voice: str | None  # "comment by NAME" or "quoting NAME" (Hit.voice)
    score: float  # relevance, 0 to 1, as More like this scores
    cosine: float  # the raw cosine
    shared: bool
    match: Counterpart | None


class AlignResult(BaseModel):
    """`GET /compare/align`: every passage of `document`, in order, against `against`.

    A passage is `shared` when its closest passage of the other document scores at least
    `similarity` (a relevance from 0 to 1, as More like this scores: 0.5 at the silence
    floor); `shared_count` counts them.
    """

    document: str
    against: str
    similarity: float
    shared_count: int
    passages: list[AlignedPassage]


class PassageBody(BaseModel):
    """`GET /passages/{id}`: one passage with its document's title, date and source."""

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
    lead: bool  # an interviewer's question or a heading that the next passage answers
    speaker: str | None  # who says it, if not the document's author (Hit.speaker)
    voice: str | None  # "comment by NAME" or "quoting NAME" (Hit.voice)


class DocumentBody(BaseModel):
    """A document as `paraseek info --json` lists it."""

    id: str
    title: str
    author: str | None  # from its byline (corpus.Document.author); null if it names nobody
    date: str | None
    source: str
    passages: int


class DocumentPassage(BaseModel):
    """A passage of a document, numbered from 1 in the document's order."""

    number: int
    passage_id: int
    text: str
    context: str
    start: int
    end: int
    lead: bool  # an interviewer's question or a heading that the next passage answers
    speaker: str | None  # who says it, if not the document's author (Hit.speaker)
    voice: str | None  # "comment by NAME" or "quoting NAME" (Hit.voice)


class DocumentPage(BaseModel):
    """`GET /documents/{id}`: a document's metadata and one page of its passages, in order.

    `passages` is the document's passage count; `items` are those numbered `first` to
    `first + len(items) - 1`; `pages` is how many pages of `per_page` the document has.
    `author` is null where the document names none.
    """

    id: str
    title: str
    author: str | None
    date: str | None
    source: str
    passages: int
    page: int
    per_page: int
    pages: int
    first: int
    items: list[DocumentPassage]


class DocumentList(BaseModel):
    """`GET /documents`: every document, ordered by title."""

    documents: list[DocumentBody]


class Health(BaseModel):
    """`GET /health`: the index answers; `generation` grows with every re-index; `store` holds
    the vectors ("faiss" or "milvus") and `hybrid` says where hybrid search's BM25 comes from."""

    status: str
    version: str
    generation: int
    store: str
    hybrid: str
