"""HTTP routes of the catalog service (mounted by the gateway at /api/v1/catalog)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
