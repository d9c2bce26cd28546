"""`Idempotency-Key` on POST and PATCH: the first response is kept and replayed.

A key is scoped to its caller (API key, token subject, or client IP when anonymous) and bound to
a fingerprint of the request (method, path, query and body):

- the first request with a key claims it (a row `in_progress`), runs, and stores its response
  when the status is below 500 (a 5xx or a failed upstream releases the key: the client may
  retry);
- the same key and request again gets the stored response, with `Idempotent-Replayed: true`;
- the same key with another request is a 422; while the first one runs, a 409 with
  `Retry-After` (one operation runs, never two);
- keys expire after `CLOCK_GATEWAY_IDEMPOTENCY_TTL`, and are purged.

A claim left by a gateway that died is taken over once its lock (the route's upstream timeout
and a margin) has passed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response

from gateway.models import IdempotencyRecord, utcnow
from kernel.errors import Conflict, InvalidInput, ServiceUnavailable

log = logging.getLogger(__name__)

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENT_METHODS = frozenset({"POST", "PATCH"})
KEY_MAX_LENGTH = 255
KEY_PATTERN = r"^[\x21-\x7E]{1,255}$"
_KEY_OK = re.compile(KEY_PATTERN)
IN_PROGRESS, COMPLETED = "in_progress", "completed"
LOCK_MARGIN = 30.0
"""Seconds a claim outlives the route's upstream timeout before another request may take it."""

# Response headers that belong to one answer, not to the replayed one.
_NOT_STORED = frozenset(
    {
        "content-length",
        "date",
        "server",
        "set-cookie",
        "x-request-id",
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "ratelimit-policy",
        REPLAYED_HEADER.lower(),
    }
)


def parse_key(value: str) -> str:
    """The key as sent; InvalidInput unless 1 to 255 visible ASCII characters."""
    if not _KEY_OK.match(value):
        raise InvalidInput(
            f"{KEY_HEADER} must be 1 to {KEY_MAX_LENGTH} visible ASCII characters "
            "(a UUID is a good choice)",
            errors=[
                {
                    "field": KEY_HEADER,
                    "in": "header",
                    "message": f"1 to {KEY_MAX_LENGTH} visible ASCII characters",
                    "type": "string_pattern_mismatch",
                }
            ],
        )
    return value


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests with one key the same request."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode("latin-1"), query.encode("latin-1")):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    digest.update(body)
    return digest.hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @classmethod
    def of(cls, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> StoredResponse:
        kept = [(name.lower(), value) for name, value in headers if name.lower() not in _NOT_STORED]
        return cls(status, kept, body)

    def to_response(self, *, replayed: bool) -> Response:
        response = Response(content=self.body, status_code=self.status)
        response.raw_headers = [
            *((name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers),
            (b"content-length", str(len(self.body)).encode()),
        ]
        if replayed:
            response.raw_headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
        return response


@dataclass(frozen=True)
class Claim:
    """The right to run the request of a key (the row is `in_progress`)."""

    record_id: str


class KeyReused(InvalidInput):
    pass


class RequestInProgress(Conflict):
    pass


class IdempotencyStore:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        ttl: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.ttl = timedelta(seconds=ttl)
        self.clock = clock

    async def begin(
        self,
        *,
        scope: str,
        key: str,
        fingerprint: str,
        method: str,
        path: str,
        lock_for: float,
    ) -> Claim | StoredResponse:
        """A claim to run the request, or the stored response to replay; KeyReused (422),
        RequestInProgress (409) or ServiceUnavailable (503: the store cannot be reached)."""
        try:
            for _ in range(3):
                outcome = await self._attempt(scope, key, fingerprint, method, path, lock_for)
                if outcome is not None:
                    return outcome
        except SQLAlchemyError as exc:
            log.error("idempotency store unavailable", extra={"error": type(exc).__name__})
            raise ServiceUnavailable(
                f"{KEY_HEADER} cannot be checked right now; try again shortly"
            ) from None
        raise self._in_progress()

    async def _attempt(
        self, scope: str, key: str, fingerprint_: str, method: str, path: str, lock_for: float
    ) -> Claim | StoredResponse | None:
        now = self.clock()
        lock = now + timedelta(seconds=lock_for)
        async with self.sessionmaker() as session:
            record = IdempotencyRecord(
                id=str(uuid.uuid4()),
                scope=scope,
                key=key,
                fingerprint=fingerprint_,
                method=method.upper(),
                path=path[:2000],
                state=IN_PROGRESS,
                locked_until=lock,
                created_at=now,
                expires_at=now + self.ttl,
            )
            session.add(record)
            try:
                await session.commit()
                return Claim(record.id)
            except IntegrityError:
                await session.rollback()
        async with self.sessionmaker() as session:
            existing = await session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
                )
            )
            if existing is None:  # expired and purged meanwhile
                return None
            if existing.expires_at <= now:
                await session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.id == existing.id, IdempotencyRecord.expires_at <= now
                    )
                )
                await session.commit()
                return None
            if existing.fingerprint != fingerprint_:
                raise KeyReused(
                    f"this {KEY_HEADER} was used with another request (method, path or body); "
                    "use a new key for a new request",
                    errors=[
                        {
                            "field": KEY_HEADER,
                            "in": "header",
                            "message": "already used with another request",
                            "type": "idempotency_key_reused",
                        }
                    ],
                )
            if existing.state == COMPLETED and existing.response_status is not None:
                return StoredResponse(
                    existing.response_status,
                    [(str(k), str(v)) for k, v in json.loads(existing.response_headers or "[]")],
                    existing.response_body or b"",
                )
            if existing.locked_until > now:
                raise self._in_progress()
            taken = await session.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.id == existing.id,
                    IdempotencyRecord.state == IN_PROGRESS,
                    IdempotencyRecord.locked_until <= now,
                )
                .values(locked_until=lock)
            )
            await session.commit()
            if getattr(taken, "rowcount", 0) == 1:
                log.warning("abandoned Idempotency-Key taken over", extra={"key_id": existing.id})
                return Claim(existing.id)
            return None

    def _in_progress(self) -> RequestInProgress:
        return RequestInProgress(
            f"a request with this {KEY_HEADER} is in progress; retry when it has finished",
            headers={"Retry-After": "1"},
        )

    async def complete(self, claim: Claim, response: StoredResponse) -> None:
        """Keep the response for replays (a store failure is logged: the client still gets
        its answer, and the key stays claimed until its lock passes)."""
        try:
            async with self.sessionmaker() as session:
                await session.execute(
                    update(IdempotencyRecord)
                    .where(IdempotencyRecord.id == claim.record_id)
                    .values(
                        state=COMPLETED,
                        completed_at=self.clock(),
                        response_status=response.status,
                        response_headers=json.dumps(response.headers),
                        response_body=response.body,
                    )
                )
                await session.commit()
        except SQLAlchemyError as exc:
            log.error(
                "idempotent response not stored",
                extra={"error": type(exc).__name__, "record": claim.record_id},
            )

    async def release(self, claim: Claim) -> None:
        """Forget the claim: the request failed (5xx or no answer) and may be retried."""
        try:
            async with self.sessionmaker() as session:
                await session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.id == claim.record_id,
                        IdempotencyRecord.state == IN_PROGRESS,
                    )
                )
                await session.commit()
        except SQLAlchemyError as exc:
            log.error(
                "idempotency claim not released",
                extra={"error": type(exc).__name__, "record": claim.record_id},
            )

    async def purge(self) -> int:
        """Delete expired keys; how many."""
        async with self.sessionmaker() as session:
            result = await session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= self.clock())
            )
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
