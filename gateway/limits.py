"""Size, shape and time limits of request bodies (ASGI middleware).

The gateway reads a request body in full before any service sees it, so a body that is too
large, too slow or too deeply nested never reaches one:

- a declared `Content-Length` over `max_body_bytes` is a 413 at once; a chunked body is
  counted as it arrives and refused (413) as soon as it goes over;
- a body not received within `body_read_timeout` seconds is a 408 (the connection is closed):
  a slow client cannot hold the gateway's resources for ever;
- a JSON body (`application/json`, `application/*+json`) nested deeper than `max_json_depth`
  or with an array longer than `max_json_array_length` is a 422 naming the limit.

The body is then handed on, in one piece, to the routes behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.errors import DomainError, InvalidInput, PayloadTooLarge, domain_problem


class RequestTimeout(DomainError):
    status, slug, title = 408, "request-timeout", "Request timeout"


class ClientGone(Exception):
    """The client disconnected while sending its body."""


def is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _field(path: list[str | int]) -> str:
    return ".".join(str(part) for part in path)


def check_json_shape(body: bytes, *, max_depth: int, max_array_length: int) -> None:
    """InvalidInput (422) naming the limit when the JSON document in `body` is nested deeper
    than `max_depth` arrays/objects or has an array longer than `max_array_length`.

    A body that is not JSON at all is left to the service, which says what is wrong with it.
    """
    if not body.strip():
        return
    try:
        document = json.loads(body)
    except RecursionError:  # deeper than the parser goes: deeper than any limit we allow
        raise _too_deep(max_depth, []) from None
    except ValueError:
        return
    stack: list[tuple[Any, int, list[str | int]]] = [(document, 1, [])]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict):
            children: list[tuple[str | int, Any]] = list(node.items())
        elif isinstance(node, list):
            if len(node) > max_array_length:
                raise InvalidInput(
                    f"JSON array with {len(node)} items; at most {max_array_length} "
                    "(CLOCK_GATEWAY_MAX_JSON_ARRAY_LENGTH)",
                    errors=[
                        {
                            "field": _field(path),
                            "in": "body",
                            "message": f"at most {max_array_length} items",
                            "type": "too_long",
                        }
                    ],
                    limit={"name": "max_json_array_length", "value": max_array_length},
                )
            children = list(enumerate(node))
        else:
            continue
        if depth > max_depth:
            raise _too_deep(max_depth, path)
        stack.extend(
            (child, depth + 1, [*path, name])
            for name, child in children
            if isinstance(child, dict | list)
        )


def _too_deep(max_depth: int, path: list[str | int]) -> InvalidInput:
    return InvalidInput(
        f"JSON nested deeper than {max_depth} levels (CLOCK_GATEWAY_MAX_JSON_DEPTH)",
        errors=[
            {
                "field": _field(path),
                "in": "body",
                "message": f"at most {max_depth} nested arrays or objects",
                "type": "too_deep",
            }
        ],
        limit={"name": "max_json_depth", "value": max_depth},
    )


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is larger than {max_bytes} bytes (CLOCK_GATEWAY_MAX_BODY_BYTES)",
        headers={"Connection": "close"},
        limit={"name": "max_body_bytes", "value": max_bytes},
    )


async def read_body(receive: Receive, *, max_bytes: int, timeout: float) -> bytes:
    """The whole request body: PayloadTooLarge past `max_bytes`, RequestTimeout after
    `timeout` seconds, ClientGone when the client disconnects."""
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(timeout) as deadline:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
    assert deadline.cancelled_caught
    raise RequestTimeout(
        f"the request body did not arrive within {timeout:g} s (CLOCK_GATEWAY_BODY_READ_TIMEOUT)",
        headers={"Connection": "close"},
    )


class RequestLimits:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: Callable[[str], int],
        body_read_timeout: float,
        max_json_depth: int,
        max_json_array_length: int,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_read_timeout = body_read_timeout
        self.max_json_depth = max_json_depth
        self.max_json_array_length = max_json_array_length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        max_body_bytes = self.max_body_bytes(scope["path"])
        declared = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        try:
            if declared is not None and not chunked:
                if not declared.strip().isdigit():
                    raise DomainError("Content-Length is not a number")
                if int(declared) > max_body_bytes:
                    raise _too_large(max_body_bytes)
            if not chunked and (declared is None or int(declared) == 0):
                await self.app(scope, receive, send)  # no body
                return
            body = await read_body(
                receive, max_bytes=max_body_bytes, timeout=self.body_read_timeout
            )
            if is_json(headers.get("content-type")):
                check_json_shape(
                    body,
                    max_depth=self.max_json_depth,
                    max_array_length=self.max_json_array_length,
                )
        except ClientGone:
            return
        except DomainError as exc:
            await domain_problem(exc, instance=scope["path"])(scope, receive, send)
            return

        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
