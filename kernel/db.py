"""Async engines and sessions: one engine per service, one session per request or message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, TypeDecorator, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from kernel.settings import normalise_database_url

READ_ONLY = "clock_read_only"
"""Execution option of an engine whose transactions only read (see `read_only`)."""


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool, for transactions that only read.

    On SQLite they begin DEFERRED: readers share the WAL snapshot instead of queueing behind
    the write lock that `BEGIN IMMEDIATE` takes. A write in such a transaction may fail with
    "database is locked", so only sessions that never write use it. PostgreSQL is unchanged.
    """
    return engine.execution_options(**{READ_ONLY: True})


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An engine with SQLite in WAL mode and foreign keys on, or PostgreSQL on asyncpg."""
    url = normalise_database_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            echo=echo,
            # Opening an aiosqlite connection starts a thread: keep a few open.
            pool_size=5,
            max_overflow=5,
            connect_args={"timeout": 30},
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # aiosqlite opens transactions itself; let SQLAlchemy emit BEGIN so that
            # BEGIN IMMEDIATE below takes the write lock up front and avoids
            # "database is locked" upgrades between concurrent writers.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            reads_only = connection.get_execution_options().get(READ_ONLY, False)
            connection.exec_driver_sql("BEGIN DEFERRED" if reads_only else "BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def create_sessionmaker(
    engine: AsyncEngine, *, reads_only: bool = False
) -> async_sessionmaker[AsyncSession]:
    bind = read_only(engine) if reads_only else engine
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=True)


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the block succeeds, roll back when it raises."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset: stored naive
    in UTC, read back aware). A naive value is refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
