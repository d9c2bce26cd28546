"""The audit log: every write through the gateway, whatever its outcome.

`AuditLog` (ASGI middleware) records each POST, PUT, PATCH and DELETE once its response has
been sent: who (role, API key id or token subject, organisation), what (method, path, query),
the status, the request id, the client IP, when, and whether an Idempotency-Key replayed it.
A failure to write the row is logged and never fails the request.

`list_entries` serves `GET /api/v1/audit` (newest first, keyset pagination with an opaque
cursor).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime

import anyio
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uuid6 import uuid7

from gateway.guard import caller_of, client_ip
from gateway.models import AuditEntry, utcnow
from gateway.state import state_of
from kernel.context import request_id_var
from kernel.errors import InvalidInput
from kernel.principal import Role

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WRITE_TIMEOUT = 5.0
"""Seconds an audit row may take to write before it is given up (and logged)."""


@dataclass
class Observed:
    status: int = 500


class AuditLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        occurred_at = utcnow()
        started = time.perf_counter()
        observed = Observed()
        request_id = request_id_var.get()

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                observed.status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            with anyio.move_on_after(WRITE_TIMEOUT, shield=True):
                await self._record(
                    scope,
                    occurred_at=occurred_at,
                    status=observed.status,
                    request_id=request_id,
                    duration_ms=round((time.perf_counter() - started) * 1000),
                )

    async def _record(
        self,
        scope: Scope,
        *,
        occurred_at: datetime,
        status: int,
        request_id: str | None,
        duration_ms: int,
    ) -> None:
        state = state_of(scope)
        if state is None:
            return
        caller = caller_of(scope)
        principal = caller.principal if caller is not None else None
        query = scope.get("query_string", b"").decode("latin-1")
        entry = AuditEntry(
            id=str(uuid7()),
            occurred_at=occurred_at,
            role=principal.role.value if principal else Role.ANONYMOUS.value,
            key_id=principal.key_id if principal else None,
            subject=caller.subject[:255] if caller and caller.subject else None,
            org_id=principal.org_id if principal else None,
            method=scope["method"],
            path=scope["path"][:2000],
            query=query or None,
            status=status,
            request_id=request_id,
            client_ip=(client_ip(scope) or "")[:64] or None,
            idempotent_replay=bool(scope.get("state", {}).get("idempotent_replay")),
            duration_ms=duration_ms,
        )
        try:
            await write_entry(state.sessionmaker, entry)
        except Exception as exc:
            log.error(
                "audit entry not written",
                extra={
                    "error": type(exc).__name__,
                    "method": entry.method,
                    "path": entry.path,
                    "status": entry.status,
                    "role": entry.role,
                    "audit_key_id": entry.key_id,
                },
            )


async def write_entry(sessionmaker: async_sessionmaker[AsyncSession], entry: AuditEntry) -> None:
    async with sessionmaker() as session:
        session.add(entry)
        await session.commit()


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    org_id: str | None = None
    role: str | None = None
    method: str | None = None
    status: int | None = None
    path_prefix: str | None = None


def encode_cursor(entry: AuditEntry) -> str:
    raw = json.dumps([entry.occurred_at.isoformat(), entry.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        occurred_at, entry_id = json.loads(raw)
        moment = datetime.fromisoformat(occurred_at)
        if moment.tzinfo is None or not isinstance(entry_id, str):
            raise ValueError(cursor)
        return moment, entry_id
    except (ValueError, TypeError, binascii.Error):
        raise InvalidInput(
            "invalid cursor: pass the next_cursor of a previous page",
            errors=[
                {"field": "cursor", "in": "query", "message": "invalid cursor", "type": "value"}
            ],
        ) from None


async def list_entries(
    session: AsyncSession, filters: AuditFilter, *, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """A page of entries, newest first, and the cursor of the next page (None: last page)."""
    query = select(AuditEntry)
    if filters.since is not None:
        query = query.where(AuditEntry.occurred_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEntry.occurred_at < filters.until)
    if filters.org_id is not None:
        query = query.where(AuditEntry.org_id == filters.org_id)
    if filters.role is not None:
        query = query.where(AuditEntry.role == filters.role)
    if filters.method is not None:
        query = query.where(AuditEntry.method == filters.method)
    if filters.status is not None:
        query = query.where(AuditEntry.status == filters.status)
    if filters.path_prefix:
        query = query.where(AuditEntry.path.startswith(filters.path_prefix, autoescape=True))
    if cursor is not None:
        occurred_at, entry_id = decode_cursor(cursor)
        query = query.where(
            or_(
                AuditEntry.occurred_at < occurred_at,
                and_(AuditEntry.occurred_at == occurred_at, AuditEntry.id < entry_id),
            )
        )
    query = query.order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc()).limit(limit + 1)
    rows = list(await session.scalars(query))
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1])
    return rows, None
