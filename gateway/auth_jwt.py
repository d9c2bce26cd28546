"""Bearer tokens (JWT) of an identity provider, verified against its JWKS.

A token is accepted when it is signed with an allowed asymmetric algorithm by a key of the
configured JWKS (matched by `kid`), names the configured issuer and one of the audiences, has
not expired and is already valid (`exp`, `nbf`, with a small leeway), and has a subject. Its
role and organisation come from configurable claims; the result is the same `Principal` an API
key gives, so the services cannot tell the two apart.

The JWKS is read from a file or fetched from a URL, kept for a TTL, fetched again (at most once
per refresh interval) when a token names an unknown `kid`, and served stale while the provider
cannot be reached.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt

from kernel.errors import Forbidden, ServiceUnavailable, Unauthenticated
from kernel.principal import ROLES_WITH_ORGANISATION, Principal, Role

log = logging.getLogger(__name__)

KEY_ID_MAX_LENGTH = 100
"""Services keep `key_id` in 100 characters."""
NAME_MAX_LENGTH = 200
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


def bearer_challenge(error: str | None = None, description: str | None = None) -> dict[str, str]:
    """`WWW-Authenticate` of a refused token (RFC 6750 §3)."""
    value = 'Bearer realm="clock"'
    if error:
        value += f', error="{error}"'
    if description:
        value += f', error_description="{description}"'
    return {"WWW-Authenticate": value}


class InvalidToken(Unauthenticated):
    """A token that is not one of ours: 401 with an RFC 6750 challenge."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers=bearer_challenge("invalid_token", detail))


def looks_like_jwt(credentials: str) -> bool:
    """Three base64url parts, the first a JSON object: a JWS in compact form."""
    parts = credentials.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return False
    try:
        header = jwt.get_unverified_header(credentials)
    except jwt.PyJWTError:
        return False
    return isinstance(header, dict)


@dataclass(frozen=True)
class TokenIdentity:
    """Who a verified token speaks for."""

    principal: Principal
    subject: str


class JwksUnavailable(ServiceUnavailable):
    pass


