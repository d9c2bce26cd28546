"""The gateway passing requests to a service: principal, headers, bodies, failures."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from kernel.principal import ANONYMOUS, PRINCIPAL_HEADER, Principal, Role, sign
from tests.integration.gateway.conftest import SECRET, Gateway, echo_app, header_values

PROBLEM = "application/problem+json"
ORG = "7c0a4f52-8f9e-4a53-9b8e-3f5a0c6a1d01"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    assert "Traceback" not in response.text
    return body


async def test_anonymous_request_reaches_the_service_with_a_signed_anonymous_principal(
    gateway: Gateway,
) -> None:
    response = await gateway.client.get("/api/v1/catalog/labs", params={"x": "1", "q": "è b"})

    assert response.status_code == 200, response.text
    echoed = response.json()
    assert echoed["path"] == "/labs"
    assert echoed["query"] == "x=1&q=%C3%A8+b"
    assert echoed["principal"] == ANONYMOUS.model_dump(mode="json")
    assert response.headers["x-upstream"] == "echo"


async def test_a_valid_key_is_passed_on_as_a_signed_principal_with_role_and_org(
    gateway: Gateway,
) -> None:
    key_id, key = await gateway.create_key(Role.CENTRE, ORG, name="LUCENSE catalogue sync")

    by_bearer = await gateway.client.get(
        "/api/v1/catalog/labs", headers={"Authorization": f"Bearer {key}"}
    )
    by_header = await gateway.client.get("/api/v1/catalog/labs", headers={"X-API-Key": key})

    for response in (by_bearer, by_header):
        assert response.status_code == 200, response.text
        echoed = response.json()
        assert echoed["principal"] == {
            "role": "centre",
            "org_id": ORG,
            "key_id": key_id,
            "name": "LUCENSE catalogue sync",
        }
        # the key itself never reaches a service
        assert not header_values(echoed, "authorization")
        assert not header_values(echoed, "x-api-key")
        assert key not in str(echoed)


async def test_invalid_and_revoked_keys_are_refused_with_401_never_downgraded(
    gateway: Gateway,
) -> None:
    key_id, key = await gateway.create_key(Role.REGION)
    _, other = await gateway.create_key(Role.FIRM, ORG)
    await gateway.revoke(key_id)
    prefix = other.split("_")[1]
    wrong_secret = f"clk_{prefix}_{'A' * 43}"
    unknown = f"clk_{'Z' * 12}_{'A' * 43}"
    calls_before = gateway.upstream_apps["catalog"].state.calls

    attempts = [
        {"Authorization": f"Bearer {key}"},  # revoked
        {"X-API-Key": key},  # revoked
        {"X-API-Key": wrong_secret},
        {"Authorization": f"Bearer {unknown}"},
        {"X-API-Key": "not-a-key"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {key}"},
        {"Authorization": f"Bearer {other}", "X-API-Key": unknown},  # two different keys
    ]
    for headers in attempts:
        response = await gateway.client.get("/api/v1/catalog/labs", headers=headers)
        body = assert_problem(response, 401)
        assert response.headers["www-authenticate"] == 'Bearer realm="clock"'
        assert body["title"] == "Unauthenticated"
        whoami = await gateway.client.get("/api/v1/whoami", headers=headers)
        assert_problem(whoami, 401)

    assert gateway.upstream_apps["catalog"].state.calls == calls_before, "refused before upstream"
    still_valid = await gateway.client.get("/api/v1/catalog/x", headers={"X-API-Key": other})
    assert still_valid.status_code == 200


async def test_a_principal_header_sent_by_the_client_is_not_forwarded(gateway: Gateway) -> None:
    forged = sign(Principal(role=Role.REGION), SECRET)  # even correctly signed
    response = await gateway.client.get("/api/v1/catalog/labs", headers={PRINCIPAL_HEADER: forged})

    echoed = response.json()
    assert header_values(echoed, PRINCIPAL_HEADER) != [forged]
    assert len(header_values(echoed, PRINCIPAL_HEADER)) == 1
    assert echoed["principal"]["role"] == "anonymous"


async def test_hop_by_hop_headers_are_stripped_both_ways(gateway: Gateway) -> None:
    request = gateway.client.build_request(
        "GET",
        "/api/v1/catalog/inspect",
        headers={
            "Connection": "keep-alive, X-Client-Private",
            "X-Client-Private": "only for the gateway",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Upgrade": "websocket",
            "Proxy-Authorization": "Basic Zm9vOmJhcg==",
            "X-End-To-End": "kept",
            "X-Forwarded-For": "198.51.100.1",
            "X-Forwarded-Proto": "ftp",
        },
    )
    del request.headers["accept-encoding"]
    del request.headers["user-agent"]
    response = await gateway.client.send(request)
    echoed = response.json()
    received = {key.lower() for key, _ in echoed["headers"]}
    for name in (
        "connection",
        "x-client-private",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-authorization",
    ):
        assert name not in received, name
    assert header_values(echoed, "x-end-to-end") == ["kept"]
    # the gateway's client adds nothing of its own: no compression the client did not ask for
    assert not header_values(echoed, "accept-encoding")
    assert not header_values(echoed, "user-agent")
    assert header_values(echoed, "host") == ["catalog.test"]
    assert header_values(echoed, "x-forwarded-for") == ["198.51.100.1, 203.0.113.7"]
    assert header_values(echoed, "x-forwarded-proto") == ["http"]
    assert header_values(echoed, "x-forwarded-host") == ["gateway.test"]

    back = await gateway.client.get("/api/v1/catalog/hop")
    assert back.status_code == 200
    assert back.text == "hop"
    for name in ("x-private", "keep-alive", "proxy-authenticate", "upgrade"):
        assert name not in back.headers, name
    assert back.headers.get("connection") in (None, "keep-alive", "close")
    assert back.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert back.headers["x-end-to-end"] == "kept"


async def test_the_request_id_and_trace_are_passed_on_and_the_id_echoed(gateway: Gateway) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = await gateway.client.get(
        "/api/v1/catalog/labs",
        headers={"X-Request-ID": "partner-retry-42", "traceparent": traceparent},
    )
    echoed = response.json()
    assert header_values(echoed, "x-request-id") == ["partner-retry-42"]
    assert header_values(echoed, "traceparent") == [traceparent]
    assert response.headers["x-request-id"] == "partner-retry-42"

    generated = await gateway.client.get("/api/v1/catalog/labs")
    request_id = generated.headers["x-request-id"]
    uuid.UUID(request_id)
    assert header_values(generated.json(), "x-request-id") == [request_id]
    assert len(header_values(generated.json(), "traceparent")) == 1

    failed = await gateway.client.get("/api/v1/matching/demands", headers={"X-Request-ID": "r-1"})
    assert failed.headers["x-request-id"] == "r-1"
    assert failed.json()["request_id"] == "r-1"


async def test_a_5_mb_body_under_a_raised_limit_reaches_the_service_whole(
    start_gateway: Callable[..., Any],
) -> None:
    gateway: Gateway = await start_gateway(
        upstreams={"catalog": echo_app()}, max_body_bytes=8 * 1024 * 1024
    )
    body = os.urandom(5 * 1024 * 1024 + 17)

    async def chunks() -> Any:
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    echoed = await gateway.client.post("/api/v1/catalog/echo", content=body)
    assert echoed.status_code == 200
    assert echoed.headers["content-type"] == "application/octet-stream"
    assert len(echoed.content) == len(body)
    assert echoed.content == body

    # a chunked body is read (and counted) whole by the gateway: the service gets it with its
    # length
    chunked = await gateway.client.put("/api/v1/catalog/echo", content=chunks())
    assert chunked.status_code == 200
    assert chunked.headers["x-seen-transfer-encoding"] == ""
    assert chunked.content == body

    digest = await gateway.client.post("/api/v1/catalog/digest", content=body)
    assert digest.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


async def test_methods_paths_and_bodies_pass_through(gateway: Gateway) -> None:
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        response = await gateway.client.request(
            method, "/api/v1/catalog/labs/42", content=b'{"a": 1}' if method != "GET" else None
        )
        assert response.status_code == 200, (method, response.text)
        echoed = response.json()
        assert echoed["method"] == method
        assert echoed["path"] == "/labs/42"
        if method != "GET":
            assert echoed["body"] == '{"a": 1}'
            assert header_values(echoed, "content-length") == ["8"]

    head = await gateway.client.head("/api/v1/catalog/labs")
    assert head.status_code == 200
    assert head.content == b""

    encoded = await gateway.client.get("/api/v1/catalog/files/a%2Fb/%C3%A8")
    assert encoded.json()["raw_path"].split("?")[0] == "/files/a%2Fb/%C3%A8"

    root = await gateway.client.get("/api/v1/catalog")
    assert root.json()["path"] == "/"

    dots = await gateway.client.get("/api/v1/catalog/%2E%2E/membership/members")
    assert_problem(dots, 404)


async def test_redirects_of_a_service_point_back_through_the_gateway(gateway: Gateway) -> None:
    relative = await gateway.client.get("/api/v1/catalog/redirect")
    assert relative.status_code == 307
    assert relative.headers["location"] == "/api/v1/catalog/inspect/target?from=redirect"

    absolute = await gateway.client.get("/api/v1/catalog/absolute-redirect")
    assert absolute.headers["location"] == "/api/v1/catalog/redirect"


async def test_unknown_service_is_a_404_problem(gateway: Gateway) -> None:
    response = await gateway.client.get("/api/v1/billing/invoices")
    body = assert_problem(response, 404)
    assert "billing" in body["detail"]
    assert_problem(await gateway.client.get("/api/v2/catalog/labs"), 404)
    assert_problem(await gateway.client.get("/nowhere"), 404)


def failing(exc: type[httpx.TransportError]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("simulated failure", request=request)

    return httpx.MockTransport(handler)


async def test_upstream_failures_become_502_503_504_problems(
    start_gateway: Callable[..., Any],
) -> None:
    gateway: Gateway = await start_gateway(
        upstreams={
            "membership": failing(httpx.ConnectError),
            "catalog": failing(httpx.ReadTimeout),
            "matching": failing(httpx.RemoteProtocolError),
            "reporting": failing(httpx.ConnectTimeout),
        }
    )
    unavailable = assert_problem(await gateway.client.get("/api/v1/membership/members"), 503)
    assert "membership" in unavailable["detail"]
    assert unavailable["service"] == "membership"
    timeout = assert_problem(await gateway.client.post("/api/v1/catalog/labs", json={}), 504)
    assert "catalog" in timeout["detail"]
    assert_problem(await gateway.client.get("/api/v1/reporting/kpis"), 504)
    bad = assert_problem(await gateway.client.get("/api/v1/matching/demands"), 502)
    assert "matching" in bad["detail"]


async def test_a_service_that_is_down_is_a_503(gateway: Gateway) -> None:
    body = assert_problem(await gateway.client.get("/api/v1/reporting/kpis"), 503)
    assert body["service"] == "reporting"


async def test_a_slow_service_times_out_with_504(start_gateway: Callable[..., Any]) -> None:
    import asyncio

    from fastapi import FastAPI

    slow = FastAPI()

    @slow.get("/slow")
    async def slow_route() -> dict[str, str]:
        await asyncio.sleep(5)
        return {"late": "yes"}

    class Deadline(httpx.AsyncBaseTransport):
        """ASGITransport has no timeouts of its own: apply the request's read timeout."""

        def __init__(self) -> None:
            self.inner = httpx.ASGITransport(slow)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            read = request.extensions["timeout"]["read"]
            try:
                return await asyncio.wait_for(self.inner.handle_async_request(request), read)
            except TimeoutError:
                raise httpx.ReadTimeout("read timed out", request=request) from None

    gateway: Gateway = await start_gateway(upstreams={"catalog": Deadline()}, upstream_timeout=0.2)
    assert_problem(await gateway.client.get("/api/v1/catalog/slow"), 504)


