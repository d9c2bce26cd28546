"""Settings shared by every process, read from `CLOCK_*` environment variables."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_NAMES = ("membership", "catalog", "matching", "reporting")


class CommonSettings(BaseSettings):
    """What the gateway and every service share. Subclasses add their own fields."""

    model_config = SettingsConfigDict(env_prefix="CLOCK_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Folder of SQLite files and state.")
    nats_url: str = Field(
        default="",
        description="NATS server(s), comma-separated. Unset: the embedded server of `make run` "
        "on 127.0.0.1:<CLOCK_NATS_PORT>.",
    )
    nats_port: int = Field(default=4223, description="Port of the embedded nats-server.")
    stream_replicas: int = Field(default=1, ge=1, le=5, description="JetStream replicas.")
    principal_secret: str | None = Field(
        default=None,
        description="Shared secret the gateway signs principals with. "
        "Unset: read or create `<data_dir>/principal.key`.",
    )
    principal_previous_secrets: str = Field(
        default="",
        description="Secrets a service still accepts besides `CLOCK_PRINCIPAL_SECRET`, "
        "comma-separated: set while the gateways' secret is rotated (deploy/README.md).",
    )
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _embedded_nats_url(self) -> CommonSettings:
        # A command run next to `make run` (e.g. `clock reporting rebuild`) finds its server.
        if not self.nats_url:
            self.nats_url = f"nats://127.0.0.1:{self.nats_port}"
        return self

    def database_url_for(self, name: str) -> str:
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{name}.db').resolve()}"

    def accepted_principal_secrets(self) -> list[str]:
        """The secret principals are signed with, then those still accepted."""
        previous = [s.strip() for s in self.principal_previous_secrets.split(",") if s.strip()]
        return [self.resolved_principal_secret(), *previous]

    def resolved_principal_secret(self) -> str:
        """The signing secret: from the environment, else a file shared by the embedded run."""
        if self.principal_secret:
            return self.principal_secret
        path = self.data_dir / "principal.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            candidate = secrets.token_urlsafe(32)
            try:
                # O_EXCL: two processes starting together agree on one secret.
                with path.open("x") as handle:
                    handle.write(candidate)
                path.chmod(0o600)
            except FileExistsError:
                pass
        return path.read_text().strip()


class ServiceSettings(CommonSettings):
    """Settings of one service process. Each service names its own `CLOCK_<SERVICE>_*` fields."""

    model_config = SettingsConfigDict(env_prefix="CLOCK_", extra="ignore", populate_by_name=True)

    service_name: str = "service"
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8100
    database_echo: bool = False
    relay_batch_size: int = Field(default=256, ge=1, le=10_000)
    relay_poll_interval: float = Field(default=0.25, gt=0)
    consumer_batch_size: int = Field(default=64, ge=1, le=1_000)
    consumer_max_deliveries: int = Field(
        default=5, ge=1, description="Failed deliveries before a message is dead-lettered."
    )
    consumer_ack_wait: float = Field(
        default=30.0,
        gt=0,
        description="Seconds JetStream waits for a consumer's ack before it redelivers.",
    )
    lease_ttl: float = Field(
        default=10.0, gt=0, description="Seconds a relay/consumer lease lasts."
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1, description="Larger request bodies are refused with 413."
    )
    faults: str = Field(
        default="",
        description="Fault injection for `make chaos` (kernel.faults), e.g. "
        "`commit_before_ack=0.01`. Never set in production.",
    )

    @property
    def sqlalchemy_url(self) -> str:
        return normalise_database_url(self.database_url or self.database_url_for(self.service_name))


def normalise_database_url(url: str) -> str:
    """Accept the plain URLs operators write and pick the async drivers we ship."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.split(":///", 1)[1]
    return url
