"""What the gateway forwards, header by header."""

from __future__ import annotations

import httpx

from gateway.proxy import (
    connection_tokens,
    downstream_response_headers,
    rewrite_location,
    upstream_request_headers,
)


def forward(headers: list[tuple[str, str]], **overrides: object) -> list[tuple[str, str]]:
    options: dict[str, object] = {
        "principal_header": "signed",
        "request_id": "rid-1",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "client_host": "203.0.113.7",
        "scheme": "https",
        "forwarded_host": "api.clock.example",
        "content_length": None,
    }
    options.update(overrides)
    return upstream_request_headers(headers, **options)  # type: ignore[arg-type]


def values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k == name]


def test_connection_tokens() -> None:
    assert connection_tokens(["keep-alive, X-Foo", " close ,,"]) == {"keep-alive", "x-foo", "close"}


def test_request_headers_drop_hop_by_hop_credentials_and_claims() -> None:
    sent = [
        ("Host", "api.clock.example"),
        ("Connection", "X-Foo"),
        ("X-Foo", "hop"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("TE", "trailers"),
        ("Trailer", "X-Checksum"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic x"),
        ("Authorization", "Bearer clk_x"),
        ("X-API-Key", "clk_x"),
        ("X-Clock-Principal", "forged"),
        ("X-Request-ID", "client-chosen"),
        ("traceparent", "00-bad"),
        ("Content-Length", "10"),
        ("Accept", "application/json"),
        ("Accept-Language", "it"),
        ("Accept-Language", "en"),
        ("If-Match", '"v3"'),
        ("Idempotency-Key", "k-1"),
    ]
    result = forward(sent, content_length="10")
    names = [k for k, _ in result]
    for dropped in (
        "host",
        "connection",
        "x-foo",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "authorization",
        "x-api-key",
    ):
        assert dropped not in names, dropped
    assert values(result, "x-clock-principal") == ["signed"]
    assert values(result, "x-request-id") == ["rid-1"]
    assert values(result, "traceparent") == [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    ]
    assert values(result, "content-length") == ["10"]
    assert values(result, "accept-language") == ["it", "en"]
    assert values(result, "if-match") == ['"v3"']
    assert values(result, "idempotency-key") == ["k-1"]
    assert values(result, "x-forwarded-proto") == ["https"]
    assert values(result, "x-forwarded-host") == ["api.clock.example"]
    assert values(result, "x-forwarded-for") == ["203.0.113.7"]


def test_forwarded_for_appends_the_client_to_the_chain() -> None:
    result = forward(
        [("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", "192.0.2.9")],
        client_host="10.0.0.5",
    )
    assert values(result, "x-forwarded-for") == ["198.51.100.1, 192.0.2.9, 10.0.0.5"]


def test_response_headers_drop_hop_by_hop_and_keep_duplicates() -> None:
    upstream = httpx.Headers(
        [
            ("Connection", "close, X-Hop"),
            ("X-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("Proxy-Authenticate", "Basic"),
            ("Server", "uvicorn"),
            ("Date", "Mon, 02 Mar 2026 09:00:00 GMT"),
            ("Content-Type", "application/json"),
            ("Content-Length", "42"),
            ("Content-Encoding", "gzip"),
            ("ETag", '"v3"'),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("Location", "http://127.0.0.1:8102/labs/1"),
        ]
    )
    result = downstream_response_headers(
        upstream, base_url="http://127.0.0.1:8102", public_prefix="/api/v1/catalog"
    )
    assert result == [
        (b"content-type", b"application/json"),
        (b"content-length", b"42"),
        (b"content-encoding", b"gzip"),
        (b"etag", b'"v3"'),
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        (b"location", b"/api/v1/catalog/labs/1"),
    ]


def test_location_rewrite() -> None:
    options = {"base_url": "http://catalog:8102", "public_prefix": "/api/v1/catalog"}
    assert rewrite_location("/labs?x=1", **options) == "/api/v1/catalog/labs?x=1"
    assert rewrite_location("http://catalog:8102", **options) == "/api/v1/catalog"
    assert rewrite_location("http://catalog:8102?x", **options) == "/api/v1/catalog?x"
    assert rewrite_location("http://catalog:81020/x", **options) == "http://catalog:81020/x"
    assert rewrite_location("https://example.org/x", **options) == "https://example.org/x"
    assert rewrite_location("//example.org/x", **options) == "//example.org/x"
    assert rewrite_location("labs/1", **options) == "labs/1"
