"""The API's size limits, answered as JSON like every other error of the API.

- a request target (path and query string) over MAX_TARGET_BYTES: 414;
- headers over MAX_HEADER_BYTES together: 431;
- bytes that are not an HTTP/1.1 request: 400;
- `explain=true` on more than MAX_EXPLAIN hits (`/search`'s k, `/compare`'s hits): 422, since
  a hit whose sentence vectors are not stored has its sentences embedded (about 1 s for 100
  hits on a busy 2-core CPU; stored ones are read, 3 ms for 100).

`SizeLimits` (ASGI middleware) checks every request the app gets. A request head still
incomplete past MAX_HEAD_BYTES, or that is not HTTP at all, never reaches the app: uvicorn
refuses it, as `400 text/plain`; `JsonLimitsProtocol` answers it with the same JSON and
statuses instead.
"""

from __future__ import annotations

import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..errors import InvalidArgumentError

# The longest valid query (2,000 characters, each up to 12 bytes once UTF-8 and
# percent-encoded) fits in 24 KiB.
MAX_TARGET_BYTES = 32 * 1024
MAX_HEADER_BYTES = 32 * 1024
MAX_HEAD_BYTES = 64 * 1024  # the request line and headers, as the server reads them
MAX_EXPLAIN = 100  # hits one request may explain (best_sentence), bounding the worst case


def check_explained(hits: int, fix: str) -> None:
    """Raise InvalidArgumentError when a request asks to explain more than MAX_EXPLAIN hits.

    Args:
        hits: how many hits it would explain.
        fix: how to ask for fewer, for the message ("ask for k=100 or fewer").
    """
    if hits > MAX_EXPLAIN:
        raise InvalidArgumentError(
            f"explain=true explains at most {MAX_EXPLAIN} hits, but this asks for {hits:,}; "
            f"{fix}, or leave out explain."
        )


def head_error(head: bytes, limit: int = MAX_HEAD_BYTES) -> tuple[int, str, str]:
    """(status, reason phrase, message) for a request the server refused before the app.

    Args:
        head: the bytes of the request received so far (its request line and headers).
        limit: the limit on them, in bytes.
    """
    line_end = head.find(b"\n")
    if line_end < 0 and len(head) >= limit:
        return too_long(MAX_TARGET_BYTES)  # past the server's limit, so past the app's too
    if len(head) >= limit:
        return too_large(MAX_HEADER_BYTES)
    return 400, "Bad Request", "The request is not valid HTTP/1.1; send a GET request."


def too_long(limit: int) -> tuple[int, str, str]:
    return (
        414,
        "URI Too Long",
        (
            f"The request target is longer than {limit // 1024} KiB; send a shorter query (at "
            "most 2,000 characters)."
        ),
    )


def too_large(limit: int) -> tuple[int, str, str]:
    return (
        431,
        "Request Header Fields Too Large",
        (
            f"The request's headers are larger than {limit // 1024} KiB together; send fewer or "
            "shorter headers."
        ),
    )


class SizeLimits:
    """ASGI middleware: 414 for a request target over MAX_TARGET_BYTES, 431 for headers over
    MAX_HEADER_BYTES, both `{"error": "one line"}`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            target = len(scope.get("raw_path") or scope["path"].encode()) + len(
                scope.get("query_string", b"")
            )
            headers = sum(len(k) + len(v) + 4 for k, v in scope.get("headers", []))
            refused = (
                too_long(MAX_TARGET_BYTES) if target > MAX_TARGET_BYTES
                else too_large(MAX_HEADER_BYTES) if headers > MAX_HEADER_BYTES
                else None
            )  # fmt: skip
            if refused is not None:
                status, _reason, message = refused
                body = json.dumps({"error": message}).encode("utf-8")
                await send({
                    "type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())],
                })  # fmt: skip
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class JsonLimitsProtocol(H11Protocol):
    """uvicorn's h11 protocol, answering requests over its limits with JSON (414, 431, 400)."""

    def send_400_response(self, msg: str) -> None:
        head, _closed = self.conn.trailing_data
        status, reason, message = head_error(bytes(head), self.max_head)
        body = json.dumps({"error": message}).encode("utf-8")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        try:
            for event in (
                h11.Response(status_code=status, headers=headers, reason=reason.encode()),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event))
        except h11.LocalProtocolError:  # the connection is past answering (a bad response)
            pass
        self.transport.close()

    @property
    def max_head(self) -> int:
        size = self.config.h11_max_incomplete_event_size
        return size if size is not None else MAX_HEAD_BYTES
