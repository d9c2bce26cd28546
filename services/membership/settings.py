"""Settings of the membership service (`CLOCK_MEMBERSHIP_*` and the shared `CLOCK_*`)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from kernel.settings import ServiceSettings


class MembershipSettings(ServiceSettings):
    service_name: str = "membership"
    database_url: str | None = Field(default=None, validation_alias="CLOCK_MEMBERSHIP_DATABASE_URL")
    host: str = Field(default="127.0.0.1", validation_alias="CLOCK_MEMBERSHIP_HOST")
    port: int = Field(default=8101, validation_alias="CLOCK_MEMBERSHIP_PORT")
    protocol_signed_on: date = Field(
        default=date(2025, 12, 9),
        validation_alias="CLOCK_MEMBERSHIP_PROTOCOL_SIGNED_ON",
        description="Signature date of the protocol in force, used when the signatories are "
        "loaded at first start (later changes go through renewals). The original protocol "
        "was signed on 2019-12-09; the default is its anniversary in 2025, so that the "
        "embedded run starts with a protocol in force.",
    )
    expiry_interval: float = Field(
        default=60.0,
        gt=0,
        validation_alias="CLOCK_MEMBERSHIP_EXPIRY_INTERVAL",
        description="Seconds between two checks for memberships whose term has ended.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        validation_alias="CLOCK_MEMBERSHIP_MAX_BODY_BYTES",
        description="Request bodies larger than this get 413.",
    )
