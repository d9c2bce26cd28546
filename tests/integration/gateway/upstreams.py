"""Small services with real OpenAPI documents: models referring to each other, a discriminated
union, and a model name both services use."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import FastAPI
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
