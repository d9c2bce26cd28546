"""Settings of the matching service (`CLOCK_MATCHING_*` and the shared `CLOCK_*`)."""

from __future__ import annotations

from pydantic import Field

from kernel.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    service_name: str = "matching"
    database_url: str | None = Field(default=None, validation_alias="CLOCK_MATCHING_DATABASE_URL")
    host: str = Field(default="127.0.0.1", validation_alias="CLOCK_MATCHING_HOST")
    port: int = Field(default=8103, validation_alias="CLOCK_MATCHING_PORT")
