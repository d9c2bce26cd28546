"""HTTP routes of the membership service (mounted by the gateway at /api/v1/membership)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
