from __future__ import annotations

from pathlib import Path

import pytest

from kernel.settings import normalise_database_url
from services.catalog.settings import CatalogSettings


def test_plain_urls_get_async_drivers() -> None:
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_database_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_database_url("sqlite:///var/x.db") == "sqlite+aiosqlite:///var/x.db"
    assert normalise_database_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"


def test_service_settings_read_their_own_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLOCK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLOCK_CATALOG_PORT", "9102")
    monkeypatch.setenv("CLOCK_NATS_URL", "nats://example:4222")
    settings = CatalogSettings()
    assert settings.port == 9102
    assert settings.nats_url == "nats://example:4222"
    assert settings.sqlalchemy_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/catalog.db"
    monkeypatch.setenv("CLOCK_CATALOG_DATABASE_URL", "postgresql://postgres@db/catalog")
    assert CatalogSettings().sqlalchemy_url == "postgresql+asyncpg://postgres@db/catalog"


def test_principal_secret_is_shared_through_the_data_dir(tmp_path: Path) -> None:
    first = CatalogSettings(data_dir=tmp_path).resolved_principal_secret()
    second = CatalogSettings(data_dir=tmp_path).resolved_principal_secret()
    assert first == second and len(first) >= 32
    assert (
        CatalogSettings(data_dir=tmp_path, principal_secret="x").resolved_principal_secret() == "x"
    )
