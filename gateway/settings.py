"""Settings of the gateway (`CLOCK_GATEWAY_*`, the services' URLs and the shared `CLOCK_*`)."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlsplit

import limits
from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from gateway.upstreams import Upstream
from kernel.principal import Role
from kernel.settings import SERVICE_NAMES, CommonSettings, normalise_database_url

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
"""Signature algorithms a token may use; symmetric ones (HS*) and `none` never."""

CommaList = Annotated[list[str], NoDecode]


def _split(value: Any) -> Any:
    """`a, b,c` (an environment variable) or a JSON list or a list: a list of non-empty items."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def _rate(value: str) -> str:
    try:
        limits.parse_many(value)
    except ValueError as exc:
        example = "'300/minute' or '10/second;300/minute'"
        raise ValueError(f"not a rate limit such as {example}: {exc}") from None
    return value.strip()


class GatewaySettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CLOCK_", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(None, validation_alias="CLOCK_GATEWAY_DATABASE_URL")
    database_echo: bool = Field(False, validation_alias="CLOCK_GATEWAY_DATABASE_ECHO")
    host: str = Field("127.0.0.1", validation_alias="CLOCK_GATEWAY_HOST")
    port: int = Field(8000, validation_alias="CLOCK_GATEWAY_PORT")

    # Each may list several replicas, comma-separated (gateway.upstreams).
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
    public_cache_entries: int = Field(
        5_000,
        ge=0,
        validation_alias="CLOCK_GATEWAY_PUBLIC_CACHE_ENTRIES",
        description="Public answers (`Cache-Control: public`) kept for anonymous GETs; "
        "0 turns the cache off (gateway/cache.py).",
    )
    public_cache_max_body: int = Field(
        256 * 1024,
        ge=0,
        validation_alias="CLOCK_GATEWAY_PUBLIC_CACHE_MAX_BODY",
        description="Larger public answers are not kept (bytes).",
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

    # --- identity provider (bearer JWT) -------------------------------------------------------
    oidc_issuer: str | None = Field(
        None,
        validation_alias="CLOCK_GATEWAY_OIDC_ISSUER",
        description="`iss` a token must carry. Bearer tokens (JWT) are accepted only when the "
        "issuer, the JWKS and the audience are all set; API keys work either way.",
    )
    oidc_audience: CommaList = Field(
        default_factory=list,
        validation_alias="CLOCK_GATEWAY_OIDC_AUDIENCE",
        description="Audience(s) a token must name in `aud` (comma-separated: any of them).",
    )
    oidc_jwks: str | None = Field(
        None,
        validation_alias="CLOCK_GATEWAY_OIDC_JWKS",
        description="The identity provider's signing keys (JWKS): an https:// (or http://) URL "
        "or a file path.",
    )
    oidc_jwks_ttl: float = Field(
        300.0,
        gt=0,
        validation_alias="CLOCK_GATEWAY_OIDC_JWKS_TTL",
        description="Seconds the JWKS is kept before it is fetched again (the old keys are "
        "kept while the provider cannot be reached).",
    )
    oidc_jwks_refresh_interval: float = Field(
        10.0,
        ge=0,
        validation_alias="CLOCK_GATEWAY_OIDC_JWKS_REFRESH_INTERVAL",
        description="A token signed with an unknown `kid` makes the gateway fetch the JWKS "
        "again, at most once per this many seconds.",
    )
    oidc_jwks_timeout: float = Field(
        5.0,
        gt=0,
        validation_alias="CLOCK_GATEWAY_OIDC_JWKS_TIMEOUT",
        description="Seconds to wait for the JWKS URL.",
    )
    oidc_algorithms: CommaList = Field(
        default_factory=lambda: ["RS256", "ES256"],
        validation_alias="CLOCK_GATEWAY_OIDC_ALGORITHMS",
        description="Signature algorithms accepted (asymmetric only; `none` and HS* never).",
    )
    oidc_leeway: float = Field(
        30.0,
        ge=0,
        le=300,
        validation_alias="CLOCK_GATEWAY_OIDC_LEEWAY",
        description="Seconds of clock skew tolerated on `exp` and `nbf`.",
    )
    oidc_role_claim: str = Field(
        "clock_role",
        min_length=1,
        validation_alias="CLOCK_GATEWAY_OIDC_ROLE_CLAIM",
        description="Claim holding the platform role (region, centre, firm or partner).",
    )
    oidc_org_claim: str = Field(
        "clock_org",
        min_length=1,
        validation_alias="CLOCK_GATEWAY_OIDC_ORG_CLAIM",
        description="Claim holding the organisation (or firm) id a centre, firm or partner "
        "token acts for.",
    )
    oidc_name_claim: str = Field(
        "name",
        validation_alias="CLOCK_GATEWAY_OIDC_NAME_CLAIM",
        description="Claim shown as the principal's name (optional).",
    )

    # --- the dashboard's sign-in with the identity provider ------------------------------------
    dashboard_oidc_client_id: str | None = Field(
        None,
        validation_alias="CLOCK_GATEWAY_DASHBOARD_OIDC_CLIENT_ID",
        description="The dashboard's client id at the identity provider (a public client: "
        "authorization code with PKCE, no secret). With the two endpoints below, the sign-in "
        "page offers to sign in there; the provider must let the dashboard's origin call its "
        "token endpoint (CORS) and accept `<gateway>/dashboard/` as redirect URI.",
    )
    dashboard_oidc_authorization_endpoint: str | None = Field(
        None,
        validation_alias="CLOCK_GATEWAY_DASHBOARD_OIDC_AUTHORIZATION_ENDPOINT",
        description="The provider's authorization endpoint (https://, or http:// for a local one).",
    )
    dashboard_oidc_token_endpoint: str | None = Field(
        None,
        validation_alias="CLOCK_GATEWAY_DASHBOARD_OIDC_TOKEN_ENDPOINT",
        description="The provider's token endpoint; its access token is the bearer token the "
        "gateway checks (`CLOCK_GATEWAY_OIDC_*`).",
    )
    dashboard_oidc_scope: str = Field(
        "openid",
        min_length=1,
        validation_alias="CLOCK_GATEWAY_DASHBOARD_OIDC_SCOPE",
        description="Scopes the dashboard asks for (space-separated).",
    )

    # --- rate limits ----------------------------------------------------------------------------
    rate_limit_enabled: bool = Field(
        True,
        validation_alias="CLOCK_GATEWAY_RATE_LIMIT_ENABLED",
        description="Rate-limit requests per principal (and failed authentications per IP).",
    )
    rate_limit_storage: str = Field(
        "memory://",
        validation_alias="CLOCK_GATEWAY_RATE_LIMIT_STORAGE",
        description="Where counters live: `memory://` (this process) or `redis://host:port/db` "
        "(`rediss://` with TLS), shared by every gateway replica.",
    )
    rate_limit_key_prefix: str = Field(
        "clock-gateway",
        min_length=1,
        validation_alias="CLOCK_GATEWAY_RATE_LIMIT_KEY_PREFIX",
        description="Prefix of the counters' keys in a shared storage.",
    )
    rate_limit_region: str = Field(
        "600/minute",
        validation_alias="CLOCK_GATEWAY_RATE_LIMIT_REGION",
        description="Requests per region key or token (`N/second|minute|hour`, several "
        "joined by `;`).",
    )
    rate_limit_centre: str = Field(
        "300/minute",
        validation_alias="CLOCK_GATEWAY_RATE_LIMIT_CENTRE",
        description="Requests per centre key or token.",
    )
    rate_limit_partner: str = Field(
        "300/minute",
        validation_alias="CLOCK_GATEWAY_RATE_LIMIT_PARTNER",
        description="Requests per partner key or token.",
    )
    rate_limit_firm: str = Field(
        "120/minute",
        validation_alias="CLOCK_GATEWAY_RATE_LIMIT_FIRM",
        description="Requests per firm key or token.",
    )
    rate_limit_anonymous: str = Field(
        "60/minute",
        validation_alias="CLOCK_GATEWAY_RATE_LIMIT_ANONYMOUS",
        description="Requests without credentials, per client IP.",
    )
    auth_failure_limit: str = Field(
        "20 per 5 minutes",
        validation_alias="CLOCK_GATEWAY_AUTH_FAILURE_LIMIT",
        description="Failed authentications allowed per client IP; past it, that IP's "
        "requests with credentials get 429 until the window moves on.",
    )

    # --- size, shape and time limits ------------------------------------------------------------
    max_body_bytes: int = Field(
        1_048_576,
        ge=1,
        validation_alias="CLOCK_GATEWAY_MAX_BODY_BYTES",
        description="Larger request bodies get 413 before any service sees them (declared "
        "Content-Length or counted while a chunked body arrives).",
    )
    route_max_body_bytes: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=lambda: {"catalog/imports": 20 * 1024 * 1024},
        validation_alias="CLOCK_GATEWAY_ROUTE_MAX_BODY_BYTES",
        description="Body limits by path prefix under /api/v1/ (`prefix=bytes,...` or a JSON "
        "object), e.g. for file uploads; the longest matching prefix wins, other paths use "
        "CLOCK_GATEWAY_MAX_BODY_BYTES.",
    )
    max_json_depth: int = Field(
        32,
        ge=1,
        validation_alias="CLOCK_GATEWAY_MAX_JSON_DEPTH",
        description="Deepest nesting of arrays and objects in a JSON body (else 422).",
    )
    max_json_array_length: int = Field(
        1000,
        ge=1,
        validation_alias="CLOCK_GATEWAY_MAX_JSON_ARRAY_LENGTH",
        description="Most items of any array in a JSON body (else 422).",
    )
    body_read_timeout: float = Field(
        30.0,
        gt=0,
        validation_alias="CLOCK_GATEWAY_BODY_READ_TIMEOUT",
        description="Seconds a client has to send its whole request body (else 408).",
    )
    route_timeouts: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=lambda: {"reporting/reports": 120.0},
        validation_alias="CLOCK_GATEWAY_ROUTE_TIMEOUTS",
        description="Upstream timeouts by path prefix under /api/v1/, e.g. "
        "`reporting/reports=120,matching/demands=45` (or a JSON object); the longest "
        "matching prefix wins, other paths use CLOCK_GATEWAY_UPSTREAM_TIMEOUT.",
    )
    blocked_paths: CommaList = Field(
        default_factory=lambda: ["/metrics"],
        validation_alias="CLOCK_GATEWAY_BLOCKED_PATHS",
        description="Paths of every service (and below them) the gateway never passes on: "
        "404. Prometheus scrapes the services directly; their readiness stays readable through "
        "the gateway (`/api/v1/<service>/readyz`), as operators check it.",
    )

    # --- browsers and response headers ----------------------------------------------------------
    cors_origins: CommaList = Field(
        default_factory=list,
        validation_alias="CLOCK_GATEWAY_CORS_ORIGINS",
        description="Origins (`https://dashboard.example`) browsers may call the API from; "
        "empty: none. The gateway answers preflights itself.",
    )
    cors_allow_credentials: bool = Field(
        False,
        validation_alias="CLOCK_GATEWAY_CORS_ALLOW_CREDENTIALS",
        description="Let those origins send cookies or HTTP authentication (never with `*`).",
    )
    cors_max_age: int = Field(
        600,
        ge=0,
        validation_alias="CLOCK_GATEWAY_CORS_MAX_AGE",
        description="Seconds a browser may cache a preflight answer.",
    )
    hsts_max_age: int = Field(
        0,
        ge=0,
        validation_alias="CLOCK_GATEWAY_HSTS_MAX_AGE",
        description="When > 0, every response carries Strict-Transport-Security with this "
        "max-age (set it when the gateway is reached over HTTPS only).",
    )

    # --- idempotency ----------------------------------------------------------------------------
    idempotency_ttl: float = Field(
        86_400.0,
        gt=0,
        validation_alias="CLOCK_GATEWAY_IDEMPOTENCY_TTL",
        description="Seconds an Idempotency-Key and its response are kept.",
    )
    idempotency_purge_interval: float = Field(
        600.0,
        gt=0,
        validation_alias="CLOCK_GATEWAY_IDEMPOTENCY_PURGE_INTERVAL",
        description="Seconds between purges of expired Idempotency-Keys.",
    )

    @field_validator("oidc_audience", "oidc_algorithms", "blocked_paths", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        origins = _split(value)
        if not isinstance(origins, list):
            return origins
        result = []
        for origin in origins:
            if not isinstance(origin, str):
                raise ValueError("origins are strings")
            origin = origin.strip().rstrip("/")
            if origin != "*":
                parts = urlsplit(origin)
                if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                    raise ValueError(f"{origin!r} is not an origin such as https://host[:port]")
                origin = f"{parts.scheme}://{parts.netloc.lower()}"
            result.append(origin)
        return result

    @field_validator("oidc_algorithms")
    @classmethod
    def _algorithms(cls, value: list[str]) -> list[str]:
        refused = [name for name in value if name not in ASYMMETRIC_ALGORITHMS]
        if refused or not value:
            allowed = ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
            raise ValueError(f"asymmetric algorithms only ({allowed}); refused: {refused}")
        return value

    @field_validator("blocked_paths")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        return ["/" + path.strip().strip("/") for path in value]

    @field_validator(
        "rate_limit_region",
        "rate_limit_centre",
        "rate_limit_partner",
        "rate_limit_firm",
        "rate_limit_anonymous",
        "auth_failure_limit",
    )
    @classmethod
    def _rates(cls, value: str) -> str:
        return _rate(value)

    @field_validator("rate_limit_storage")
    @classmethod
    def _storage(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in ("memory", "redis", "rediss", "redis+unix"):
            raise ValueError("memory:// or redis://host:port/db (rediss:// for TLS)")
        return value

    @field_validator("route_timeouts", "route_max_body_bytes", mode="before")
    @classmethod
    def _route_values(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                value = json.loads(text)
            else:
                pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
                if any(len(pair) != 2 for pair in pairs):
                    raise ValueError("expected prefix=value[,prefix=value...]")
                value = {prefix: seconds for prefix, seconds in pairs}
        if isinstance(value, dict):
            return {_route_prefix(str(k)): v for k, v in value.items()}
        return value

    @field_validator("route_timeouts")
    @classmethod
    def _positive_timeouts(cls, value: dict[str, float]) -> dict[str, float]:
        if any(seconds <= 0 for seconds in value.values()):
            raise ValueError("timeouts are positive numbers of seconds")
        return value

    @field_validator("route_max_body_bytes")
    @classmethod
    def _positive_sizes(cls, value: dict[str, int]) -> dict[str, int]:
        if any(size <= 0 for size in value.values()):
            raise ValueError("body limits are positive numbers of bytes")
        return value

    @model_validator(mode="after")
    def _oidc_complete(self) -> GatewaySettings:
        given = {
            "CLOCK_GATEWAY_OIDC_ISSUER": bool(self.oidc_issuer),
            "CLOCK_GATEWAY_OIDC_JWKS": bool(self.oidc_jwks),
            "CLOCK_GATEWAY_OIDC_AUDIENCE": bool(self.oidc_audience),
        }
        if any(given.values()) and not all(given.values()):
            missing = ", ".join(name for name, present in given.items() if not present)
            raise ValueError(f"bearer tokens need the issuer, JWKS and audience: set {missing}")
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ValueError("CLOCK_GATEWAY_CORS_ORIGINS '*' cannot allow credentials")
        self._dashboard_oidc_complete()
        return self

    def _dashboard_oidc_complete(self) -> None:
        given = {
            "CLOCK_GATEWAY_DASHBOARD_OIDC_CLIENT_ID": self.dashboard_oidc_client_id,
            "CLOCK_GATEWAY_DASHBOARD_OIDC_AUTHORIZATION_ENDPOINT": (
                self.dashboard_oidc_authorization_endpoint
            ),
            "CLOCK_GATEWAY_DASHBOARD_OIDC_TOKEN_ENDPOINT": self.dashboard_oidc_token_endpoint,
        }
        if not any(given.values()):
            return
        missing = [name for name, value in given.items() if not value]
        if missing:
            raise ValueError(f"the dashboard's sign-in needs {', '.join(missing)} too")
        if not self.oidc_enabled:
            raise ValueError(
                "the dashboard's sign-in gets tokens the gateway must accept: set "
                "CLOCK_GATEWAY_OIDC_ISSUER, _JWKS and _AUDIENCE"
            )
        for name in list(given)[1:]:
            parts = urlsplit(str(given[name]))
            if parts.scheme not in ("https", "http") or not parts.netloc:
                raise ValueError(f"{name} must be an https:// (or http://) URL")

    @property
    def dashboard_oidc(self) -> dict[str, str] | None:
        """What the dashboard needs to sign in at the identity provider, if configured."""
        if not (
            self.dashboard_oidc_client_id
            and self.dashboard_oidc_authorization_endpoint
            and self.dashboard_oidc_token_endpoint
        ):
            return None
        return {
            "client_id": self.dashboard_oidc_client_id,
            "authorization_endpoint": self.dashboard_oidc_authorization_endpoint,
            "token_endpoint": self.dashboard_oidc_token_endpoint,
            "scope": self.dashboard_oidc_scope,
        }

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_jwks and self.oidc_audience)

    def rate_limit_for(self, role: Role) -> str:
        """The rate limit of a role (`anonymous`: per client IP)."""
        return {
            Role.REGION: self.rate_limit_region,
            Role.CENTRE: self.rate_limit_centre,
            Role.PARTNER: self.rate_limit_partner,
            Role.FIRM: self.rate_limit_firm,
            Role.ANONYMOUS: self.rate_limit_anonymous,
        }[role]

    def max_body_for(self, path: str) -> int:
        """Body limit of a request path (`/api/v1/catalog/imports`)."""
        path = _route_prefix(path)
        best = max(
            (p for p in self.route_max_body_bytes if path.startswith(p)), key=len, default=""
        )
        return self.route_max_body_bytes[best] if best else self.max_body_bytes

    def timeout_for(self, path: str) -> float:
        """Upstream timeout of a path under /api/v1/ (`reporting/reports/42.pdf`)."""
        path = _route_prefix(path)
        best = ""
        for prefix in self.route_timeouts:
            if path.startswith(prefix) and len(prefix) > len(best):
                best = prefix
        return self.route_timeouts[best] if best else self.upstream_timeout

    @property
    def sqlalchemy_url(self) -> str:
        return normalise_database_url(self.database_url or self.database_url_for("gateway"))

    def upstreams(self) -> dict[str, tuple[str, ...]]:
        """Base URLs of each service's replicas, by service name."""
        urls = {
            "membership": self.membership_url,
            "catalog": self.catalog_url,
            "matching": self.matching_url,
            "reporting": self.reporting_url,
        }
        return {name: Upstream.parse(name, urls[name]).urls for name in SERVICE_NAMES}


def _route_prefix(path: str) -> str:
    """`/api/v1/reporting/reports` and `reporting/reports` both read `reporting/reports`."""
    path = path.strip().lstrip("/")
    return path.removeprefix("api/v1/")
