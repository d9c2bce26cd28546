"""HTTP routes of the reporting service (mounted by the gateway at /api/v1/reporting)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
