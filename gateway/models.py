"""SQLAlchemy models of the gateway: API keys, Idempotency-Keys and the audit log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Boolean, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kernel.db import UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    """A client's API key. Only the hash of its secret part is kept; `prefix` is its public id."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    prefix: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    """sha256 hex digest of the secret part of the key."""
    role: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class IdempotencyRecord(Base):
    """A request sent with an `Idempotency-Key`, and once it is done the response to replay.

    One row per (caller, key): `scope` is a digest of who called (API key, token subject, or
    client IP when anonymous), so two callers using the same key never meet.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    """sha256 hex digest of method, path, query and body."""
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2000))
    state: Mapped[str] = mapped_column(String(16))
    """`in_progress` while the first request runs, then `completed`."""
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime())
    """An `in_progress` row older than this was left by a gateway that died: it may be taken."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_headers: Mapped[str | None] = mapped_column(Text, nullable=True)
    """JSON list of [name, value] pairs."""
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class AuditEntry(Base):
    """One write (POST, PUT, PATCH, DELETE) through the gateway, whatever its outcome."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_occurred_at_id", "occurred_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    """UUIDv7: sortable by time."""
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    role: Mapped[str] = mapped_column(String(20))
    key_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """`sub` of a bearer token (None for API keys and anonymous callers)."""
    org_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2000))
    query: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    idempotent_replay: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
