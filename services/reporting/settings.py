"""Settings of the reporting service (`CLOCK_REPORTING_*` and the shared `CLOCK_*`)."""

from __future__ import annotations

from pydantic import Field

from kernel.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    database_url: str | None = Field(default=None, validation_alias="CLOCK_REPORTING_DATABASE_URL")
    host: str = Field(default="127.0.0.1", validation_alias="CLOCK_REPORTING_HOST")
    port: int = Field(default=8104, validation_alias="CLOCK_REPORTING_PORT")
