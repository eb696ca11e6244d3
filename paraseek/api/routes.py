"""The JSON API's routes: the index's reads (behind the key, if any) and /health (never)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from .. import __version__
from ..compare import MAX_QUESTIONS, closest_score, grid, silence_floor, silent_documents
from ..errors import InvalidArgumentError, UnknownPassageError
from ..index.backends import hybrid_label
from ..search import Searcher, check_query
from .bodies import (
    MAX_PER_DOCUMENT,
    CompareResult,
    DocumentBody,
    DocumentList,
    ErrorBody,
    GridResult,
    Health,
    K,
    ModeName,
    PassageBody,
    PassageId,
    QueryText,
    SearchResult,
    SimilarResult,
)

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
    floors: dict[int, float] = {}  # silence floor by index generation: calibrating takes a while

    def floor() -> float:
        generation = searcher.index.generation()
        if generation not in floors:
            floors.clear()
            floors[generation] = silence_floor(searcher).score
        return floors[generation]

    @router.get("/search")
    def search(
        q: QueryText, k: K = 10,
        mode: Annotated[ModeName | None, Query(description="default: $PARASEEK_MODE, else hybrid")] = None,
        doc: Annotated[list[str] | None, Query(description="only these documents (id, path or file name); repeatable")] = None,
        explain: Annotated[bool, Query(description="fill each hit's best_sentence")] = False,
    ) -> SearchResult:  # fmt: skip
        """The k passages closest to a query, best first."""
        chosen = searcher.mode(mode)
        closest = score = None
        # One snapshot: the closest score and the floor of the same index version as the hits.
        with model_lock, searcher.index.snapshot():
            hits = searcher.search(q, k, doc, mode=chosen, explain=explain)
            if chosen != "keyword":
                closest, score = closest_score(searcher, q, doc), floor()
        return SearchResult.model_validate(
            {"query": q.strip(), "mode": chosen, "k": k, "closest": closest, "floor": score,
             "hits": [h.to_dict() for h in hits]}
        )  # fmt: skip

    @router.get("/passages/{passage_id}")
    def passage(passage_id: PassageId) -> PassageBody:
        """One passage, with its document's title, date and source."""
        with searcher.index.snapshot():  # both reads see one version of the index
            found = searcher.index.passages([passage_id])[0]
            document = searcher.index.document_infos([found.document_id]).get(found.document_id)
        if document is None:  # removed by a re-index between the two reads
            raise UnknownPassageError(f"Passage {passage_id} was just removed by a re-index.")
        return PassageBody(
            passage_id=passage_id, document_id=document.id, title=document.title,
            date=document.date, source=document.path, text=found.text, context=found.context,
            start=found.start, end=found.end, ordinal=found.ordinal,
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
    ) -> CompareResult:  # fmt: skip
        """The best passage(s) of every document for one question; each hit's rank is its
        rank within its document."""
        # One snapshot: the floor of the same index version as the hits, even mid re-index.
        with model_lock, searcher.index.snapshot():
            hits = searcher.compare(q, per_document)
            score = floor()
        silent = silent_documents(hits, score)
        return CompareResult.model_validate(
            {"query": q.strip(), "per_document": per_document, "floor": score,
             "silent": [h.document_id for h in hits if h.rank == 1 and h.document_id in silent],
             "hits": [h.to_dict() for h in hits]}
        )  # fmt: skip

    @router.get("/compare/grid")
    def compare_grid(
        q: Annotated[list[str], Query(description=f"a question; repeatable, 1 to {MAX_QUESTIONS}")],
    ) -> GridResult:  # fmt: skip
        """Each document's best score for each question: who addresses what."""
        if len(q) > MAX_QUESTIONS:
            raise InvalidArgumentError(
                f"{len(q)} questions; the grid takes at most {MAX_QUESTIONS} at a time."
            )
        questions = [check_query(question) for question in q]
        with model_lock, searcher.index.snapshot():  # the floor of the same index version
            score = floor()
            rows = grid(searcher, questions, score)
        return GridResult.model_validate({"floor": score, "questions": rows})

    @router.get("/documents")
    def documents() -> DocumentList:
        """Every document in the index, ordered by title."""
        return DocumentList(
            documents=[
                DocumentBody(
                    id=d.id, title=d.title, date=d.date, source=d.path, passages=d.passages
                )
                for d in searcher.documents()
            ]
        )

    return router


def health_router(searcher: Searcher) -> APIRouter:
    """/health: never needs the key, so a load balancer can poll it."""
    router = APIRouter()

    @router.get("/health", responses={503: {"model": ErrorBody, "description": "Index unusable."}})
    def health() -> Health:
        """Whether the index can be read now."""
        generation = searcher.index.generation()
        store = searcher.index.store
        return Health(status="ok", version=__version__, generation=generation, store=store.kind,
                      hybrid=hybrid_label(store.keyword))  # fmt: skip

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
