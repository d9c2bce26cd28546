"""The replicas of each service that the gateway passes requests to.

`CLOCK_<SERVICE>_URL` may list several base URLs, comma-separated. Requests go to them in turn,
skipping the ones marked down. A replica that refused the connection (or did not accept it in
time) is marked down for a few seconds and the request goes to the next one: nothing was sent,
so any request may be tried again. A read (GET, HEAD, OPTIONS) is also tried on the next replica
when the connection broke before an answer, as a read changes nothing. A write whose connection
broke may have run: its failure goes to the client, who retries it with its Idempotency-Key.

With one URL (a Kubernetes Service, a load balancer) the balancing is theirs; a refused
connection is then tried once more, as the next connection may reach another endpoint.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

DOWN_FOR = 5.0
"""Seconds a replica that refused a connection is skipped."""
SAFE_TO_RETRY = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Upstream:
    """The base URLs of one service and which of them are marked down."""

    service: str
    urls: tuple[str, ...]
    down_for: float = DOWN_FOR
    clock: Callable[[], float] = time.monotonic
    _down_until: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError(f"no URL for the {self.service} service")
        self._turn = itertools.count()

    @classmethod
    def parse(cls, service: str, value: str) -> Upstream:
        """`http://a:1, http://b:1/` → the URLs, without trailing slashes."""
        urls = tuple(u.strip().rstrip("/") for u in value.split(",") if u.strip())
        return cls(service, urls)

    def attempts(self) -> list[str]:
        """The URLs to try for one request, in order: the next ones in turn that are up, then
        those marked down (better than no answer when every replica is marked down). A single
        URL is listed twice: behind a Service, the second connection may reach another pod."""
        if len(self.urls) == 1:
            return [self.urls[0], self.urls[0]]
        start = next(self._turn) % len(self.urls)
        ordered = self.urls[start:] + self.urls[:start]
        now = self.clock()
        up = [u for u in ordered if self._down_until.get(u, 0.0) <= now]
        down = [u for u in ordered if u not in up]
        return up + down

    def mark_down(self, url: str) -> None:
        self._down_until[url] = self.clock() + self.down_for

    def mark_up(self, url: str) -> None:
        self._down_until.pop(url, None)

    def down(self) -> list[str]:
        now = self.clock()
        return [u for u in self.urls if self._down_until.get(u, 0.0) > now]


def upstreams_from(urls: dict[str, str]) -> dict[str, Upstream]:
    return {service: Upstream.parse(service, value) for service, value in urls.items()}


def never_connected(exc: httpx.TransportError) -> bool:
    """The replica refused the connection or did not accept it in time: nothing was sent."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


def retryable(method: str, exc: httpx.TransportError) -> bool:
    """May a request that failed with `exc` go to another replica? Always when nothing was
    sent; a read also when its connection broke before the answer (not when it timed out:
    a slow replica would make the client wait twice)."""
    if never_connected(exc):
        return True
    return method in SAFE_TO_RETRY and not isinstance(exc, httpx.TimeoutException)