async def test_whoami(gateway: Gateway) -> None:
    anonymous = await gateway.client.get("/api/v1/whoami")
    assert anonymous.json() == {
        "role": "anonymous",
        "org_id": None,
        "key_id": None,
        "name": None,
        "authenticated": False,
    }
    key_id, key = await gateway.create_key(Role.PARTNER, ORG, name="CNA integration")
    partner = await gateway.client.get("/api/v1/whoami", headers={"X-API-Key": key})
    assert partner.json() == {
        "role": "partner",
        "org_id": ORG,
        "key_id": key_id,
        "name": "CNA integration",
        "authenticated": True,
    }


async def test_health_of_the_gateway(gateway: Gateway) -> None:
    assert (await gateway.client.get("/healthz")).json() == {"status": "ok"}
    ready = await gateway.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": {"ok": True}}
    metrics = await gateway.client.get("/metrics")
    assert "clock_http_requests_total" in metrics.text


async def test_non_ascii_header_values_pass_through_byte_for_byte(gateway: Gateway) -> None:
    value = "Università di Pisa".encode()
    response = await gateway.client.get(
        "/api/v1/catalog/inspect", headers=[(b"x-organisation", value)]
    )
    assert response.status_code == 200
    (received,) = header_values(response.json(), "x-organisation")
    assert received.encode("latin-1") == value


async def test_a_key_store_that_fails_is_a_503_not_a_500(
    start_gateway: Callable[..., Any], tmp_path: Any
) -> None:
    unmigrated = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    gateway: Gateway = await start_gateway(database_url=unmigrated)
    key = f"clk_{'A' * 12}_{'B' * 43}"
    body = assert_problem(
        await gateway.client.get("/api/v1/catalog/labs", headers={"X-API-Key": key}), 503
    )
    assert "API keys" in body["detail"]
    # anonymous callers need no key store
    assert (await gateway.client.get("/api/v1/whoami")).status_code == 200
