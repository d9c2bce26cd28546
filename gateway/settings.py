"""Settings of the gateway (`CLOCK_GATEWAY_*`, the services' URLs and the shared `CLOCK_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kernel.settings import SERVICE_NAMES, CommonSettings, normalise_database_url


class GatewaySettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CLOCK_", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(None, validation_alias="CLOCK_GATEWAY_DATABASE_URL")
    database_echo: bool = Field(False, validation_alias="CLOCK_GATEWAY_DATABASE_ECHO")
    host: str = Field("127.0.0.1", validation_alias="CLOCK_GATEWAY_HOST")
    port: int = Field(8000, validation_alias="CLOCK_GATEWAY_PORT")

    membership_url: str = Field("http://127.0.0.1:8101", validation_alias="CLOCK_MEMBERSHIP_URL")
    catalog_url: str = Field("http://127.0.0.1:8102", validation_alias="CLOCK_CATALOG_URL")
    matching_url: str = Field("http://127.0.0.1:8103", validation_alias="CLOCK_MATCHING_URL")
    reporting_url: str = Field("http://127.0.0.1:8104", validation_alias="CLOCK_REPORTING_URL")

    upstream_timeout: float = Field(
        30.0,
        gt=0,
        validation_alias="CLOCK_GATEWAY_UPSTREAM_TIMEOUT",
        description="Seconds to wait for an upstream to answer (read, write, pool).",
    )
    upstream_connect_timeout: float = Field(
        5.0,
        gt=0,
        validation_alias="CLOCK_GATEWAY_UPSTREAM_CONNECT_TIMEOUT",
        description="Seconds to wait for a connection to an upstream.",
    )
    upstream_max_connections: int = Field(
        200, ge=1, validation_alias="CLOCK_GATEWAY_UPSTREAM_MAX_CONNECTIONS"
    )
    upstream_max_keepalive: int = Field(
        50, ge=0, validation_alias="CLOCK_GATEWAY_UPSTREAM_MAX_KEEPALIVE"
    )
    openapi_cache_ttl: float = Field(
        300.0,
        ge=0,
        validation_alias="CLOCK_GATEWAY_OPENAPI_CACHE_TTL",
        description="Seconds the merged OpenAPI document is served from memory "
        "(it is rebuilt sooner while a service was unreachable).",
    )
    api_key_touch_interval: float = Field(
        60.0,
        ge=0,
        validation_alias="CLOCK_GATEWAY_API_KEY_TOUCH_INTERVAL",
        description="An API key's `last_used_at` is written at most once per this many seconds.",
    )

    @property
    def sqlalchemy_url(self) -> str:
        return normalise_database_url(self.database_url or self.database_url_for("gateway"))

    def upstreams(self) -> dict[str, str]:
        """Base URL of each service, by service name."""
        urls = {
            "membership": self.membership_url,
            "catalog": self.catalog_url,
            "matching": self.matching_url,
            "reporting": self.reporting_url,
        }
        return {name: urls[name].rstrip("/") for name in SERVICE_NAMES}
