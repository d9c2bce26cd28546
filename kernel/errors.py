"""Domain errors and their RFC 9457 problem documents.

Services raise `DomainError` subclasses; one set of handlers, installed on every app, turns
them (and validation errors, unknown routes, and anything unexpected) into problem+json.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from kernel.context import request_id_var

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://clock.toscana.it/problems/"


class DomainError(Exception):
    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


class InvalidInput(DomainError):
    status, slug, title = 422, "validation-error", "Invalid input"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(DomainError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PreconditionRequired(DomainError):
    status, slug, title = 428, "precondition-required", "Precondition required"


class Unauthenticated(DomainError):
    status, slug, title = 401, "unauthenticated", "Unauthenticated"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class PayloadTooLarge(DomainError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class TooManyRequests(DomainError):
    status, slug, title = 429, "rate-limited", "Too many requests"


class BadGateway(DomainError):
    status, slug, title = 502, "bad-gateway", "Bad gateway"


class ServiceUnavailable(DomainError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


class GatewayTimeout(DomainError):
    status, slug, title = 504, "gateway-timeout", "Gateway timeout"


STATUS_TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    408: "Request timeout",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """A problem+json response; `extra` adds members (never overriding the standard ones)."""
    title = title or STATUS_TITLES.get(status, "Error")
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """One entry per invalid field: where it is, what is wrong, the error type."""
    items = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        items.append(
            {
                "field": ".".join(location[1:]) if len(location) > 1 else ".".join(location),
                "in": location[0] if location else "body",
                "message": error.get("msg", "invalid"),
                "type": error.get("type", "invalid"),
            }
        )
    return items


PROBED_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers at the request's path, sorted (each method
    is probed: routers nest, so the routes of a path are not all at the top level)."""
    routes = request.app.router.routes
    return [
        method
        for method in PROBED_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def domain_problem(exc: DomainError, *, instance: str | None = None) -> JSONResponse:
    """The problem document of a domain error (also for middlewares, which run outside the
    app's exception handlers)."""
    return problem(
        exc.status,
        exc.detail,
        title=exc.title,
        slug=exc.slug,
        errors=exc.errors,
        headers=exc.headers,
        instance=instance,
        extra=exc.extra,
    )


def install_problem_handlers(app: FastAPI) -> None:
    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return domain_problem(exc, instance=request.url.path)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = validation_errors(exc)
        fields = ", ".join(e["field"] or e["in"] for e in errors)
        return problem(
            422,
            f"invalid input: {fields}",
            slug="validation-error",
            errors=errors,
            instance=request.url.path,
        )

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else STATUS_TITLES.get(exc.status_code)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route for {request.method} {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route of the path only; the path may
            # have several (GET, PATCH and DELETE of one resource are three routes).
            methods = allowed_methods(request)
            if methods:
                headers["Allow"] = ", ".join(methods)
                detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        return problem(exc.status_code, str(detail), headers=headers, instance=request.url.path)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "an unexpected error occurred; it has been logged", slug="internal")

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
