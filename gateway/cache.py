"""A shared cache of public answers, as a reverse proxy or CDN keeps them.

A service marks an answer anyone may see with `Cache-Control: public, max-age=N` (the
catalogue does so for anonymous reads). The gateway keeps such an answer to an anonymous GET for
N seconds and serves it again to anonymous callers without calling the service: the public
catalogue is the most read part of the platform, and the same pages are read over and over.

- Only anonymous callers read or fill it: an authenticated caller may see more than the public
  (a centre its drafts), and its answers are `no-store`.
- The key is the service, the raw path and query, and the request headers an answer may vary
  by (Accept, Accept-Language, Accept-Encoding); an answer that varies by anything else, sets a
  cookie, or is larger than `max_body` is not kept.
- Conditional and range requests go to the service; so does `Cache-Control: no-cache` from
  the client, and the fresh answer replaces the kept one.
- A successful write through this gateway to a service drops that service's entries; changes
  that arrive by events (a member suspended) show within max-age. Each gateway replica keeps
  its own cache.
- Bounded: at most `max_entries` answers, least recently used dropped first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter
from starlette.datastructures import Headers
from starlette.responses import Response

CACHEABLE_VARY = frozenset({"accept", "accept-language", "accept-encoding"})
BYPASS_HEADERS = ("if-none-match", "if-modified-since", "if-match", "if-range", "range")
CACHE_STATUS_HEADER = "X-Cache"
LOOKUPS = Counter(
    "clock_gateway_public_cache_lookups_total",
    "Anonymous GETs looked up in the public cache",
    ["outcome"],
)


@dataclass(frozen=True)
class CachedAnswer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    stored_at: float
    expires_at: float

    def response(self, now: float) -> Response:
        response = Response(self.body, status_code=self.status)
        age = str(int(now - self.stored_at)).encode()
        response.raw_headers = [
            *self.headers,
            (b"age", age),
            (CACHE_STATUS_HEADER.lower().encode(), b"HIT"),
        ]
        return response


def max_age_of(cache_control: str) -> int | None:
    """Seconds a shared cache may keep the answer; None when it may not."""
    directives: dict[str, str] = {}
    for part in cache_control.lower().split(","):
        name, _, value = part.strip().partition("=")
        directives[name] = value.strip('"')
    if "public" not in directives or {"private", "no-store", "no-cache"} & directives.keys():
        return None
    raw = directives.get("s-maxage") or directives.get("max-age")
    if raw is None or not raw.isdigit() or int(raw) == 0:
        return None
    return int(raw)


class PublicCache:
    def __init__(
        self,
        *,
        max_entries: int,
        max_body: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_body = max_body
        self.clock = clock
        self._entries: OrderedDict[tuple[str, ...], CachedAnswer] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key(service: str, target: str, headers: Headers) -> tuple[str, ...]:
        return (
            service,
            target,
            headers.get("accept", ""),
            headers.get("accept-language", ""),
            headers.get("accept-encoding", ""),
        )

    @staticmethod
    def applies_to(method: str, headers: Headers) -> bool:
        """May the answer to this request be kept (and a kept one serve it)?"""
        return method == "GET" and not any(name in headers for name in BYPASS_HEADERS)

    @staticmethod
    def wants_fresh(headers: Headers) -> bool:
        """`Cache-Control: no-cache`: ask the service (and keep its new answer)."""
        return "no-cache" in headers.get("cache-control", "").lower()

    def get(self, key: tuple[str, ...]) -> Response | None:
        answer = self._entries.get(key)
        now = self.clock()
        if answer is None or answer.expires_at <= now:
            if answer is not None:
                del self._entries[key]
            self.misses += 1
            LOOKUPS.labels("miss").inc()
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        LOOKUPS.labels("hit").inc()
        return answer.response(now)

    def put(
        self, key: tuple[str, ...], status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> bool:
        """Keep the answer if a shared cache may; True when kept."""
        if status != 200 or len(body) > self.max_body or self.max_entries <= 0:
            return False
        named = Headers(raw=headers)
        max_age = max_age_of(named.get("cache-control", ""))
        if max_age is None or "set-cookie" in named:
            return False
        vary = {v.strip().lower() for v in named.get("vary", "").split(",") if v.strip()}
        if not vary <= CACHEABLE_VARY:
            return False
        now = self.clock()
        self._entries[key] = CachedAnswer(status, list(headers), body, now, now + max_age)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return True

    def forget_service(self, service: str) -> None:
        for key in [k for k in self._entries if k[0] == service]:
            del self._entries[key]
