"""The gateway's cache of public answers (gateway/cache.py): what it keeps and for how long."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from gateway.cache import PublicCache, max_age_of


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


PUBLIC = [(b"content-type", b"application/json"), (b"cache-control", b"public, max-age=5")]
KEY = ("catalog", "/labs?limit=2", "", "it", "")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock: FakeClock) -> PublicCache:
    return PublicCache(max_entries=2, max_body=100, clock=clock)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("public, max-age=5", 5),
        ("max-age=60, public", 60),
        ("public, s-maxage=7, max-age=1", 7),
        ("max-age=5", None),  # not said public
        ("public, private, max-age=5", None),
        ("public, no-store, max-age=5", None),
        ("public, no-cache, max-age=5", None),
        ("public, max-age=0", None),
        ("public, max-age=soon", None),
        ("", None),
    ],
)
def test_max_age_of(header: str, seconds: int | None) -> None:
    assert max_age_of(header) == seconds


def test_a_public_answer_is_served_until_it_expires(cache: PublicCache, clock: FakeClock) -> None:
    assert cache.get(KEY) is None
    assert cache.put(KEY, 200, PUBLIC, b'{"items": []}')
    clock.now += 4.5
    hit = cache.get(KEY)
    assert hit is not None and hit.body == b'{"items": []}'
    assert hit.headers["age"] == "4" and hit.headers["x-cache"] == "HIT"
    assert hit.headers["cache-control"] == "public, max-age=5"
    clock.now += 0.5
    assert cache.get(KEY) is None
    assert len(cache) == 0
    assert (cache.hits, cache.misses) == (1, 2)


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (201, PUBLIC, b"{}"),
        (200, [(b"cache-control", b"private, max-age=5")], b"{}"),
        (200, [(b"cache-control", b"no-store")], b"{}"),
        (200, [], b"{}"),
        (200, [*PUBLIC, (b"set-cookie", b"a=b")], b"{}"),
        (200, [*PUBLIC, (b"vary", b"Authorization")], b"{}"),
        (200, PUBLIC, b"x" * 101),  # larger than max_body
    ],
)
def test_what_is_not_kept(
    cache: PublicCache, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    assert not cache.put(KEY, status, headers, body)
    assert cache.get(KEY) is None


def test_vary_on_language_is_kept_under_its_own_key(cache: PublicCache) -> None:
    assert cache.put(KEY, 200, [*PUBLIC, (b"vary", b"Accept-Language")], b"{}")
    assert cache.get(("catalog", "/labs?limit=2", "", "en", "")) is None


def test_least_recently_used_goes_first(cache: PublicCache) -> None:
    first, second, third = (("catalog", f"/labs/{n}", "", "", "") for n in range(3))
    for key in (first, second):
        cache.put(key, 200, PUBLIC, b"{}")
    assert cache.get(first) is not None  # first is now the most recent
    cache.put(third, 200, PUBLIC, b"{}")
    assert cache.get(second) is None
    assert cache.get(first) is not None and cache.get(third) is not None


def test_a_write_drops_the_service_entries(cache: PublicCache) -> None:
    cache.put(KEY, 200, PUBLIC, b"{}")
    cache.put(("membership", "/members?", "", "", ""), 200, PUBLIC, b"{}")
    cache.forget_service("catalog")
    assert cache.get(KEY) is None
    assert cache.get(("membership", "/members?", "", "", "")) is not None


@pytest.mark.parametrize(
    ("method", "headers", "applies"),
    [
        ("GET", {}, True),
        ("HEAD", {}, False),
        ("POST", {}, False),
        ("GET", {"Cache-Control": "no-cache"}, True),  # asks afresh, keeps the answer
        ("GET", {"If-None-Match": '"2"'}, False),
        ("GET", {"Range": "bytes=0-10"}, False),
    ],
)
def test_which_requests_use_it(method: str, headers: dict[str, str], applies: bool) -> None:
    assert PublicCache.applies_to(method, Headers(headers)) is applies
