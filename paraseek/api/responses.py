"""The JSON API's errors: one HTTP status per paraseek error, every body `{"error": "one line"}`."""

from __future__ import annotations

import logging
import pathlib
from collections.abc import Callable, Mapping

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import (
    DeviceUnavailableError,
    EmptyQueryError,
    IndexFormatError,
    IndexLockedError,
    IndexNotFoundError,
    InvalidArgumentError,
    ModelLoadError,
    ModelMismatchError,
    ParaseekError,
    StorageError,
    StoreMismatchError,
    StoreUnavailableError,
    UnknownAuthorError,
    UnknownDocumentError,
    UnknownPassageError,
)

LOG = logging.getLogger("paraseek.api")

# One status per failure; a subclass not listed takes its nearest listed base's, else 500.
STATUS: dict[type[ParaseekError], int] = {
    EmptyQueryError: 422,
    InvalidArgumentError: 422,
    UnknownPassageError: 404,
    UnknownDocumentError: 404,
    UnknownAuthorError: 404,
    IndexNotFoundError: 503,
    IndexFormatError: 503,
    IndexLockedError: 503,
    ModelMismatchError: 503,
    ModelLoadError: 503,
    DeviceUnavailableError: 503,
    StoreMismatchError: 503,
    StoreUnavailableError: 503,
    StorageError: 503,
}


def status_of(exc: ParaseekError) -> int:
    """The HTTP status of a paraseek error (see STATUS)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """`{"error": message}` with `status`, the message folded onto one line."""
    return JSONResponse({"error": " ".join(message.split())}, status, headers=headers)


def paraseek_error(folder: pathlib.Path) -> Callable[[Request, ParaseekError], JSONResponse]:
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


def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
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


def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own errors (no route, wrong method, a key check) in the same one-line form."""
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"No route {request.url.path}; the routes are listed at /docs."
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; use GET."
    return _error(exc.status_code, message, exc.headers)


def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: a 500 naming the exception's type, never its message or a traceback."""
    return _error(500, f"Internal error ({type(exc).__name__}); the server log has the details.")
