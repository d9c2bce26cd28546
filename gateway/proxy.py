"""Passing one request to a service and its answer back.

The request body arrives read in full and checked (`gateway.limits`); the response is streamed
back as the service sends it (or read in full when an Idempotency-Key needs to keep it).
Hop-by-hop headers (and those the `Connection` header names) are dropped both ways; so are the
client's credentials and anything it claims about its principal, request id or trace. The
gateway adds the principal it signed, the request id and trace context of the request, and the
`X-Forwarded-*` headers. Transport failures become 502/503/504 problem documents.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from urllib.parse import quote

import anyio
import httpx
from prometheus_client import Counter, Histogram
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from gateway.upstreams import Upstream, never_connected, retryable
from kernel.context import request_id_var, traceparent_var
from kernel.errors import BadGateway, DomainError, GatewayTimeout, NotFound, ServiceUnavailable
from kernel.http import REQUEST_ID_HEADER
from kernel.idempotency import FINGERPRINT_HEADER as IDEMPOTENCY_FINGERPRINT_HEADER
from kernel.idempotency import KEY_HEADER as IDEMPOTENCY_KEY_HEADER
from kernel.principal import PRINCIPAL_HEADER

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
"""RFC 9110 §7.6.1 connection-specific fields (plus the legacy names still seen in the wild)."""

# Request headers the gateway never passes on as the client sent them: it sets its own or they
# concern only the client's connection to the gateway.
_DROPPED_REQUEST = frozenset(
    {
        "host",
        "authorization",
        "x-api-key",
        PRINCIPAL_HEADER.lower(),
        IDEMPOTENCY_KEY_HEADER.lower(),
        IDEMPOTENCY_FINGERPRINT_HEADER.lower(),
        REQUEST_ID_HEADER.lower(),
        "traceparent",
        "x-forwarded-proto",
        "x-forwarded-host",
        "expect",
        "content-length",
    }
)
# Response headers the gateway's own server sets, and banners.
_DROPPED_RESPONSE = frozenset({"server", "date", "x-powered-by"})

UPSTREAM_REQUESTS = Counter(
    "clock_gateway_upstream_requests_total",
    "Requests the gateway passed to a service, by outcome (status code or failure)",
    ["service", "outcome"],
)
UPSTREAM_DURATION = Histogram(
    "clock_gateway_upstream_duration_seconds",
    "Time until a service answered with its status line",
    ["service"],
)


def connection_tokens(values: Iterable[str]) -> set[str]:
    """Header names listed in `Connection` header values (also hop-by-hop)."""
    return {
        token.strip().lower() for value in values for token in value.split(",") if token.strip()
    }


def upstream_request_headers(
    headers: Iterable[tuple[str, str]],
    *,
    principal_header: str,
    request_id: str | None,
    traceparent: str | None,
    client_host: str | None,
    scheme: str,
    forwarded_host: str | None,
    content_length: str | None,
) -> list[tuple[str, str]]:
    """The headers of the request to the service (names lower case, order kept)."""
    pairs = [(name.lower(), value) for name, value in headers]
    hop = HOP_BY_HOP | connection_tokens(v for n, v in pairs if n == "connection")
    forwarded_for = [v.strip() for n, v in pairs if n == "x-forwarded-for" and v.strip()]
    result = [
        (name, value)
        for name, value in pairs
        if name not in hop and name not in _DROPPED_REQUEST and name != "x-forwarded-for"
    ]
    if content_length is not None:
        result.append(("content-length", content_length))
    result.append((PRINCIPAL_HEADER.lower(), principal_header))
    if request_id:
        result.append((REQUEST_ID_HEADER.lower(), request_id))
    if traceparent:
        result.append(("traceparent", traceparent))
    if client_host:
        forwarded_for.append(client_host)
    if forwarded_for:
        result.append(("x-forwarded-for", ", ".join(forwarded_for)))
    result.append(("x-forwarded-proto", scheme))
    if forwarded_host:
        result.append(("x-forwarded-host", forwarded_host))
    return result


def rewrite_location(value: str, *, base_url: str, public_prefix: str) -> str:
    """A service's redirect target as the client must follow it: through the gateway."""
    if value.startswith(base_url) and value[len(base_url) : len(base_url) + 1] in ("", "/", "?"):
        return public_prefix + value[len(base_url) :]
    if value.startswith("/") and not value.startswith("//"):
        return public_prefix + value
    return value


