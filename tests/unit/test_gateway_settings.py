"""Gateway settings from the environment."""

from __future__ import annotations

import pytest

from gateway.settings import GatewaySettings


def test_defaults_serve_the_embedded_run(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CLOCK_GATEWAY_DATABASE_URL",
        "CLOCK_GATEWAY_PORT",
        "CLOCK_MEMBERSHIP_URL",
        "CLOCK_CATALOG_URL",
        "CLOCK_MATCHING_URL",
        "CLOCK_REPORTING_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = GatewaySettings()
    assert settings.port == 8000
    assert settings.host == "127.0.0.1"
    assert settings.upstreams() == {
        "membership": ("http://127.0.0.1:8101",),
        "catalog": ("http://127.0.0.1:8102",),
        "matching": ("http://127.0.0.1:8103",),
        "reporting": ("http://127.0.0.1:8104",),
    }
    assert settings.sqlalchemy_url.startswith("sqlite+aiosqlite:///")
    assert settings.sqlalchemy_url.endswith("/gateway.db")
    assert settings.upstream_timeout == 30.0
    assert settings.upstream_connect_timeout == 5.0


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOCK_GATEWAY_DATABASE_URL", "postgresql://clock@db/gateway")
    monkeypatch.setenv("CLOCK_GATEWAY_PORT", "9000")
    monkeypatch.setenv("CLOCK_CATALOG_URL", "http://catalog.internal:8080/")
    monkeypatch.setenv("CLOCK_GATEWAY_UPSTREAM_TIMEOUT", "12.5")
    settings = GatewaySettings()
    assert settings.sqlalchemy_url == "postgresql+asyncpg://clock@db/gateway"
    assert settings.port == 9000
    assert settings.upstreams()["catalog"] == ("http://catalog.internal:8080",)
    assert settings.upstream_timeout == 12.5


def test_fields_can_be_given_by_name() -> None:
    settings = GatewaySettings(database_url="sqlite:///tmp/g.db", catalog_url="http://c:1")
    assert settings.sqlalchemy_url == "sqlite+aiosqlite:///tmp/g.db"
    assert settings.upstreams()["catalog"] == ("http://c:1",)


def test_a_service_may_have_several_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOCK_MATCHING_URL", "http://m1:8103/, http://m2:8103")
    assert GatewaySettings().upstreams()["matching"] == ("http://m1:8103", "http://m2:8103")


def test_an_upload_path_may_take_larger_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOCK_GATEWAY_MAX_BODY_BYTES", "1000")
    monkeypatch.setenv("CLOCK_GATEWAY_ROUTE_MAX_BODY_BYTES", "catalog/imports=5000,catalog=2000")
    settings = GatewaySettings()
    assert settings.max_body_for("/api/v1/catalog/imports") == 5000
    assert settings.max_body_for("/api/v1/catalog/labs") == 2000
    assert settings.max_body_for("/api/v1/matching/demands") == 1000


def test_body_limits_are_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOCK_GATEWAY_ROUTE_MAX_BODY_BYTES", "catalog/imports=0")
    with pytest.raises(ValueError, match="positive"):
        GatewaySettings()
