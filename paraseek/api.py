"""The JSON API over one index (`paraseek api`): FastAPI routes, JSON errors, CORS, a key.

Every error is `{"error": "<one line>"}`: 422 for an invalid parameter (empty or over-long
query, `k` out of range, unknown mode), 404 for an unknown passage, document or route, 401 for
a missing or wrong API key, 405 for another method than GET, 503 when the index or model is
unusable. Hits carry the same fields as `paraseek search --json` (`Hit.to_dict`).
"""

from __future__ import annotations

import logging
import os
import pathlib
import secrets
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from . import __version__
from .compare import silence_floor, silent_documents
from .errors import (
    EmptyQueryError,
    IndexFormatError,
    IndexLockedError,
    IndexNotFoundError,
    InvalidArgumentError,
    ModelLoadError,
    ModelMismatchError,
    ParaseekError,
    StoreMismatchError,
    StoreUnavailableError,
    UnknownDocumentError,
    UnknownPassageError,
)
from .index import MAX_K
from .index.backends import hybrid_label
from .search import MAX_QUERY_CHARS, Hit, Searcher, index_path

LOG = logging.getLogger("paraseek.api")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MAX_PER_DOCUMENT = 100
MAX_ID = 2**63 - 1  # SQLite's largest integer: a larger id is invalid, not a server error

# One status per failure; a subclass not listed takes its nearest listed base's, else 500.
STATUS: dict[type[ParaseekError], int] = {
    EmptyQueryError: 422,
    InvalidArgumentError: 422,
    UnknownPassageError: 404,
    UnknownDocumentError: 404,
    IndexNotFoundError: 503,
    IndexFormatError: 503,
    IndexLockedError: 503,
    ModelMismatchError: 503,
    ModelLoadError: 503,
    StoreMismatchError: 503,
    StoreUnavailableError: 503,
}

ModeName = Literal["dense", "keyword", "hybrid"]  # = search.MODES (checked by a test)
QueryText = Annotated[
    str,
    Query(
        max_length=MAX_QUERY_CHARS,
        description=f"a question or some words (not blank, at most {MAX_QUERY_CHARS} characters)",
    ),
]
K = Annotated[int, Query(ge=1, le=MAX_K, description="how many hits")]
PassageId = Annotated[
    int, Path(ge=0, le=MAX_ID, description="a passage_id from search results")
]  # fmt: skip

_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="X-API-Key")
_bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")


class ErrorBody(BaseModel):
    """Every error response."""

    error: str


class SearchResult(BaseModel):
    """`GET /search`: the hits for one query, best first."""

    query: str
    mode: str
    k: int
    hits: list[Hit]


class SimilarResult(BaseModel):
    """`GET /passages/{id}/similar`: the passages most like one passage, best first."""

    passage_id: int
    k: int
    hits: list[Hit]


class CompareResult(BaseModel):
    """`GET /compare`: the best passage(s) of every document, documents by best score.

    `silent` lists the documents that don't address the question: their best passage scores
    under `floor`, calibrated on the index (see paraseek.compare.silence_floor).
    """

    query: str
    per_document: int
    floor: float
    silent: list[str]
    hits: list[Hit]


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


class DocumentBody(BaseModel):
    """A document as `paraseek info --json` lists it."""

    id: str
    title: str
    date: str | None
    source: str
    passages: int


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


def create_app(
    searcher: Searcher | Callable[[], Searcher] | str | os.PathLike[str] | None = None,
    *,
    cors_origins: Sequence[str] | None = None,
    api_key: str | None = None,
) -> FastAPI:
    """The API app over one searcher, opened (model loaded) now, before any request.

    Args:
        searcher: a Searcher, a function that opens one, or an index folder (None means
            `$PARASEEK_INDEX`, else ./paraseek-index) opened with its own model.
        cors_origins: origins whose pages may call the API ("*" for any); None means
            `$PARASEEK_CORS_ORIGINS` (comma-separated), else none.
        api_key: if set, every route but /health, /docs and /openapi.json needs it, as
            `X-API-Key: KEY` or `Authorization: Bearer KEY`; None means `$PARASEEK_API_KEY`,
            else no key; "" means no key whatever the environment says.

    Raises:
        IndexNotFoundError, IndexFormatError, ModelMismatchError, ModelLoadError.
    """
    if isinstance(searcher, Searcher):
        opened = searcher
    elif callable(searcher):
        opened = searcher()
    else:
        opened = Searcher.open(index_path(searcher))
    if cors_origins is None:
        cors_origins = _split(os.environ.get("PARASEEK_CORS_ORIGINS", ""))
    key = os.environ.get("PARASEEK_API_KEY", "") if api_key is None else api_key
    app = FastAPI(
        title="paraseek",
        version=__version__,
        summary="Semantic search over a collection of documents.",
        description=__doc__,
        responses={422: {"model": ErrorBody, "description": "An invalid parameter."}},
    )
    app.add_exception_handler(ParaseekError, _paraseek_error(opened.index.path))  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET"],
            allow_headers=["X-API-Key", "Authorization"], max_age=600,
        )  # fmt: skip
    app.include_router(_health_router(opened))
    guard = [Depends(_key_check(key))] if key else []
    app.include_router(_router(opened, key), dependencies=guard)
    return app


