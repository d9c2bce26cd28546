"""The regional dashboard: a page with its scripts and styles, served by the gateway at
`/dashboard/`, that reads and writes through the public API like any other client (the key or
token the user signs in with goes in `Authorization`, never in a cookie).

Plain files: no build step, no Node toolchain, nothing loaded from another origin (the platform
may run offline). The charts are SVG drawn by the page's own script. `config.json` tells the
page whether it may send the user to the identity provider to sign in (authorization code with
PKCE) or asks for a key or token to paste.
"""

from __future__ import annotations

import os
from os import PathLike
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from gateway.settings import GatewaySettings

PATH = "/dashboard"
STATIC = Path(__file__).parent / "static"


def policy(settings: GatewaySettings) -> str:
    """Only this origin's own files, no inline script or style (the charts are styled by
    classes); requests to this origin, and to the identity provider's token endpoint when the
    dashboard signs in there."""
    connect = ["'self'"]
    if settings.dashboard_oidc:
        parts = urlsplit(settings.dashboard_oidc["token_endpoint"])
        connect.append(f"{parts.scheme}://{parts.netloc}")
    return (
        "default-src 'none'; "
        "script-src 'self'; "
        "style-src 'self'; "
        "img-src 'self' data: blob:; "
        f"connect-src {' '.join(connect)}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


class DashboardFiles(StaticFiles):
    """The page's files; revalidated on every load (ETag), so an upgrade shows at once."""

    def file_response(
        self,
        full_path: PathLike[str] | str,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        return response


def mount(app: FastAPI, settings: GatewaySettings) -> None:
    async def dashboard() -> RedirectResponse:
        return RedirectResponse(f"{PATH}/", status_code=308)

    async def configuration() -> JSONResponse:
        """How the page signs in: with the identity provider (`oidc`), or with a pasted key."""
        return JSONResponse(
            {"oidc": settings.dashboard_oidc}, headers={"Cache-Control": "no-cache"}
        )

    app.add_api_route(PATH, dashboard, include_in_schema=False, methods=["GET", "HEAD"])
    app.add_api_route(f"{PATH}/config.json", configuration, include_in_schema=False)
    app.mount(f"{PATH}/", DashboardFiles(directory=STATIC, html=True), name="dashboard")
