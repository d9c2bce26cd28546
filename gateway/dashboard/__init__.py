"""The regional dashboard: a page with its scripts and styles, served by the gateway at
`/dashboard/`, that reads and writes through the public API like any other client (the key or
token the user signs in with goes in `Authorization`, never in a cookie).

Plain files: no build step, no Node toolchain, nothing loaded from another origin (the platform
may run offline). The charts are SVG drawn by the page's own script.
"""

from __future__ import annotations

import os
from os import PathLike
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

PATH = "/dashboard"
STATIC = Path(__file__).parent / "static"
# Only this origin's own files; no inline script or style (charts set styles through the DOM).
CSP = (
    "default-src 'none'; "
    "script-src 'self'; "
    "style-src 'self'; "
    "img-src 'self' data: blob:; "
    "connect-src 'self'; "
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


def mount(app: FastAPI) -> None:
    async def dashboard() -> RedirectResponse:
        return RedirectResponse(f"{PATH}/", status_code=308)

    app.add_api_route(PATH, dashboard, include_in_schema=False, methods=["GET", "HEAD"])
    app.mount(f"{PATH}/", DashboardFiles(directory=STATIC, html=True), name="dashboard")
