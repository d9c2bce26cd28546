"""A lease in the service's database: one holder at a time among replicas of a service.

The outbox relay and each consumer take one, so that with several replicas running, events are
published and applied by one of them at a time, in order. A holder that dies loses its lease
after `ttl` seconds and another replica takes over.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.tables import leases


def holder_id() -> str:
    """Unique per process and instance: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        name: str,
        ttl: float,
        holder: str | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.name = name
        self.ttl = ttl
        self.holder = holder or holder_id()
        self._valid_until: datetime | None = None

    @property
    def held(self) -> bool:
        """Held and not about to expire (a third of the ttl is kept as margin)."""
        return self._valid_until is not None and datetime.now(UTC) < self._valid_until

    async def acquire(self) -> bool:
        """Take or renew the lease; True when this instance holds it."""
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=self.ttl)
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(leases)
                .where(leases.c.name == self.name)
                .where(or_(leases.c.holder == self.holder, leases.c.expires_at < now))
                .values(holder=self.holder, expires_at=expires)
            )
            taken = bool(result.rowcount == 1)  # type: ignore[attr-defined]
            if not taken:
                try:
                    await session.execute(
                        insert(leases).values(
                            name=self.name, holder=self.holder, expires_at=expires
                        )
                    )
                    taken = True
                except IntegrityError:
                    taken = False
            if taken:
                await session.commit()
                self._valid_until = now + timedelta(seconds=self.ttl * 2 / 3)
            else:
                await session.rollback()
                self._valid_until = None
        return taken

    async def steal(self) -> None:
        """Take the lease whoever holds it. The previous holder notices within two thirds of
        the ttl (when it next renews) and stops; wait `ttl` before relying on exclusivity."""
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=self.ttl)
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(leases)
                .where(leases.c.name == self.name)
                .values(holder=self.holder, expires_at=expires)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                await session.execute(
                    insert(leases).values(name=self.name, holder=self.holder, expires_at=expires)
                )
            await session.commit()
        self._valid_until = now + timedelta(seconds=self.ttl * 2 / 3)

    async def release(self) -> None:
        async with self.sessionmaker() as session:
            await session.execute(
                update(leases)
                .where(leases.c.name == self.name, leases.c.holder == self.holder)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()
        self._valid_until = None
