"""Rate limits per caller, and the slowing down of failed authentications per client IP.

Counters are moving windows (`limits`, async storages): in this process (`memory://`) or in
Redis (`redis://...`), shared by every gateway replica. A caller is its API key, its token
subject, or — anonymous — its client IP; the limit depends on its role.

When the storage cannot be reached the gateway lets requests through (and logs it): a broken
counter must not take the platform down.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from gateway.settings import GatewaySettings
from kernel.principal import Role

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 1.0
"""Seconds to wait for Redis before letting the request through."""


@dataclass(frozen=True)
class Quota:
    """Where a caller stands against its limit after a request."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: int
    """Seconds until a request is allowed again (one more slot frees in the window)."""
    window: int
    """Seconds of the window."""

    def headers(self) -> dict[str, str]:
        """`RateLimit-*` fields (draft-ietf-httpapi-ratelimit-headers), and `Retry-After`
        when refused."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after),
            "RateLimit-Policy": f"{self.limit};w={self.window}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset_after))
        return headers


def storage_from_uri(uri: str, *, key_prefix: str) -> Storage:
    """`memory://` or `redis://host:port/db` (also `rediss://`, `redis+unix://`)."""
    if uri.startswith("memory://"):
        return MemoryStorage(wrap_exceptions=True)
    return RedisStorage(
        f"async+{uri}",
        implementation="redispy",
        key_prefix=key_prefix,
        wrap_exceptions=True,
        socket_connect_timeout=REDIS_TIMEOUT,
        socket_timeout=REDIS_TIMEOUT,
    )


class RateLimiter:
    def __init__(
        self,
        storage: Storage,
        *,
        per_role: Mapping[Role, Sequence[RateLimitItem]],
        auth_failures: RateLimitItem,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.per_role = {role: list(items) for role, items in per_role.items()}
        self.auth_failures = auth_failures
        self._strategy = MovingWindowRateLimiter(storage)
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> RateLimiter:
        return cls(
            storage_from_uri(
                settings.rate_limit_storage, key_prefix=settings.rate_limit_key_prefix
            ),
            per_role={role: parse_many(settings.rate_limit_for(role)) for role in Role},
            auth_failures=parse(settings.auth_failure_limit),
        )

    def _seconds_until(self, reset: float) -> int:
        return max(0, math.ceil(reset - self._clock()))

    async def hit(self, role: Role, identity: str) -> Quota | None:
        """Count one request of `identity`; the tightest quota, not allowed past a limit.

        None when the storage failed (the request goes on)."""
        try:
            tightest: Quota | None = None
            for item in self.per_role[role]:
                allowed = await self._strategy.hit(item, "request", role.value, identity)
                stats = await self._strategy.get_window_stats(item, "request", role.value, identity)
                quota = Quota(
                    allowed=allowed,
                    limit=item.amount,
                    remaining=max(0, stats.remaining),
                    reset_after=self._seconds_until(stats.reset_time),
                    window=item.get_expiry(),
                )
                if not allowed:
                    return quota
                if tightest is None or quota.remaining < tightest.remaining:
                    tightest = quota
            return tightest
        except Exception as exc:
            self._storage_failed(exc)
            return None

    async def auth_retry_after(self, client_ip: str) -> int | None:
        """Seconds `client_ip` must wait before trying credentials again, None when it may."""
        item = self.auth_failures
        try:
            if await self._strategy.test(item, "auth-failure", client_ip):
                return None
            stats = await self._strategy.get_window_stats(item, "auth-failure", client_ip)
        except Exception as exc:
            self._storage_failed(exc)
            return None
        return max(1, self._seconds_until(stats.reset_time))

    async def auth_failed(self, client_ip: str) -> None:
        """Count a failed authentication of `client_ip`."""
        try:
            await self._strategy.hit(self.auth_failures, "auth-failure", client_ip)
        except Exception as exc:
            self._storage_failed(exc)

    def _storage_failed(self, exc: Exception) -> None:
        log.warning(
            "rate limit storage unavailable: request let through",
            extra={"error": type(exc).__name__},
        )

    async def close(self) -> None:
        """Close the connections of a Redis storage."""
        bridge: Any = getattr(self.storage, "bridge", None)
        client: Any = getattr(bridge, "storage", None)
        if client is not None and hasattr(client, "aclose"):
            try:
                await client.aclose()
            except Exception as exc:
                log.warning("rate limit storage did not close", extra={"error": repr(exc)})
