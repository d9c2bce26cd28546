"""Settings of the membership service (`CLOCK_MEMBERSHIP_*` and the shared `CLOCK_*`)."""

from __future__ import annotations

from pydantic import Field

from kernel.settings import ServiceSettings


class MembershipSettings(ServiceSettings):
    service_name: str = "membership"
    database_url: str | None = Field(default=None, validation_alias="CLOCK_MEMBERSHIP_DATABASE_URL")
    host: str = Field(default="127.0.0.1", validation_alias="CLOCK_MEMBERSHIP_HOST")
    port: int = Field(default=8101, validation_alias="CLOCK_MEMBERSHIP_PORT")
