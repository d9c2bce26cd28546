"""Cursor pagination in (created, id) order, and ETags (copied from the membership service)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def etag(*versions: int) -> str:
    return '"' + ".".join(str(v) for v in versions) + '"'


def encode_cursor(created_at: datetime, key: str) -> str:
    raw = json.dumps([created_at.isoformat(), key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, key = json.loads(raw)
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None or not isinstance(key, str):
            raise ValueError("bad cursor")
        return moment, key
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInput(
            "invalid cursor: pass the next_cursor of a previous page",
            errors=[
                {"field": "cursor", "in": "query", "message": "invalid cursor", "type": "cursor"}
            ],
        ) from exc


async def page(
    session: AsyncSession,
    statement: Select,  # type: ignore[type-arg]
    *,
    created: Any,
    key: Any,
    limit: int,
    cursor: str | None,
    position: Callable[[Any], tuple[datetime, str]],
    newest_first: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of `statement` in (created, key) order, or the reverse with `newest_first`;
    `position(row)` gives a row's pair."""
    if cursor:
        after_created, after_key = decode_cursor(cursor)
        statement = statement.where(
            or_(created < after_created, and_(created == after_created, key < after_key))
            if newest_first
            else or_(created > after_created, and_(created == after_created, key > after_key))
        )
    order = (created.desc(), key.desc()) if newest_first else (created, key)
    rows = list((await session.execute(statement.order_by(*order).limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(*position(rows[-1]))
    return rows, next_cursor
