"""HTTP routes of the matching service (mounted by the gateway at /api/v1/matching)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