def downstream_response_headers(
    headers: httpx.Headers, *, base_url: str, public_prefix: str
) -> list[tuple[bytes, bytes]]:
    """The service's response headers as the client gets them (duplicates such as
    `Set-Cookie` kept). `Content-Length` stays: the body passes through as raw bytes."""
    # Raw bytes, read as latin-1: every byte survives the round trip whatever the encoding.
    pairs = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in headers.raw]
    hop = HOP_BY_HOP | connection_tokens(v for n, v in pairs if n == "connection")
    result: list[tuple[bytes, bytes]] = []
    for name, value in pairs:
        if name in hop or name in _DROPPED_RESPONSE:
            continue
        if name == "location":
            value = rewrite_location(value, base_url=base_url, public_prefix=public_prefix)
        result.append((name.encode("latin-1"), value.encode("latin-1")))
    return result


def upstream_path(request: Request, service: str, path: str) -> str:
    """The path at the service: the request's path without `/api/v1/<service>`, as the client
    encoded it (so `%2F` inside a segment stays one segment)."""
    if any(segment in (".", "..") for segment in path.split("/")):
        raise NotFound("a path must not contain '.' or '..' segments")
    public_prefix = f"{API_PREFIX}/{service}".encode()
    raw_path: bytes = request.scope.get("raw_path") or b""
    raw_path = raw_path.split(b"?", 1)[0]
    if raw_path.startswith(public_prefix) and raw_path[len(public_prefix) :][:1] in (b"", b"/"):
        rest = raw_path[len(public_prefix) :].decode("latin-1")
    else:
        rest = "/" + quote(path, safe="/:@!$&'()*+,;=-._~")
    return rest or "/"


