"""The JSON API over one index (`paraseek api`): FastAPI routes, JSON errors, CORS, a key.

Every error is `{"error": "<one line>"}`: 422 for an invalid parameter (empty or over-long
query, `k` out of range, unknown mode), 404 for an unknown passage, document or route, 401 for
a missing or wrong API key, 405 for another method than GET, 414 for a request target over
32 KiB, 431 for headers over 32 KiB, 400 for bytes that are not HTTP (see limits.py), 503 when
the index or model is unusable. Hits carry the same fields as `paraseek search --json` (`Hit.to_dict`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from .. import __version__, settings
from ..errors import ParaseekError
from ..search import Searcher, index_path
from .bodies import ErrorBody, ModeName
from .limits import MAX_HEAD_BYTES, JsonLimitsProtocol, SizeLimits
from .responses import (
    STATUS,
    http_error,
    paraseek_error,
    status_of,
    unexpected_error,
    validation_error,
)
from .routes import health_router, key_check, read_router

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "STATUS", "ModeName", "create_app", "serve", "status_of"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


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
        cors_origins = _split(settings.current().cors_origins)
    key = settings.current().api_key if api_key is None else api_key
    # /docs and /redoc with Swagger UI's and ReDoc's scripts served from fastapi-offline's
    # package, not a CDN: the spec's pages work without internet, as paraseek does.
    app = FastAPIOffline(
        title="paraseek",
        version=__version__,
        summary="Semantic search over a collection of documents.",
        description=__doc__,
        responses={422: {"model": ErrorBody, "description": "An invalid parameter."}},
    )
    app.add_exception_handler(ParaseekError, paraseek_error(opened.path))  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected_error)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET"],
            allow_headers=["X-API-Key", "Authorization"], max_age=600,
        )  # fmt: skip
    app.add_middleware(SizeLimits)  # added last: runs first, before CORS and the routes
    app.include_router(health_router(opened))
    guard = [Depends(key_check(key))] if key else []
    app.include_router(read_router(opened, key), dependencies=guard)
    return app


def serve(
    index: str | os.PathLike[str] | None = None, host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT, cors_origins: Sequence[str] | None = None,
    api_key: str | None = None, model: str | None = None, reranker: str | None = None,
    precision: str | None = None, store: str | None = None,
) -> None:  # fmt: skip
    """Load the index and its model, then serve the API with uvicorn until interrupted.

    Args:
        index: the index folder (see `search.index_path`).
        host: address to listen on; 127.0.0.1 reaches only this machine.
        port: TCP port.
        cors_origins, api_key: see `create_app`.
        model, reranker, precision, store: see `Searcher.open`.
    """
    import uvicorn

    folder = index_path(index)

    def opened() -> Searcher:
        return Searcher.open(
            folder, model=model, reranker=reranker, precision=precision, store=store
        )

    app = create_app(opened, cors_origins=cors_origins, api_key=api_key)
    keyed = bool(settings.current().api_key if api_key is None else api_key)
    if host not in ("127.0.0.1", "localhost", "::1") and not keyed:
        print(
            f"paraseek: warning: serving on {host} without an API key; anyone who can reach "
            "it can read the index (set PARASEEK_API_KEY)",
            file=sys.stderr,
        )
    print(f"paraseek: API for {folder} on http://{host}:{port} (spec: /docs)", file=sys.stderr)
    uvicorn.run(
        app, host=host, port=port, log_level="info", http=JsonLimitsProtocol,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )  # fmt: skip


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
