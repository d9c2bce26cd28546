"""`free_port`: ports for servers a test or `clock cluster` starts, chosen where no outgoing
connection or bind to port 0 can take them before the server binds them."""

from __future__ import annotations

import socket

import pytest

from clock_cli import nats_server
from clock_cli.nats_server import FREE_PORTS_VARIABLE, ephemeral_ports, free_port


def test_below_the_ephemeral_range_and_never_twice_in_a_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(FREE_PORTS_VARIABLE, raising=False)
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(10_000 <= p < ephemeral_ports().start for p in ports)


def test_a_share_of_the_range_when_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FREE_PORTS_VARIABLE, "20000-21999")
    assert all(20_000 <= free_port() <= 21_999 for _ in range(50))


def test_a_port_in_use_is_not_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # A range of one busy port and a thousand free ones: the busy one never comes back.
        monkeypatch.setenv(FREE_PORTS_VARIABLE, f"{port}-{port + 999}")
        monkeypatch.setattr(nats_server, "_handed_out", nats_server.deque(maxlen=512))
        assert port not in {free_port() for _ in range(200)}
