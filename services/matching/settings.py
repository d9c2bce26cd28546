"""Settings of the matching service (`CLOCK_MATCHING_*` and the shared `CLOCK_*`)."""

from __future__ import annotations

from pydantic import Field

from kernel.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    service_name: str = "matching"
    database_url: str | None = Field(default=None, validation_alias="CLOCK_MATCHING_DATABASE_URL")
    host: str = Field(default="127.0.0.1", validation_alias="CLOCK_MATCHING_HOST")
    port: int = Field(default=8103, validation_alias="CLOCK_MATCHING_PORT")
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        validation_alias="CLOCK_MATCHING_MAX_BODY_BYTES",
        description="Request bodies larger than this get 413.",
    )
    warm_model: bool = Field(
        default=True,
        validation_alias="CLOCK_MATCHING_WARM_MODEL",
        description="Load the sentence encoder and the index at start, not at the first query.",
    )
    index_check_interval: float = Field(
        default=0.1,
        ge=0,
        validation_alias="CLOCK_MATCHING_INDEX_CHECK_INTERVAL",
        description="Seconds during which a process answers from its in-memory index without "
        "checking the database for catalogue changes (0: check on every query).",
    )
