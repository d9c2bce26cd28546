"""Databases on a PostgreSQL server, for runs that make their own (`clock cluster`, chaos and
benchmark runs on PostgreSQL): create them if missing, drop them after."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def with_database(url: str, name: str) -> str:
    """`url` (any database of the server) pointing at database `name`; query kept."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    plain = url.replace("+asyncpg", "").replace("+psycopg", "")
    return psycopg.connect(plain, autocommit=True, connect_timeout=10)


def _checked(names: Sequence[str]) -> None:
    for name in names:
        if not NAME.match(name):
            raise ValueError(f"not a database name for CLOCK: {name!r} (a-z, 0-9, _)")


def create_databases(url: str, names: Sequence[str]) -> list[str]:
    """Create the databases of `names` that do not exist; returns those created."""
    _checked(names)
    created = []
    with _admin(url) as connection:
        existing = {
            row[0] for row in connection.execute("SELECT datname FROM pg_database").fetchall()
        }
        for name in names:
            if name not in existing:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                created.append(name)
    return created


def drop_databases(url: str, names: Sequence[str]) -> None:
    """Drop the databases of `names` (closing what is still connected to them)."""
    _checked(names)
    with _admin(url) as connection:
        for name in names:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
