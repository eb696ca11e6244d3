"""The JSON API's routes: the index's reads (behind the key, if any) and /health (never)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi import Path as FastPath
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from .. import __version__
from .. import compare as comparing
from ..compare import (
    MAX_QUESTIONS,
    SHARED_THRESHOLD,
    SILENCE,
    Floor,
    align,
    closest_score,
    first_documents,
    grid,
    silence_floor,
    silent_documents,
    talking_points,
)
from ..corpus import speaker, voice
from ..errors import InvalidArgumentError, UnknownPassageError
from ..index import MAX_K
from ..search import MAX_PAGE, Searcher, check_query
from .bodies import (
    MAX_ID,
    MAX_PER_DOCUMENT,
    AlignResult,
    Author,
    Comments,
    CompareResult,
    DocumentBody,
    DocumentList,
    DocumentPage,
    Documents,
    ErrorBody,
    GridResult,
    Health,
    K,
    ModeName,
    PassageBody,
    PassageId,
    PointsResult,
    QueryText,
    SearchResult,
    Similarity,
    SimilarResult,
)
from .limits import MAX_EXPLAIN, check_explained

_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="X-API-Key")
_bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")


def read_router(searcher: Searcher, key: str) -> APIRouter:
    """Every route that reads the index; guarded by the key, if any."""
    errors: dict[int | str, dict[str, Any]] = {
        404: {"model": ErrorBody, "description": "An unknown passage or document."}
    }
    if key:
        errors[401] = {"model": ErrorBody, "description": "A missing or wrong API key."}
    router = APIRouter(responses=errors)
    # One query embeds at a time: the model's tokenizer is shared state and torch already
    # uses every core for one batch. Index reads have their own lock (Index.snapshot).
    model_lock = threading.Lock()
    floors: dict[int, Floor] = {}  # silence floor by index generation: calibrating takes a while
    points_made: dict[tuple[int, float, tuple[str, ...], bool], list[dict[str, object]]] = {}

    def floor() -> Floor:
        generation = searcher.generation()
        if generation not in floors:
            floors.clear()
            floors[generation] = silence_floor(searcher)
        return floors[generation]

    @router.get("/search")
    def search(
        q: QueryText, k: K = 10,
        mode: Annotated[ModeName | None, Query(description="default: $PARASEEK_MODE, else hybrid")] = None,
        doc: Documents = None,
        explain: Annotated[bool, Query(description="fill each hit's best_sentence (at most 100 hits)")] = False,
        author: Author = None,
    ) -> SearchResult:  # fmt: skip
        """The k passages closest to a query, best first."""
        if explain:
            check_explained(k, f"ask for k={MAX_EXPLAIN} or fewer")
        chosen = searcher.mode(mode)
        closest = score = None
        # One snapshot: the closest score and the floor of the same index version as the hits.
        with model_lock, searcher.snapshot():
            doc = searcher.documents_by(author, doc)
            hits = searcher.search(q, k, doc, mode=chosen, explain=explain)
            if chosen != "keyword":
                closest, score = closest_score(searcher, q, doc), floor().score
        return SearchResult.model_validate(
            {"query": q.strip(), "mode": chosen, "k": k, "closest": closest, "floor": score,
             "hits": [h.to_dict() for h in hits]}
        )  # fmt: skip

    @router.get("/passages/{passage_id}")
    def passage(passage_id: PassageId) -> PassageBody:
        """One passage, with its document's title, date and source."""
        with searcher.snapshot():  # the reads see one version of the index
            found = searcher.passages([passage_id])[0]
            document = searcher.document_infos([found.document_id]).get(found.document_id)
            lead = found.id in searcher.leads([found])
        if document is None:  # removed by a re-index between the two reads
            raise UnknownPassageError(f"Passage {passage_id} was just removed by a re-index.")
        return PassageBody(
            passage_id=passage_id, document_id=document.id, title=document.title,
            date=document.date, source=document.path, text=found.text, context=found.context,
            start=found.start, end=found.end, ordinal=found.ordinal, lead=lead,
            speaker=speaker(found.context), voice=voice(found.context, found.text),
        )  # fmt: skip

    @router.get("/passages/{passage_id}/similar")
    def similar(
        passage_id: PassageId, k: K = 10,
        other_documents: Annotated[bool, Query(description="only passages of other documents")] = False,
    ) -> SimilarResult:  # fmt: skip
        """The k passages most like this one (itself excluded), best first."""
        hits = searcher.similar(passage_id, k, other_documents_only=other_documents)
        return SimilarResult.model_validate(
            {"passage_id": passage_id, "k": k, "hits": [h.to_dict() for h in hits]}
        )

    @router.get("/compare")
    def compare(
        q: QueryText,
        per_document: Annotated[int, Query(ge=1, le=MAX_PER_DOCUMENT, description="passages per document")] = 1,
        comments: Comments = False,
        doc: Documents = None,
        explain: Annotated[bool, Query(description="fill each hit's best_sentence (at most 100 hits)")] = False,
        limit: Annotated[int, Query(ge=0, le=MAX_K, description="the first documents, best first (0: all)")] = 0,
        author: Author = None,
    ) -> CompareResult:  # fmt: skip
        """The best passage(s) of every document for one question; each hit's rank is its
        rank within its document."""
        # One snapshot: the floor of the same index version as the hits, even mid re-index.
        with model_lock, searcher.snapshot():
            every = comparing.compare(
                searcher, q, per_document, comments, searcher.documents_by(author, doc)
            )
            hits = first_documents(every, limit)
            if explain:
                fewer = max(1, MAX_EXPLAIN // per_document)
                check_explained(len(hits), f"set limit to {fewer} documents or fewer")
                hits = searcher.explain(q, hits)
            cosine = floor().score
        silent = silent_documents(every, SILENCE)
        documents = {h.document_id for h in every}
        return CompareResult.model_validate(
            {"query": q.strip(), "per_document": per_document, "floor": SILENCE,
             "floor_cosine": cosine,
             "documents": len(documents), "addressed": len(documents - silent),
             "silent": [h.document_id for h in hits if h.rank == 1 and h.document_id in silent],
             "hits": [h.to_dict() for h in hits]}
        )  # fmt: skip

    @router.get("/compare/grid")
    def compare_grid(
        q: Annotated[list[str], Query(description=f"a question; repeatable, 1 to {MAX_QUESTIONS}")],
        comments: Comments = False,
        doc: Documents = None,
    ) -> GridResult:  # fmt: skip
        """Each document's best score for each question: who addresses what."""
        if len(q) > MAX_QUESTIONS:
            raise InvalidArgumentError(
                f"{len(q)} questions; the grid takes at most {MAX_QUESTIONS} at a time."
            )
        questions = [check_query(question) for question in q]
        with model_lock, searcher.snapshot():  # the floor of the same index version
            cosine = floor().score
            rows = grid(searcher, questions, SILENCE, comments, doc)
        return GridResult.model_validate(
            {"floor": SILENCE, "floor_cosine": cosine, "questions": rows}
        )

    @router.get("/compare/points")
    def compare_points(
        similarity: Similarity = SHARED_THRESHOLD,
        doc: Documents = None,
        limit: Annotated[int, Query(ge=0, le=MAX_K, description="the most shared points (0: all)")] = 20,
        comments: Comments = False,
    ) -> PointsResult:  # fmt: skip
        """The shared talking points: passages of several documents that say nearly the same
        thing, each named by the words that set it apart."""
        with searcher.snapshot():  # the documents and the points of one version
            chosen = searcher.resolve_documents(doc) if doc else None
            key = (searcher.generation(), similarity, tuple(chosen or ()), comments)
            made = points_made.get(key)
            if made is None:  # it searches with every passage: seconds on thousands
                found = talking_points(searcher, similarity, document_ids=chosen, comments=comments)
                titles = {d.id: d.title for d in searcher.documents()}
                made = [p.to_dict(titles) for p in found]
                if len(points_made) >= 16 or any(k[0] != key[0] for k in list(points_made)):
                    points_made.clear()
                points_made[key] = made
        shown = made[:limit] if limit else made
        return PointsResult.model_validate(
            {"similarity": similarity, "total": len(made), "points": shown}
        )

    @router.get("/compare/align")
    def compare_align(
        document: Annotated[str, Query(description="the document (id, path or file name)")],
        against: Annotated[str, Query(description="the document to compare it with")],
        similarity: Similarity = SHARED_THRESHOLD,
        comments: Comments = False,
    ) -> AlignResult:  # fmt: skip
        """Two documents side by side: each passage of one, in order, with its closest passage
        of the other, shared or unique."""
        with searcher.snapshot():
            first, second = (searcher.document(n).id for n in (document, against))
            if first == second:
                raise InvalidArgumentError(
                    f"'{document}' and '{against}' are the same document; give two."
                )
            rows = align(searcher, first, second, similarity, comments=comments)
        return AlignResult.model_validate(
            {"document": first, "against": second, "similarity": similarity,
             "shared_count": sum(r.shared for r in rows), "passages": [r.to_dict() for r in rows]}
        )  # fmt: skip

    @router.get("/documents")
    def documents() -> DocumentList:
        """Every document in the index, ordered by title."""
        return DocumentList(
            documents=[
                DocumentBody(
                    id=d.id,
                    title=d.title,
                    author=d.author,
                    date=d.date,
                    source=d.path,
                    passages=d.passages,
                )
                for d in searcher.documents()
            ]
        )

    @router.get("/documents/{document}")
    def document(
        document: Annotated[str, FastPath(description="a document id or file name")],
        page: Annotated[int, Query(ge=1, le=MAX_ID, description="which page of passages, from 1")] = 1,
        per_page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="passages per page")] = 100,
    ) -> DocumentPage:  # fmt: skip
        """A document's metadata (title, author, date, source, passage count) and one page of
        its passages, in order, each with its number in the document."""
        with searcher.snapshot():
            info = searcher.document(document)
            pages = max(1, -(-info.passages // per_page))
            if page > pages:
                raise InvalidArgumentError(
                    f"page {page} is past the last page of '{info.id}': {info.passages} "
                    f"passages make {pages} page(s) of {per_page}."
                )
            reading = searcher.read(info.id, (page - 1) * per_page + 1, per_page)
        return DocumentPage.model_validate(
            {**reading.to_dict(), "page": page, "per_page": per_page, "pages": pages}
        )

    return router


def health_router(searcher: Searcher) -> APIRouter:
    """/health: never needs the key, so a load balancer can poll it."""
    router = APIRouter()

    @router.get("/health", responses={503: {"model": ErrorBody, "description": "Index unusable."}})
    def health() -> Health:
        """Whether the index can be read now."""
        return Health.model_validate({"status": "ok", "version": __version__, **searcher.health()})

    return router


def key_check(key: str) -> Callable[..., None]:
    """A dependency that lets a request through only with `key`."""

    def check(
        header: Annotated[str | None, Depends(_key_header)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        given = header or (bearer.credentials if bearer else None)
        if given is None:
            raise HTTPException(
                401, "This API needs a key: send it as X-API-Key: KEY or Authorization: Bearer KEY.",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        if not secrets.compare_digest(given.encode(), key.encode()):
            raise HTTPException(
                401, "The API key is wrong; use the one in the server's PARASEEK_API_KEY.",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip

    return check