class UpstreamResponse(StreamingResponse):
    """A service's response streamed to the client; the upstream response is closed whatever
    happens to the client (finished, disconnected, failed)."""

    def __init__(
        self, upstream: httpx.Response, *, service: str, headers: list[tuple[bytes, bytes]]
    ) -> None:
        self.upstream = upstream
        self.service = service
        super().__init__(
            self._body(),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        self.raw_headers = headers

    async def _body(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.upstream.aiter_raw():
                yield chunk
        except httpx.TransportError as exc:
            # The status line is gone already: all we can do is abort the response.
            log.warning(
                "upstream failed while streaming its response",
                extra={"service": self.service, "error": type(exc).__name__},
            )
            raise

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.upstream.aclose()


async def _send(
    request: Request,
    *,
    client: httpx.AsyncClient,
    service: str,
    upstream: Upstream,
    path: str,
    principal_header: str,
    body: bytes,
    timeout: float,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> tuple[httpx.Response, str]:
    """The response of one of the service's replicas, its body not read yet, and that
    replica's base URL; 502/503/504 when none answered."""
    target_path = upstream_path(request, service, path)
    query = request.scope.get("query_string", b"")
    if query:
        target_path += "?" + query.decode("latin-1")

    declared = request.headers.get("content-length")
    client_address = request.client.host if request.client else None
    headers = upstream_request_headers(
        request.headers.items(),
        principal_header=principal_header,
        request_id=request_id_var.get(),
        traceparent=traceparent_var.get(),
        client_host=client_address,
        scheme=request.url.scheme,
        forwarded_host=request.headers.get("host"),
        content_length=str(len(body)) if body or declared is not None else None,
    )
    headers.extend(extra_headers)
    raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    request_timeout = httpx.Timeout(
        timeout, connect=min(timeout, client.timeout.connect or timeout)
    )
    attempts = upstream.attempts()
    for number, base_url in enumerate(attempts, start=1):
        upstream_request = client.build_request(
            request.method,
            base_url + target_path,
            # bytes, as Starlette decoded them (latin-1): non-ASCII values pass through unchanged
            headers=raw_headers,
            content=body or None,
            timeout=request_timeout,
        )
        started = anyio.current_time()
        try:
            response = await client.send(upstream_request, stream=True)
        except httpx.TransportError as exc:
            if never_connected(exc):
                upstream.mark_down(base_url)
            if number < len(attempts) and retryable(request.method, exc):
                UPSTREAM_REQUESTS.labels(service, "retried").inc()
                log.info(
                    "upstream replica failed; trying the next",
                    extra={"service": service, "error": type(exc).__name__},
                )
                continue
            raise _failure(service, exc) from None
        upstream.mark_up(base_url)
        UPSTREAM_DURATION.labels(service).observe(anyio.current_time() - started)
        UPSTREAM_REQUESTS.labels(service, str(response.status_code)).inc()
        return response, base_url
    raise AssertionError("unreachable: the last attempt returns or raises")


def _failure(service: str, exc: httpx.TransportError) -> DomainError:
    """The problem of a transport failure (the exception's text is logged, never sent)."""
    if isinstance(exc, httpx.TimeoutException):
        UPSTREAM_REQUESTS.labels(service, "timeout").inc()
        log.warning("upstream timed out", extra={"service": service, "error": type(exc).__name__})
        return GatewayTimeout(f"the {service} service did not answer in time", service=service)
    if isinstance(exc, httpx.ConnectError):
        UPSTREAM_REQUESTS.labels(service, "unreachable").inc()
        log.warning("upstream unreachable", extra={"service": service, "error": str(exc)})
        return ServiceUnavailable(
            f"the {service} service is unavailable; try again shortly", service=service
        )
    UPSTREAM_REQUESTS.labels(service, "error").inc()
    log.warning("upstream failed", extra={"service": service, "error": type(exc).__name__})
    return BadGateway(f"the {service} service gave no valid answer", service=service)


async def forward(
    request: Request,
    *,
    client: httpx.AsyncClient,
    service: str,
    upstream: Upstream,
    path: str,
    principal_header: str,
    body: bytes,
    timeout: float,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> Response:
    """Send the request to `service` and stream its answer back."""
    response, base_url = await _send(
        request,
        client=client,
        service=service,
        upstream=upstream,
        path=path,
        principal_header=principal_header,
        body=body,
        timeout=timeout,
        extra_headers=extra_headers,
    )
    response_headers = downstream_response_headers(
        response.headers,
        base_url=base_url,
        public_prefix=f"{API_PREFIX}/{service}",
    )
    if _is_small(response):
        # Most answers are a few KiB: read at once and sent whole, they skip the streaming
        # machinery (a task per response, a send per chunk) that large exports need.
        try:
            content = b"".join([chunk async for chunk in response.aiter_raw()])
        except httpx.TransportError as exc:
            raise _failure(service, exc) from None
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()
        return BufferedUpstreamResponse(response.status_code, response_headers, content)
    return UpstreamResponse(response, service=service, headers=response_headers)


SMALL_BODY_BYTES = 256 * 1024


def _is_small(upstream: httpx.Response) -> bool:
    declared = upstream.headers.get("content-length")
    return declared is not None and declared.isdigit() and int(declared) <= SMALL_BODY_BYTES


class BufferedUpstreamResponse(Response):
    """A small answer of a service, sent with its headers as they are (content-length too)."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], content: bytes) -> None:
        self.status_code = status
        self.body = content
        self.background = None
        self.raw_headers = headers


async def forward_buffered(
    request: Request,
    *,
    client: httpx.AsyncClient,
    service: str,
    upstream: Upstream,
    path: str,
    principal_header: str,
    body: bytes,
    timeout: float,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send the request to `service` and read its whole answer: status, headers (as the
    client gets them), raw body."""
    response, base_url = await _send(
        request,
        client=client,
        service=service,
        upstream=upstream,
        path=path,
        principal_header=principal_header,
        body=body,
        timeout=timeout,
        extra_headers=extra_headers,
    )
    try:
        content = b"".join([chunk async for chunk in response.aiter_raw()])
    except httpx.TransportError as exc:
        raise _failure(service, exc) from None
    finally:
        with anyio.CancelScope(shield=True):
            await response.aclose()
    headers = downstream_response_headers(
        response.headers, base_url=base_url, public_prefix=f"{API_PREFIX}/{service}"
    )
    return (
        response.status_code,
        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
        content,
    )
