"""The gateway's choice among a service's replicas (gateway.upstreams)."""

from __future__ import annotations

import httpx
import pytest

from gateway.upstreams import Upstream, retryable


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_replicas_take_turns() -> None:
    upstream = Upstream("catalog", ("http://a", "http://b", "http://c"))
    firsts = [upstream.attempts()[0] for _ in range(6)]
    assert firsts == ["http://a", "http://b", "http://c", "http://a", "http://b", "http://c"]
    assert sorted(upstream.attempts()) == ["http://a", "http://b", "http://c"]


def test_a_replica_marked_down_is_tried_last_until_its_time_is_up() -> None:
    clock = FakeClock()
    upstream = Upstream("catalog", ("http://a", "http://b"), down_for=5.0, clock=clock)
    upstream.mark_down("http://a")
    assert [upstream.attempts() for _ in range(2)] == [["http://b", "http://a"]] * 2
    assert upstream.down() == ["http://a"]
    clock.now += 5.1
    assert upstream.down() == []
    assert {upstream.attempts()[0] for _ in range(2)} == {"http://a", "http://b"}


def test_every_replica_down_still_tries_them_all() -> None:
    upstream = Upstream("catalog", ("http://a", "http://b"))
    upstream.mark_down("http://a")
    upstream.mark_down("http://b")
    assert sorted(upstream.attempts()) == ["http://a", "http://b"]
    upstream.mark_up("http://b")
    assert upstream.attempts()[0] == "http://b"


def test_a_single_url_is_tried_twice() -> None:
    """Behind a Kubernetes Service the second connection may reach another pod."""
    assert Upstream.parse("catalog", "http://catalog:8102/").attempts() == [
        "http://catalog:8102",
        "http://catalog:8102",
    ]


def test_no_url_is_refused() -> None:
    with pytest.raises(ValueError, match="no URL"):
        Upstream.parse("catalog", " , ")


REQUEST = httpx.Request("POST", "http://a/x")


@pytest.mark.parametrize(
    ("method", "exc", "expected"),
    [
        ("POST", httpx.ConnectError("refused", request=REQUEST), True),
        ("POST", httpx.ConnectTimeout("slow accept", request=REQUEST), True),
        ("POST", httpx.RemoteProtocolError("went away", request=REQUEST), False),
        ("POST", httpx.ReadTimeout("slow", request=REQUEST), False),
        ("GET", httpx.RemoteProtocolError("went away", request=REQUEST), True),
        ("GET", httpx.ReadTimeout("slow", request=REQUEST), False),
    ],
)
def test_what_may_go_to_another_replica(
    method: str, exc: httpx.TransportError, expected: bool
) -> None:
    """Nothing sent: anything; a broken connection: only a read; a timeout: nothing (the
    client would wait twice)."""
    assert retryable(method, exc) is expected
