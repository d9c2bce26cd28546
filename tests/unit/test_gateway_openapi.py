"""Merging the services' OpenAPI documents, without a network."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.openapi import (
    iter_refs,
    merge_documents,
    prefix_document,
    resolve_ref,
    rewrite_refs,
    title_case,
)


def service_document(title: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "description": f"{title} things.\nMore.", "version": "2.0.0"},
        "paths": {
            "/labs/{lab_id}": {
                "parameters": [{"$ref": "#/components/parameters/LabId"}],
                "get": {
                    "operationId": "get_lab",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Lab"}}
                            },
                        },
                        "404": {"$ref": "#/components/responses/NotFound"},
                    },
                },
                "put": {
                    "tags": ["labs"],
                    "operationId": "put_lab",
                    "requestBody": {"$ref": "#/components/requestBodies/LabBody"},
                    "responses": {"200": {"description": "ok"}},
                },
            }
        },
        "components": {
            "schemas": {
                "Lab": {
                    "type": "object",
                    "properties": {
                        "tags": {"$ref": "#/components/schemas/Tags"},
                        "offers": {
                            "type": "array",
                            "items": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/Equipment"},
                                    {"$ref": "#/components/schemas/Service"},
                                ],
                                "discriminator": {
                                    "propertyName": "entity",
                                    "mapping": {
                                        "equipment": "#/components/schemas/Equipment",
                                        "service": "#/components/schemas/Service",
                                    },
                                },
                            },
                        },
                        "$ref": {"type": "string", "description": "a property named $ref"},
                    },
                },
                "Tags": {"type": "object"},
                "Equipment": {"type": "object"},
                "Service": {"type": "object"},
            },
            "parameters": {"LabId": {"name": "lab_id", "in": "path", "required": True}},
            "responses": {"NotFound": {"description": "no such lab"}},
            "requestBodies": {
                "LabBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Lab"}}
                    }
                }
            },
            "securitySchemes": {"internal": {"type": "http", "scheme": "basic"}},
        },
        "tags": [{"name": "labs", "description": "Labs."}],
    }


@pytest.mark.parametrize(
    ("service", "expected"),
    [("catalog", "Catalog"), ("membership", "Membership"), ("data_hub", "DataHub")],
)
def test_title_case(service: str, expected: str) -> None:
    assert title_case(service) == expected


def test_rewrite_refs_renames_local_components_only() -> None:
    node = {
        "a": {"$ref": "#/components/schemas/Lab"},
        "b": [{"$ref": "#/components/responses/NotFound"}],
        "c": {"$ref": "https://example.org/schema.json"},
        "d": {"$ref": "#/$defs/Local"},
    }
    assert rewrite_refs(node, "Catalog") == {
        "a": {"$ref": "#/components/schemas/CatalogLab"},
        "b": [{"$ref": "#/components/responses/CatalogNotFound"}],
        "c": {"$ref": "https://example.org/schema.json"},
        "d": {"$ref": "#/$defs/Local"},
    }
    assert node["a"] == {"$ref": "#/components/schemas/Lab"}, "the input is left alone"


def test_prefix_document() -> None:
    part = prefix_document(
        service_document("Catalog"),
        path_prefix="/api/v1/catalog",
        name_prefix="Catalog",
        tag="catalog",
    )
    assert list(part["paths"]) == ["/api/v1/catalog/labs/{lab_id}"]
    item = part["paths"]["/api/v1/catalog/labs/{lab_id}"]
    assert item["get"]["tags"] == ["catalog"]
    assert item["put"]["tags"] == ["labs"]
    assert item["get"]["operationId"] == "catalog_get_lab"
    assert "securitySchemes" not in part["components"]
    assert set(part["components"]["schemas"]) == {
        "CatalogLab",
        "CatalogTags",
        "CatalogEquipment",
        "CatalogService",
    }
    lab = part["components"]["schemas"]["CatalogLab"]
    assert lab["properties"]["$ref"] == {"type": "string", "description": "a property named $ref"}


def test_merged_document_resolves_every_reference() -> None:
    merged = merge_documents(
        {
            "catalog": service_document("Catalog"),
            "matching": service_document("Matching"),
            "reporting": None,
        },
        description="The platform.",
    )
    assert merged["openapi"] == "3.1.0"
    assert merged["info"]["title"] == "CLOCK API"
    assert merged["info"]["description"] == "The platform."
    assert merged["info"]["x-unavailable-services"] == ["reporting"]
    assert merged["info"]["x-services"]["catalog"] == {"title": "Catalog", "version": "2.0.0"}
    assert set(merged["paths"]) == {
        "/api/v1/catalog/labs/{lab_id}",
        "/api/v1/matching/labs/{lab_id}",
    }
    refs = list(iter_refs(merged))
    # per service: 4 in paths, 6 in components, and what the gateway adds (a 429 on each of
    # the two operations, a 413 on the one with a body); 2 in the gateway's own components
    assert len(refs) == 2 * (10 + 3) + 2
    for ref in refs:
        resolve_ref(merged, ref)
    assert "MatchingLab" in merged["components"]["schemas"]
    assert set(merged["components"]["securitySchemes"]) == {"apiKey", "bearer"}
    assert merged["security"] == [{"apiKey": []}, {"bearer": []}, {}]
    tags = {t["name"]: t for t in merged["tags"]}
    assert tags["catalog"]["description"] == "Catalog things."
    assert tags["labs"] == {"name": "labs", "description": "Labs."}


def test_resolve_ref_refuses_dangling_references() -> None:
    document: dict[str, Any] = {"components": {"schemas": {"A/B": {}, "C": {}}}}
    assert resolve_ref(document, "#/components/schemas/C") == {}
    assert resolve_ref(document, "#/components/schemas/A~1B") == {}
    with pytest.raises(KeyError):
        resolve_ref(document, "#/components/schemas/D")
    with pytest.raises(KeyError):
        resolve_ref(document, "other.json#/components/schemas/C")
