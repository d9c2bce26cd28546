"""Settings of the catalog service (`CLOCK_CATALOG_*` and the shared `CLOCK_*`)."""

from __future__ import annotations

from pydantic import Field

from kernel.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    database_url: str | None = Field(default=None, validation_alias="CLOCK_CATALOG_DATABASE_URL")
    host: str = Field(default="127.0.0.1", validation_alias="CLOCK_CATALOG_HOST")
    port: int = Field(default=8102, validation_alias="CLOCK_CATALOG_PORT")
    demo_data: bool = Field(
        default=True,
        validation_alias="CLOCK_CATALOG_DEMO_DATA",
        description="Load the demo labs of the six founding centres at start when the "
        "catalogue is empty (they show once the membership events say the centres are active).",
    )
    public_max_age: int = Field(
        default=5,
        ge=0,
        validation_alias="CLOCK_CATALOG_PUBLIC_MAX_AGE",
        description="Seconds a shared cache (the gateway's) may keep what an anonymous caller "
        "reads; 0: not at all.",
    )
    max_body_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        validation_alias="CLOCK_CATALOG_MAX_BODY_BYTES",
        description="Request bodies larger than this get 413.",
    )
    import_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1024,
        validation_alias="CLOCK_CATALOG_IMPORT_MAX_BYTES",
        description="Largest spreadsheet a `POST /imports` takes (413 above).",
    )
    import_poll_interval: float = Field(
        default=2.0,
        gt=0,
        validation_alias="CLOCK_CATALOG_IMPORT_POLL_INTERVAL",
        description="Seconds between two looks for queued imports (a submission to this "
        "replica wakes it at once).",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000/api/v1/catalog",
        validation_alias="CLOCK_CATALOG_PUBLIC_URL",
        description="The catalogue's address through the gateway, as the outside world knows "
        "it: the identifiers of exported records (CERIF-XML) are made from it.",
    )