def serve(
    index: str | os.PathLike[str] | None = None, host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT, cors_origins: Sequence[str] | None = None,
    api_key: str | None = None, model: str | None = None, reranker: str | None = None,
    precision: str | None = None, store: str | None = None, milvus_uri: str | None = None,
) -> None:  # fmt: skip
    """Load the index and its model, then serve the API with uvicorn until interrupted.

    Args:
        index: the index folder (see `search.index_path`).
        host: address to listen on; 127.0.0.1 reaches only this machine.
        port: TCP port.
        cors_origins, api_key: see `create_app`.
        model, reranker, precision, store, milvus_uri: see `Searcher.open`.
    """
    import uvicorn

    folder = index_path(index)

    def opened() -> Searcher:
        return Searcher.open(
            folder, model=model, reranker=reranker, precision=precision, store=store,
            milvus_uri=milvus_uri,
        )  # fmt: skip

    app = create_app(opened, cors_origins=cors_origins, api_key=api_key)
    keyed = bool(os.environ.get("PARASEEK_API_KEY", "") if api_key is None else api_key)
    if host not in ("127.0.0.1", "localhost", "::1") and not keyed:
        print(
            f"paraseek: warning: serving on {host} without an API key; anyone who can reach "
            "it can read the index (set PARASEEK_API_KEY)",
            file=sys.stderr,
        )
    print(f"paraseek: API for {folder} on http://{host}:{port} (spec: /docs)", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="info")


# --- routes --------------------------------------------------------------------------------


def _router(searcher: Searcher, key: str) -> APIRouter:
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
        with model_lock:
            hits = searcher.search(q, k, doc, mode=chosen, explain=explain)
        return SearchResult.model_validate(
            {"query": q.strip(), "mode": chosen, "k": k, "hits": [h.to_dict() for h in hits]}
        )

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
        with model_lock:
            hits = searcher.compare(q, per_document)
            score = floor()
        silent = silent_documents(hits, score)
        return CompareResult.model_validate(
            {"query": q.strip(), "per_document": per_document, "floor": score,
             "silent": [h.document_id for h in hits if h.rank == 1 and h.document_id in silent],
             "hits": [h.to_dict() for h in hits]}
        )  # fmt: skip

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


def _health_router(searcher: Searcher) -> APIRouter:
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


def _key_check(key: str) -> Callable[..., None]:
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


# --- errors --------------------------------------------------------------------------------


def status_of(exc: ParaseekError) -> int:
    """The HTTP status of a paraseek error (see STATUS)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status, headers=headers)


def _paraseek_error(folder: pathlib.Path) -> Callable[[Request, ParaseekError], JSONResponse]:
    """The handler of paraseek's errors: the server's index path is logged, never sent."""
    places = sorted({str(folder), str(folder.resolve())}, key=len, reverse=True)

    def handle(request: Request, exc: ParaseekError) -> JSONResponse:
        status, message = status_of(exc), str(exc)
        if status >= 500:
            LOG.warning("%s %s: %s", request.method, request.url.path, message)
        for place in places:
            message = message.replace(place, "<index>")
        return _error(status, message)

    return handle


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """The first invalid parameter, named with its value, in one line."""
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ())]
    where = {"query": "query parameter", "path": "path parameter", "header": "header"}
    kind = where.get(loc[0], loc[0]) if loc else "request"
    name = ".".join(loc[1:])
    if first.get("type") == "missing":
        return _error(422, f"Missing {kind} '{name}'.")
    value = repr(first.get("input"))
    value = value if len(value) <= 60 else value[:57] + "..."
    return _error(422, f"Invalid {kind} '{name}' = {value}: {first.get('msg', 'invalid')}.")


def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"No route {request.url.path}; the routes are listed at /docs."
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; use GET."
    return _error(exc.status_code, message, exc.headers)


def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    return _error(500, f"Internal error ({type(exc).__name__}); the server log has the details.")


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
