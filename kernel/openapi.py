"""Problem documents in a service's OpenAPI document.

Every error of the platform is an RFC 9457 problem document (`application/problem+json`, see
`kernel.errors`), but FastAPI documents its own validation error (`HTTPValidationError` as
`application/json`) and nothing else. `document_problems(app)` makes the document tell the truth:

- a `Problem` schema in `components/schemas`;
- every 422 becomes a `Problem` in `application/problem+json`;
- every operation documents 401 (a request without a principal signed by the gateway, or with an
  invalid API key at the gateway);
- every operation with a request body documents 400 (a body that cannot be parsed) and 413
  (a body over the size limit);
- routes declare the other statuses they answer with `responses=problems(403, 404, ...)`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from kernel.errors import PROBLEM_JSON, STATUS_TITLES

NOT_BLANK = r"[^\s\x1c-\x1f\x85]"
r"""`pattern` of a text that is stripped and must not be empty: one character that is not blank.
Python also strips U+001C-U+001F and U+0085, which ECMAScript's `\s` (the dialect of the
schema's patterns, what clients and schemathesis read) leaves out: they are named here."""

PROBLEM_SCHEMA = "Problem"
PROBLEM_REF = f"#/components/schemas/{PROBLEM_SCHEMA}"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

DESCRIPTIONS: dict[int, str] = {
    400: "The request body cannot be parsed.",
    401: "No valid credentials: an invalid API key at the gateway, or a request that did not "
    "come through the gateway.",
    403: "The caller's role or organisation may not do this.",
    404: "No such object, or none the caller may see.",
    409: "The object's state does not allow this now (`current_status`, `allowed` tell why).",
    412: "`If-Match` names a version that is no longer current.",
    413: "The request body is over the size limit.",
    422: "Invalid input: `errors` lists each invalid field.",
    428: "`If-Match` is required: read the object and send its `ETag`.",
}


class ProblemError(BaseModel):
    """One invalid field of a 422."""

    model_config = ConfigDict(populate_by_name=True)

    field: str
    in_: str = Field(alias="in", description="body, query, path or header")
    message: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document. Some problems add members of their own (e.g.
    `current_status`, `allowed`, `member_status`)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemError] | None = None


def problem_response(status: int) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS.get(status, STATUS_TITLES.get(status, "Error")),
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route that may answer these statuses with a problem document."""
    return {status: problem_response(status) for status in statuses}


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(
        ref_template="#/components/schemas/{model}", by_alias=True, mode="serialization"
    )
    definitions = schema.pop("$defs", {})
    return {PROBLEM_SCHEMA: schema, **definitions}


def add_problem_responses(document: dict[str, Any]) -> dict[str, Any]:
    """The document (changed in place) with problem responses as described above."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(_problem_schemas())
    for item in (document.get("paths") or {}).values():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            statuses = {401}
            if "422" in responses:
                statuses.add(422)
            if "requestBody" in operation:
                statuses |= {400, 413, 422}
            for status in statuses:
                responses[str(status)] = problem_response(status)
    # FastAPI's own validation error is never sent: every 422 is a problem document.
    still_used = str(document.get("paths"))
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}" not in still_used:
            schemas.pop(name, None)
    return document


def document_problems(app: FastAPI) -> None:
    """Replace `app.openapi` by one that documents the problem responses."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = add_problem_responses(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def patch_body_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """`json_schema_extra` of a PATCH body: at least one field, and no null for the fields the
    model lists in `required` (they may be left out, not cleared), as the model validates."""
    schema["minProperties"] = 1
    properties = schema.get("properties", {})
    for name in getattr(model, "required", ()):
        prop = properties.get(name)
        if not isinstance(prop, dict) or "anyOf" not in prop:
            continue
        branches = [b for b in prop["anyOf"] if b.get("type") != "null"]
        prop.pop("default", None)
        if len(branches) == 1:
            del prop["anyOf"]
            prop.update({k: v for k, v in branches[0].items() if k not in prop})
        else:
            prop["anyOf"] = branches


def decimal_json_schema(*, integer_digits: int, places: int) -> dict[str, Any]:
    """The JSON schema of a non-negative decimal of at most `integer_digits` digits before the
    point and `places` after it, as a JSON number or a decimal string (pydantic's own says
    "any number or any string")."""
    maximum = float("9" * integer_digits + "." + "9" * places)
    return {
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": maximum},
            {
                "type": "string",
                "pattern": rf"^\s*\+?\d{{1,{integer_digits}}}(\.\d{{1,{places}}})?\s*$",
            },
        ]
    }