class JwksCache:
    """The provider's signing keys, by `kid`.

    `source` is an http(s) URL (fetched with `client`) or a file path. Keys are kept for `ttl`
    seconds; an unknown `kid` causes one more fetch, at most once per `refresh_interval`.
    """

    def __init__(
        self,
        source: str,
        *,
        client: httpx.AsyncClient | None = None,
        ttl: float = 300.0,
        refresh_interval: float = 10.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.is_url = source.startswith(("https://", "http://"))
        self._client = client
        self._ttl = ttl
        self._refresh_interval = refresh_interval
        self._timeout = timeout
        self._clock = clock
        self._keys: list[dict[str, Any]] | None = None
        self._fetched_at = 0.0
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def _load(self) -> list[dict[str, Any]]:
        self.fetches += 1
        if self.is_url:
            if self._client is None:
                raise RuntimeError("a JWKS URL needs an HTTP client")
            response = await self._client.get(
                self.source, timeout=self._timeout, headers={"Accept": "application/json"}
            )
            response.raise_for_status()
            document = response.json()
        else:
            path = Path(self.source.removeprefix("file://"))
            document = json.loads(await anyio.Path(path).read_text())
        return parse_jwks(document)

    async def _refresh(self, *, reason: str) -> None:
        self._attempted_at = self._clock()
        try:
            keys = await self._load()
        except (httpx.HTTPError, OSError, ValueError) as exc:
            log.warning(
                "JWKS could not be read",
                extra={"reason": reason, "error": type(exc).__name__, "stale": bool(self._keys)},
            )
            if self._keys is None:
                raise JwksUnavailable(
                    "the identity provider's keys cannot be read right now; try again shortly"
                ) from None
            return
        self._keys = keys
        self._fetched_at = self._clock()

    def _may_refresh(self) -> bool:
        return (
            self._attempted_at is None
            or self._clock() - self._attempted_at >= self._refresh_interval
        )

    async def keys(self, kid: str | None) -> list[dict[str, Any]]:
        """The keys a token with `kid` may be signed with (every key when it names none)."""
        now = self._clock()
        if self._keys is None or (now - self._fetched_at >= self._ttl and self._may_refresh()):
            async with self._lock:
                if self._keys is None or (
                    self._clock() - self._fetched_at >= self._ttl and self._may_refresh()
                ):
                    await self._refresh(reason="expired" if self._keys else "first use")
        found = self._matching(kid)
        if not found and kid is not None and self._may_refresh():
            async with self._lock:
                found = self._matching(kid)
                if not found and self._may_refresh():
                    await self._refresh(reason="unknown kid")
                    found = self._matching(kid)
        return found

    def _matching(self, kid: str | None) -> list[dict[str, Any]]:
        keys = self._keys or []
        if kid is None:
            return list(keys)
        return [key for key in keys if key.get("kid") == kid]


def parse_jwks(document: Any) -> list[dict[str, Any]]:
    """The signature keys of a JWKS document (`use` other than `sig`, symmetric keys and
    private parts are dropped)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("a JWKS is an object with a `keys` list")
    keys = []
    for key in document["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC"):
            continue
        if key.get("use", "sig") != "sig":
            continue
        public = {k: v for k, v in key.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
        keys.append(public)
    return keys


def _compatible(key: Mapping[str, Any], algorithm: str) -> bool:
    if key.get("alg") not in (None, algorithm):
        return False
    if key.get("kty") != KEY_TYPES.get(algorithm[:2]):
        return False
    return key.get("kty") != "EC" or key.get("crv") == EC_CURVES.get(algorithm)


def _key_id(subject: str) -> str:
    """The principal's `key_id` for a token: `oidc:<sub>`, or a digest of a long subject."""
    candidate = f"oidc:{subject}"
    if len(candidate) <= KEY_ID_MAX_LENGTH:
        return candidate
    return "oidc#" + hashlib.sha256(subject.encode()).hexdigest()


class JwtVerifier:
    """Verifies bearer tokens and turns them into principals."""

    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        audience: Sequence[str],
        algorithms: Sequence[str],
        leeway: float,
        role_claim: str,
        org_claim: str,
        name_claim: str | None = None,
    ) -> None:
        self.jwks = jwks
        self.issuer = issuer
        self.audience = list(audience)
        self.algorithms = list(algorithms)
        self.leeway = leeway
        self.role_claim = role_claim
        self.org_claim = org_claim
        self.name_claim = name_claim

    async def verify(self, token: str) -> TokenIdentity:
        """The identity of a valid token; InvalidToken (401), Forbidden (403: a valid token
        without a platform role or organisation) or JwksUnavailable (503) otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed bearer token") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise InvalidToken(
                f"token algorithm not accepted; accepted: {', '.join(self.algorithms)}"
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("malformed bearer token")
        candidates = [k for k in await self.jwks.keys(kid) if _compatible(k, algorithm)]
        if not candidates:
            raise InvalidToken("token signed with an unknown key")
        claims = self._decode(token, algorithm, candidates)
        return self._identity(claims)

    def _decode(
        self, token: str, algorithm: str, candidates: list[dict[str, Any]]
    ) -> dict[str, Any]:
        signature_error: jwt.PyJWTError | None = None
        for key in candidates:
            try:
                signing_key = jwt.PyJWK(key, algorithm=algorithm)
            except jwt.PyJWTError:
                continue
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key=signing_key,
                    algorithms=[algorithm],
                    audience=self.audience,
                    issuer=self.issuer,
                    leeway=self.leeway,
                    options={"require": ["exp", "iss", "aud", "sub"]},
                )
                return claims
            except jwt.InvalidSignatureError as exc:
                signature_error = exc  # maybe another key of the same kid (rotation)
            except jwt.ExpiredSignatureError:
                raise InvalidToken("token expired") from None
            except jwt.ImmatureSignatureError:
                raise InvalidToken("token not yet valid") from None
            except jwt.InvalidAudienceError:
                raise InvalidToken("token not meant for this API (audience)") from None
            except jwt.InvalidIssuerError:
                raise InvalidToken("token from an issuer this API does not trust") from None
            except jwt.MissingRequiredClaimError as exc:
                raise InvalidToken(f"token without the '{exc.claim}' claim") from None
            except jwt.PyJWTError:
                raise InvalidToken("malformed bearer token") from None
        if signature_error is not None:
            raise InvalidToken("token signature does not verify")
        raise InvalidToken("token signed with an unknown key")

    def _identity(self, claims: Mapping[str, Any]) -> TokenIdentity:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            raise InvalidToken("token without a subject")
        role = self._role(claims.get(self.role_claim))
        org_id: str | None = None
        if role in ROLES_WITH_ORGANISATION:
            raw_org = claims.get(self.org_claim)
            if not isinstance(raw_org, str) or not raw_org.strip():
                raise Forbidden(
                    f"a {role} token acts for one organisation: claim '{self.org_claim}' missing"
                )
            try:
                org_id = str(uuid.UUID(raw_org.strip()))
            except ValueError:
                raise Forbidden(f"claim '{self.org_claim}' is not an organisation id") from None
        name = claims.get(self.name_claim) if self.name_claim else None
        principal = Principal(
            role=role,
            org_id=org_id,
            key_id=_key_id(subject),
            name=name[:NAME_MAX_LENGTH] if isinstance(name, str) and name else None,
        )
        return TokenIdentity(principal=principal, subject=subject)

    def _role(self, value: Any) -> Role:
        """The platform role a claim names: a string, or a list naming exactly one."""
        platform = {r.value for r in Role if r is not Role.ANONYMOUS}
        names = value if isinstance(value, list) else [value]
        roles = [name for name in names if isinstance(name, str) and name in platform]
        if len(roles) != 1:
            allowed = ", ".join(sorted(platform))
            raise Forbidden(
                f"the token carries no platform role in claim '{self.role_claim}' "
                f"(one of {allowed})"
            )
        return Role(roles[0])
