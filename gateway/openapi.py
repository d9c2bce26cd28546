"""One OpenAPI document for the whole platform, merged from the services' own.

Each service's paths are prefixed with `/api/v1/<service>`, its components renamed with the
service's name in TitleCase (`LabOut` of catalog becomes `CatalogLabOut`) and every `$ref`
rewritten to match, its untagged operations tagged with the service's name and its operation ids
prefixed, so that documents of different services never collide.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import httpx

from gateway.upstreams import Upstream
from kernel.context import request_id_var
from kernel.http import REQUEST_ID_HEADER
from kernel.principal import ANONYMOUS, PRINCIPAL_HEADER, sign

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
COMPONENT_REF = re.compile(r"^#/components/([^/]+)/(.+)$")
SECURITY_SCHEMES: JSONDict = {
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key `clk_<prefix>_<secret>` issued to your organisation.",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The same API key as `Authorization: Bearer <key>`, or an access token "
        "(JWT) of the platform's identity provider when one is configured.",
    },
}
PROBLEM_SCHEMA: JSONDict = {
    "type": "object",
    "description": "An RFC 9457 problem document.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["type", "title", "status", "detail"],
}
_PROBLEM_CONTENT: JSONDict = {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/GatewayProblem"}}
}
RATE_LIMIT_HEADERS: JSONDict = {
    name: {"description": description, "schema": {"type": "integer"}}
    for name, description in (
        ("Retry-After", "Seconds to wait before trying again."),
        ("RateLimit-Limit", "Requests allowed in the window."),
        ("RateLimit-Remaining", "Requests left in the window."),
        ("RateLimit-Reset", "Seconds until one more request is allowed."),
    )
}
GATEWAY_COMPONENTS: JSONDict = {
    "schemas": {"GatewayProblem": PROBLEM_SCHEMA},
    "parameters": {
        "GatewayIdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Retry-safe writes: the same key and request again replays the first "
            "response (`Idempotent-Replayed: true`); the same key with another request is a "
            "422, and 409 while the first one runs. Kept 24 hours, per caller.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
        }
    },
    "responses": {
        "GatewayTooManyRequests": {
            "description": "Rate limit reached (per API key, token subject, or client IP).",
            "headers": RATE_LIMIT_HEADERS,
            "content": _PROBLEM_CONTENT,
        },
        "GatewayPayloadTooLarge": {
            "description": "Request body over the gateway's size limit.",
            "content": _PROBLEM_CONTENT,
        },
    },
}


def title_case(service: str) -> str:
    """`catalog` → `Catalog`, `data_hub` → `DataHub`."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", service))


def _rename_ref(ref: str, name_prefix: str) -> str:
    match = COMPONENT_REF.match(ref)
    if match is None:
        return ref
    kind, name = match.groups()
    return f"#/components/{kind}/{name_prefix}{name}"


def rewrite_refs(node: Any, name_prefix: str) -> Any:
    """A copy of `node` with every local component reference renamed (`$ref` values and
    discriminator mappings)."""
    if isinstance(node, list):
        return [rewrite_refs(item, name_prefix) for item in node]
    if not isinstance(node, dict):
        return node
    result: JSONDict = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            result[key] = _rename_ref(value, name_prefix)
        elif key == "discriminator" and isinstance(value, dict):
            rewritten = dict(value)
            mapping = value.get("mapping")
            if isinstance(mapping, dict):
                rewritten["mapping"] = {
                    k: _rename_ref(v, name_prefix) if isinstance(v, str) else v
                    for k, v in mapping.items()
                }
            result[key] = rewrite_refs(rewritten, name_prefix)
        else:
            result[key] = rewrite_refs(value, name_prefix)
    return result


def prefix_document(
    document: Mapping[str, Any], *, path_prefix: str, name_prefix: str, tag: str
) -> JSONDict:
    """`paths`, `components` and `tags` of one service as they appear in the merged document.

    Security schemes of the service are left out: clients authenticate at the gateway.
    """
    document = rewrite_refs(copy.deepcopy(dict(document)), name_prefix)
    paths: JSONDict = {}
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            if not operation.get("tags"):
                operation["tags"] = [tag]
            if isinstance(operation.get("operationId"), str):
                operation["operationId"] = f"{tag}_{operation['operationId']}"
        paths[path_prefix + path] = item
    components: JSONDict = {}
    for kind, entries in (document.get("components") or {}).items():
        if kind == "securitySchemes" or not isinstance(entries, dict):
            continue
        components[kind] = {f"{name_prefix}{name}": value for name, value in entries.items()}
    tags = [t for t in document.get("tags") or [] if isinstance(t, dict) and "name" in t]
    return {"paths": paths, "components": components, "tags": tags}


