"""Every database is built by its migrations, and the migrations match the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from clock_cli.components import COMPONENTS
from kernel.db import create_engine
from kernel.tables import messaging_metadata
from tests.conftest import migrate


def _metadata(name: str) -> list[MetaData]:
    import importlib

    models = importlib.import_module(f"{COMPONENTS[name].package}.models")
    own: MetaData = models.Base.metadata
    return [own] if name == "gateway" else [own, messaging_metadata]


@pytest.mark.parametrize("name", sorted(COMPONENTS))
async def test_migrations_build_what_the_models_describe(name: str, database_url: str) -> None:
    migrate(name, database_url)
    migrate(name, database_url)  # idempotent: a second start changes nothing
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:

            def diff(sync_connection: object) -> list[object]:
                context = MigrationContext.configure(
                    sync_connection,  # type: ignore[arg-type]
                    opts={"compare_type": True},
                )
                return list(compare_metadata(context, _metadata(name)))  # type: ignore[arg-type]

            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []
