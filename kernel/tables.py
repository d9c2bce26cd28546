"""Tables the kernel keeps in every service's database.

Outbox, inbox, projection versions, dead letters, leases and idempotency keys.

They live in their own MetaData; a service's first migration creates them with
`kernel.migrations.create_messaging_tables`, and its Alembic env targets both metadatas.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

messaging_metadata = MetaData()

# BigInteger autoincrement on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
SequenceId = BigInteger().with_variant(Integer(), "sqlite")

outbox = Table(
    "outbox",
    messaging_metadata,
    Column("seq", SequenceId, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("aggregate_id", String(200), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("stream_seq", BigInteger, nullable=True),
    Index(
        "ix_outbox_pending",
        "seq",
        sqlite_where=text("sent_at IS NULL"),
        postgresql_where=text("sent_at IS NULL"),
    ),
)

inbox = Table(
    "inbox",
    messaging_metadata,
    Column("consumer", String(100), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("stream_seq", BigInteger, nullable=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
)

projection_versions = Table(
    "projection_versions",
    messaging_metadata,
    Column("consumer", String(100), nullable=False),
    Column("aggregate", String(200), nullable=False),
    Column("aggregate_id", String(200), nullable=False),
    Column("version", BigInteger, nullable=False),
    PrimaryKeyConstraint("consumer", "aggregate", "aggregate_id", name="pk_projection_versions"),
)

dead_letters = Table(
    "dead_letters",
    messaging_metadata,
    Column("id", SequenceId, primary_key=True, autoincrement=True),
    Column("consumer", String(100), nullable=False),
    Column("stream", String(100), nullable=False),
    Column("stream_seq", BigInteger, nullable=True),
    Column("subject", String(200), nullable=False),
    Column("event_id", String(36), nullable=True),
    Column("payload", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("deliveries", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

leases = Table(
    "leases",
    messaging_metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    messaging_metadata,
    Column("key", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", Integer, nullable=True),
    Column("headers", Text, nullable=True),
    Column("body", LargeBinary, nullable=True),
    Index("ix_idempotency_keys_created_at", "created_at"),
)
