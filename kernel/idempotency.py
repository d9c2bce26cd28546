"""Idempotent writes in the service: the effect and the key commit in one transaction.

The gateway keeps a client's `Idempotency-Key` and replays the answer it stored. When a service
dies between its commit and its answer, the gateway got none (502/504) and cannot tell whether
the write happened; a retry must not apply it twice. So the gateway also passes the key
(scoped to the caller, hashed) and the request's fingerprint to the service, and here:

- the first commit of the request's transaction inserts the key (`before_commit` of the
  runtime's sessions): the key exists if and only if the effect does;
- once the answer is built, it is stored with the key (a second transaction);
- a request that finds its key answers with the stored answer (`Idempotent-Replayed: true`),
  or, when the service died before it could store it, with 409 `already-applied`: the write
  happened once; read the resource to see it. A different request with the same key is a 422.

A request that commits nothing (refused, invalid) leaves no key: retrying it runs it again.
Keys are deleted after `ttl` seconds.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.errors import problem
from kernel.tables import idempotency_keys

log = logging.getLogger(__name__)

KEY_HEADER = "X-Clock-Idempotency-Key"
FINGERPRINT_HEADER = "X-Clock-Idempotency-Fingerprint"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_STORED_BODY = 1024 * 1024
# Headers of one answer only, not of its replay.
_NOT_STORED = frozenset({b"content-length", b"date", b"server", b"x-request-id"})


@dataclass
class Claim:
    key: str
    fingerprint: str
    recorded: bool = False


claim_var: ContextVar[Claim | None] = ContextVar("clock_idempotency_claim", default=None)


def record_claim(session: Session) -> None:
    """`before_commit` of a service's sessions: the request's key joins its first commit."""
    claim = claim_var.get()
    if claim is None or claim.recorded:
        return
    session.execute(
        insert(idempotency_keys).values(
            key=claim.key, fingerprint=claim.fingerprint, created_at=datetime.now(UTC)
        )
    )
    claim.recorded = True


class IdempotentWrites:
    """ASGI middleware of a service: replays or refuses a write whose key it already holds."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        sessionmakers: Callable[[], tuple[async_sessionmaker[AsyncSession], ...] | None],
        ttl: float = 86_400.0,
    ) -> None:
        self.app = app
        self.sessionmakers = sessionmakers
        self.ttl = ttl
        self._next_purge = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        key = headers.get(KEY_HEADER.lower().encode())
        fingerprint = headers.get(FINGERPRINT_HEADER.lower().encode(), b"")
        makers = self.sessionmakers()
        if key is None or makers is None:
            await self.app(scope, receive, send)
            return
        reader, writer = makers
        claim = Claim(key.decode("latin-1")[:64], fingerprint.decode("latin-1")[:64])
        async with reader() as session:
            stored = (
                await session.execute(
                    select(idempotency_keys).where(idempotency_keys.c.key == claim.key)
                )
            ).first()
            await session.rollback()
        if stored is not None:
            await self._answer_again(stored, claim, scope, receive, send)
            return

        answer = _Recorder(send)
        token = claim_var.set(claim)
        try:
            await self.app(scope, receive, answer.send)
        finally:
            claim_var.reset(token)
        if claim.recorded and answer.storable:
            await self._store(writer, claim, answer)
        await self._purge(writer)

    async def _answer_again(
        self, stored: Any, claim: Claim, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if stored.fingerprint != claim.fingerprint:
            response = problem(
                422,
                "this Idempotency-Key was used for another request",
                slug="idempotency-key-reused",
            )
        elif stored.status is None:
            response = problem(
                409,
                "this request was applied once already, but its answer was lost: "
                "read the resource to see the result",
                slug="already-applied",
            )
        else:
            headers = [
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(stored.headers)
            ]
            await send(
                {
                    "type": "http.response.start",
                    "status": stored.status,
                    "headers": [*headers, (REPLAYED_HEADER.lower().encode(), b"true")],
                }
            )
            await send({"type": "http.response.body", "body": stored.body or b""})
            return
        await response(scope, receive, send)

    async def _store(
        self, writer: async_sessionmaker[AsyncSession], claim: Claim, answer: _Recorder
    ) -> None:
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in answer.headers
            if k.lower() not in _NOT_STORED
        ]
        try:
            async with writer() as session:
                await session.execute(
                    update(idempotency_keys)
                    .where(idempotency_keys.c.key == claim.key)
                    .values(status=answer.status, headers=json.dumps(headers), body=answer.body)
                )
                await session.commit()
        except Exception:  # the effect is there; a retry gets 409 instead of the answer
            log.warning("idempotent answer not stored", exc_info=True)

    async def _purge(self, writer: async_sessionmaker[AsyncSession]) -> None:
        now = time.monotonic()
        if now < self._next_purge:
            return
        self._next_purge = now + min(self.ttl, 3600.0)
        cutoff = datetime.now(UTC) - timedelta(seconds=self.ttl)
        try:
            async with writer() as session:
                await session.execute(
                    delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff)
                )
                await session.commit()
        except Exception:
            log.warning("idempotency keys not purged", exc_info=True)


class _Recorder:
    """Passes the answer on and keeps a copy of it."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self._chunks: list[bytes] = []
        self._size = 0

    @property
    def body(self) -> bytes:
        return b"".join(self._chunks)

    @property
    def storable(self) -> bool:
        return 0 < self.status < 500 and self._size <= MAX_STORED_BODY

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            self._size += len(chunk)
            if self._size <= MAX_STORED_BODY:
                self._chunks.append(chunk)
        await self._send(message)
