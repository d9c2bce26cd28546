"""Settings of the reporting service (`CLOCK_REPORTING_*` and the shared `CLOCK_*`)."""

from __future__ import annotations

from pydantic import Field

from kernel.settings import ServiceSettings
from services.reporting.periods import GRANULARITIES, Granularity


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    database_url: str | None = Field(default=None, validation_alias="CLOCK_REPORTING_DATABASE_URL")
    host: str = Field(default="127.0.0.1", validation_alias="CLOCK_REPORTING_HOST")
    port: int = Field(default=8104, validation_alias="CLOCK_REPORTING_PORT")

    auto_issue: str = Field(
        default="month,quarter,year",
        validation_alias="CLOCK_REPORTING_AUTO_ISSUE",
        description="Granularities whose reports are issued at period close; empty: none.",
    )
    auto_issue_grace_hours: float = Field(
        default=24.0,
        ge=0,
        validation_alias="CLOCK_REPORTING_AUTO_ISSUE_GRACE_HOURS",
        description="Hours after a period's close before its report is issued (late events).",
    )
    auto_issue_interval: float = Field(
        default=300.0,
        gt=0,
        validation_alias="CLOCK_REPORTING_AUTO_ISSUE_INTERVAL",
        description="Seconds between two checks for periods to report on.",
    )

    def auto_issue_granularities(self) -> list[Granularity]:
        wanted = {g.strip() for g in self.auto_issue.split(",") if g.strip()}
        return [g for g in GRANULARITIES if g in wanted]
