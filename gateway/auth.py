"""Who is calling: an API key, a bearer token of the identity provider, or nobody.

`Authorization: Bearer <credentials>` carries either an API key (`clk_...`) or, when an
identity provider is configured, a JWT; `X-API-Key: <key>` carries an API key. No credentials:
the request goes on as `anonymous`. Wrong credentials are a 401, never a downgrade.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import Headers

from gateway import service as keys
from gateway.auth_jwt import bearer_challenge, looks_like_jwt
from gateway.models import utcnow
from gateway.state import GatewayState
from kernel.errors import ServiceUnavailable, Unauthenticated
from kernel.principal import ANONYMOUS, Principal

log = logging.getLogger(__name__)

WWW_AUTHENTICATE = bearer_challenge()

AuthMethod = Literal["anonymous", "api_key", "token"]


@dataclass(frozen=True)
class Credentials:
    value: str
    bearer: bool
    """Sent as `Authorization: Bearer` (a JWT may come only that way)."""


@dataclass(frozen=True)
class Caller:
    """The authenticated principal, how it authenticated, and where it calls from."""

    principal: Principal
    method: AuthMethod
    client_ip: str | None = None
    subject: str | None = None
    """`sub` of a bearer token."""

    @property
    def identity(self) -> str:
        """What rate limits and Idempotency-Keys are counted per: the API key, the token
        subject, or the client IP of an anonymous caller."""
        if self.method == "api_key":
            return f"key:{self.principal.key_id}"
        if self.method == "token":
            return f"sub:{self.subject}"
        return f"ip:{self.client_ip or 'unknown'}"

    @property
    def scope_digest(self) -> str:
        return hashlib.sha256(self.identity.encode()).hexdigest()


def presented_credentials(headers: Headers) -> Credentials | None:
    """The credentials the client presents, if any; 401 when they are malformed."""
    authorization = headers.get("authorization")
    header_key = headers.get("x-api-key")
    bearer: str | None = None
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise Unauthenticated(
                "send 'Authorization: Bearer <API key or token>' or 'X-API-Key: <key>'",
                headers=WWW_AUTHENTICATE,
            )
        bearer = value.strip()
    if bearer is not None and header_key is not None and bearer != header_key.strip():
        raise Unauthenticated(
            "two different credentials presented (Authorization and X-API-Key)",
            headers=WWW_AUTHENTICATE,
        )
    if bearer is not None:
        return Credentials(bearer, bearer=True)
    if header_key is not None:
        return Credentials(header_key.strip(), bearer=False)
    return None


async def authenticate(
    credentials: Credentials | None, state: GatewayState, *, client_ip: str | None
) -> Caller:
    """The caller; Unauthenticated (401), Forbidden (403: a token without a platform role)
    or ServiceUnavailable (503: the key store or the provider's keys cannot be read)."""
    if credentials is None:
        return Caller(ANONYMOUS, "anonymous", client_ip=client_ip)
    value = credentials.value
    if credentials.bearer and not value.startswith(f"{keys.KEY_SCHEME}_") and looks_like_jwt(value):
        if state.verifier is None:
            raise Unauthenticated(
                "bearer tokens are not accepted here: use an API key",
                headers=bearer_challenge("invalid_token", "no identity provider configured"),
            )
        identity = await state.verifier.verify(value)
        return Caller(identity.principal, "token", client_ip=client_ip, subject=identity.subject)
    try:
        # Every authenticated request checks its key: a read that takes no write lock; the
        # last-use time is written apart, at most once per touch interval.
        now = utcnow()
        interval = timedelta(seconds=state.settings.api_key_touch_interval)
        async with state.read_sessionmaker() as session:
            key = await keys.find_valid_key(session, value)
            principal = keys.principal_of(key) if key is not None else None
            touch = key is not None and keys.needs_touch(key, now, interval)
            await session.rollback()
        if principal is not None and principal.key_id is not None and touch:
            async with state.sessionmaker() as session:
                await keys.touch_key(session, key_id=principal.key_id, now=now)
                await session.commit()
    except SQLAlchemyError as exc:
        log.error("API key store unavailable", extra={"error": type(exc).__name__})
        raise ServiceUnavailable(
            "API keys cannot be checked right now; try again shortly"
        ) from None
    if principal is None:
        raise Unauthenticated("invalid or revoked API key", headers=WWW_AUTHENTICATE)
    return Caller(principal, "api_key", client_ip=client_ip)
