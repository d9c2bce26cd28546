"""The merged OpenAPI document and its Swagger UI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.api import GatewayState
from gateway.openapi import iter_refs, resolve_ref
from tests.integration.gateway.conftest import SECRET, Gateway
from tests.integration.gateway.upstreams import catalog_like, matching_like


def signed_only(app: FastAPI) -> FastAPI:
    """Refuse what the gateway did not sign, as a service does."""
    from kernel.http import SignedPrincipalMiddleware

    app.add_middleware(SignedPrincipalMiddleware, secrets=[SECRET])
    return app


def builds(gateway: Gateway) -> int:
    state: GatewayState = gateway.app.state.gateway
    return state.openapi.builds


async def test_merged_document_prefixes_paths_and_renames_components(
    start_gateway: Callable[..., Any],
) -> None:
    gateway: Gateway = await start_gateway(
        upstreams={"catalog": signed_only(catalog_like()), "matching": signed_only(matching_like())}
    )
    response = await gateway.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()

    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "CLOCK API"
    assert "only public entry" in document["info"]["description"]
    assert document["info"]["x-unavailable-services"] == ["membership", "reporting"]
    assert set(document["paths"]) == {
        "/api/v1/whoami",
        "/api/v1/audit",
        "/api/v1/catalog/labs",
        "/api/v1/catalog/search",
        "/api/v1/matching/demands",
        "/api/v1/matching/demands/{demand_id}/matches",
        "/api/v1/matching/items",
    }
    schemas = document["components"]["schemas"]
    assert {"CatalogLab", "CatalogPage", "CatalogItem", "MatchingItem", "MatchingDemand"} <= set(
        schemas
    )
    assert not {"Lab", "Item", "Demand"} & set(schemas), "every service name is prefixed"
    # both services' `Item` survived, each with its own content
    assert "hit" in schemas["CatalogItem"]["properties"]
    assert "demand" in schemas["MatchingItem"]["properties"]

    refs = list(iter_refs(document))
    assert refs, "the document has references"
    for ref in refs:
        resolve_ref(document, ref)  # raises when dangling
    mapping = schemas["CatalogItem"]["properties"]["hit"]["discriminator"]["mapping"]
    assert mapping == {
        "equipment": "#/components/schemas/CatalogEquipment",
        "service": "#/components/schemas/CatalogService",
    }

    labs = document["paths"]["/api/v1/catalog/labs"]
    assert labs["get"]["tags"] == ["catalog"]
    assert document["paths"]["/api/v1/catalog/search"]["get"]["tags"] == ["search"]
    assert document["paths"]["/api/v1/matching/demands"]["post"]["tags"] == ["matching"]
    operation_ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    assert len(operation_ids) == len(set(operation_ids))

    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["apiKey"]["description"],
    }
    assert schemes["bearer"]["type"] == "http"
    assert schemes["bearer"]["scheme"] == "bearer"
    assert {t["name"] for t in document["tags"]} >= {"gateway", "catalog", "matching", "search"}


async def test_document_is_cached_and_rebuilt_while_a_service_was_unavailable(
    start_gateway: Callable[..., Any],
) -> None:
    calls = {"count": 0, "up": False}
    catalog = catalog_like()

    async def flaky(request: httpx.Request) -> httpx.Response:
        calls["count"] += 1
        if not calls["up"]:
            raise httpx.ConnectError("refused", request=request)
        return await httpx.ASGITransport(catalog).handle_async_request(request)

    def others() -> dict[str, Any]:
        return {name: matching_like() for name in ("membership", "matching", "reporting")}

    gateway: Gateway = await start_gateway(
        upstreams={"catalog": httpx.MockTransport(flaky), **others()}
    )
    first = (await gateway.client.get("/api/v1/openapi.json")).json()
    assert first["info"]["x-unavailable-services"] == ["catalog"]
    assert not any(path.startswith("/api/v1/catalog/") for path in first["paths"])

    calls["up"] = True
    second = (await gateway.client.get("/api/v1/openapi.json")).json()
    assert second["info"]["x-unavailable-services"] == []
    assert "/api/v1/catalog/labs" in second["paths"]
    assert builds(gateway) == 2

    calls["up"] = False  # down again, but the complete document is served from memory
    third = (await gateway.client.get("/api/v1/openapi.json")).json()
    assert third == second
    assert builds(gateway) == 2
    assert calls["count"] == 2


async def test_a_service_answering_garbage_is_listed_unavailable(
    start_gateway: Callable[..., Any],
) -> None:
    broken = FastAPI(openapi_url=None)

    @broken.get("/openapi.json")
    async def not_a_document(request: Request) -> JSONResponse:
        return JSONResponse(["not", "a", "document"])

    gateway: Gateway = await start_gateway(upstreams={"catalog": broken})
    document = (await gateway.client.get("/api/v1/openapi.json")).json()
    assert "catalog" in document["info"]["x-unavailable-services"]


async def test_swagger_ui_points_at_the_merged_document_and_fastapi_own_docs_are_off(
    gateway: Gateway,
) -> None:
    docs = await gateway.client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "/api/v1/openapi.json" in docs.text
    assert (await gateway.client.get("/openapi.json")).status_code == 404
    assert (await gateway.client.get("/redoc")).status_code == 404