def merge_documents(
    documents: Mapping[str, Mapping[str, Any] | None],
    *,
    description: str,
    version: str = "1.0.0",
    own: Mapping[str, Any] | None = None,
) -> JSONDict:
    """The platform's document: `documents` by service name (None: unreachable), and the
    gateway's own operations (`own`, paths kept as they are)."""
    paths: JSONDict = {}
    components: JSONDict = {}
    tags: dict[str, JSONDict] = {}
    services: JSONDict = {}
    unavailable: list[str] = []
    parts: list[tuple[str, JSONDict]] = []
    if own is not None:
        parts.append(
            ("gateway", prefix_document(own, path_prefix="", name_prefix="Gateway", tag="gateway"))
        )
        tags["gateway"] = {
            "name": "gateway",
            "description": "The gateway itself: who am I, the audit log of writes.",
        }
    for service, document in documents.items():
        if document is None:
            unavailable.append(service)
            continue
        info = document.get("info") or {}
        summary = str(info.get("description") or info.get("title") or service).strip()
        tags.setdefault(service, {"name": service, "description": summary.splitlines()[0]})
        services[service] = {"title": info.get("title"), "version": info.get("version")}
        parts.append(
            (
                service,
                prefix_document(
                    document,
                    path_prefix=f"/api/v1/{service}",
                    name_prefix=title_case(service),
                    tag=service,
                ),
            )
        )
    for _, part in parts:
        add_gateway_contract(part["paths"])
        paths.update(part["paths"])
        for kind, entries in part["components"].items():
            components.setdefault(kind, {}).update(entries)
        for tag in part["tags"]:
            tags.setdefault(tag["name"], tag)
    for item in paths.values():  # declare every tag in use, for the document's outline
        for method in HTTP_METHODS:
            operation = item.get(method)
            for tag in operation.get("tags", []) if isinstance(operation, dict) else []:
                if isinstance(tag, str):
                    tags.setdefault(tag, {"name": tag})
    for kind, entries in copy.deepcopy(GATEWAY_COMPONENTS).items():
        components.setdefault(kind, {}).update(entries)
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "CLOCK API",
            "description": description,
            "version": version,
            "x-services": services,
            "x-unavailable-services": unavailable,
        },
        "paths": paths,
        "components": components,
        # Any of the two schemes, or none: anonymous callers may read the public catalogue.
        "security": [{"apiKey": []}, {"bearer": []}, {}],
        "tags": list(tags.values()),
    }


def add_gateway_contract(paths: JSONDict) -> None:
    """What the gateway adds to every service operation: the 429 of its rate limits, the 413
    of its body limit where there is a body, and `Idempotency-Key` on POST and PATCH."""
    for item in paths.values():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("429", {"$ref": "#/components/responses/GatewayTooManyRequests"})
            if "requestBody" in operation:
                responses.setdefault(
                    "413", {"$ref": "#/components/responses/GatewayPayloadTooLarge"}
                )
            if method in ("post", "patch"):
                parameters = operation.setdefault("parameters", [])
                declared = {
                    str(p.get("name", "")).lower()
                    for p in parameters
                    if isinstance(p, dict) and p.get("in") == "header"
                }
                if "idempotency-key" not in declared:
                    parameters.append({"$ref": "#/components/parameters/GatewayIdempotencyKey"})


def iter_refs(node: Any) -> Iterator[str]:
    """Every `$ref` value and discriminator mapping target in a document."""
    if isinstance(node, list):
        for item in node:
            yield from iter_refs(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key == "discriminator" and isinstance(value, dict):
                mapping = value.get("mapping")
                if isinstance(mapping, dict):
                    yield from (v for v in mapping.values() if isinstance(v, str))
                yield from iter_refs(value)
            else:
                yield from iter_refs(value)


def resolve_ref(document: Mapping[str, Any], ref: str) -> Any:
    """The node a local reference (`#/a/b`) points at; KeyError when it points nowhere."""
    if not ref.startswith("#/"):
        raise KeyError(ref)
    node: Any = document
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or token not in node:
            raise KeyError(ref)
        node = node[token]
    return node


async def fetch_document(
    client: httpx.AsyncClient, *, service: str, upstream: Upstream, secret: str, timeout: float
) -> JSONDict | None:
    """A service's own OpenAPI document (from the first replica that answers), or None when
    it cannot be had."""
    headers = {PRINCIPAL_HEADER: sign(ANONYMOUS, secret)}
    request_id = request_id_var.get()
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    response: httpx.Response | None = None
    for base_url in dict.fromkeys(upstream.attempts()):
        try:
            response = await client.get(
                f"{base_url}/openapi.json", headers=headers, timeout=timeout
            )
            break
        except httpx.HTTPError as exc:
            log.warning(
                "service OpenAPI unreachable",
                extra={"service": service, "url": base_url, "error": type(exc).__name__},
            )
    if response is None:
        return None
    if response.status_code != 200:
        log.warning(
            "service OpenAPI refused", extra={"service": service, "status": response.status_code}
        )
        return None
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("paths", {}), dict):
        log.warning("service OpenAPI malformed", extra={"service": service})
        return None
    return document


class MergedOpenApi:
    """The merged document, kept in memory: rebuilt after `ttl` seconds, and on the next request
    whenever a service was unreachable at the last build."""

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[JSONDict | None]],
        *,
        services: list[str],
        description: str,
        own: Callable[[], Mapping[str, Any]] | None = None,
        ttl: float = 300.0,
    ) -> None:
        self._fetch = fetch
        self._services = services
        self._description = description
        self._own = own
        self._ttl = ttl
        self._document: JSONDict | None = None
        self._complete = False
        self._built_at = 0.0
        self._lock = asyncio.Lock()
        self.builds = 0

    def _fresh(self) -> bool:
        return (
            self._document is not None
            and self._complete
            and time.monotonic() - self._built_at < self._ttl
        )

    async def get(self) -> JSONDict:
        if self._fresh():
            assert self._document is not None
            return self._document
        async with self._lock:
            if self._fresh():  # built by the request we waited for
                assert self._document is not None
                return self._document
            documents = await asyncio.gather(*(self._fetch(s) for s in self._services))
            merged = merge_documents(
                dict(zip(self._services, documents, strict=True)),
                description=self._description,
                own=self._own() if self._own is not None else None,
            )
            self._document = merged
            self._complete = not merged["info"]["x-unavailable-services"]
            self._built_at = time.monotonic()
            self.builds += 1
            return merged
