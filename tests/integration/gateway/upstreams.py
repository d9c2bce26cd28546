"""Small services with real OpenAPI documents: models referring to each other, a discriminated
union, and a model name both services use."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Literal

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


class Tags(BaseModel):
    ateco: list[str] = []
    s3: list[str] = []


class Lab(BaseModel):
    id: str
    name: str
    tags: Tags


class Page(BaseModel):
    items: list[Lab]
    next_cursor: str | None = None


class Equipment(BaseModel):
    entity: Literal["equipment"] = "equipment"
    name: str


class Service(BaseModel):
    entity: Literal["service"] = "service"
    kind: str


class Item(BaseModel):
    """Same name as matching's `Item`: the merged document must keep both."""

    hit: Annotated[Equipment | Service, Field(discriminator="entity")]


def catalog_like() -> FastAPI:
    app = FastAPI(title="Catalog-like", description="Labs and what they offer.", version="1.2.0")

    @app.get("/labs", response_model=Page)
    async def list_labs(limit: int = 20) -> Page:
        return Page(items=[])

    @app.post("/labs", response_model=Lab, status_code=201)
    async def create_lab(lab: Lab) -> Lab:
        return lab

    @app.get("/search", response_model=list[Item], tags=["search"])
    async def search(q: str) -> list[Item]:
        return []

    return app


class Need(BaseModel):
    text: str
    tags: Tags | None = None


class Demand(BaseModel):
    title: str
    needs: list[Need]


class MatchItem(BaseModel):
    lab_id: str
    score: float


def matching_like() -> FastAPI:
    app = FastAPI(title="Matching-like", description="Demands and matches.")

    @app.post("/demands", response_model=Demand, status_code=201)
    async def create_lab(demand: Demand) -> Demand:  # same function name as catalog's
        return demand

    @app.get("/demands/{demand_id}/matches", response_model=list[MatchItem])
    async def matches(demand_id: str) -> list[MatchItem]:
        return []

    class Item(BaseModel):
        demand: Demand

    @app.get("/items", response_model=list[Item])
    async def items() -> list[Item]:
        return []

    return app


def demands_service() -> FastAPI:
    """A matching-like service that creates demands and counts them; `app.state.gate` holds
    each creation until it is set, `app.state.fail_next` answers the next creation with 503."""
    app = FastAPI(title="Demands")
    app.state.demands = {}
    app.state.received = 0
    app.state.gate = asyncio.Event()
    app.state.gate.set()
    app.state.fail_next = False

    @app.post("/demands", status_code=201)
    async def create(request: Request) -> Response:
        app.state.received += 1
        payload = await request.json()
        await app.state.gate.wait()
        if app.state.fail_next:
            app.state.fail_next = False
            return JSONResponse({"detail": "database down"}, status_code=503)
        if not payload.get("title"):
            return JSONResponse({"detail": "title is required"}, status_code=422)
        demand_id = str(uuid.uuid4())
        app.state.demands[demand_id] = payload
        return JSONResponse(
            {"id": demand_id, "title": payload["title"], "status": "open"},
            status_code=201,
            headers={
                "Location": f"/demands/{demand_id}",
                "ETag": '"1"',
                "Set-Cookie": "tracking=1",
                "X-Powered-By": "Demands/1.0",
            },
        )

    @app.patch("/demands/{demand_id}")
    async def update(demand_id: str, request: Request) -> Response:
        app.state.received += 1
        app.state.demands[demand_id] = {**app.state.demands.get(demand_id, {}), "patched": True}
        return JSONResponse({"id": demand_id, "version": app.state.received})

    @app.api_route("/demands/{demand_id}", methods=["GET", "PUT", "DELETE"])
    async def other(demand_id: str) -> Response:
        app.state.received += 1
        return JSONResponse({"id": demand_id, "seen": app.state.received})

    return app
