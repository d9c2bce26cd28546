"""The authenticated principal, as the gateway signs it for the services.

Header `X-Clock-Principal: <base64url(json)>.<unix time>.<hex hmac-sha256>`; the HMAC covers
the first two parts, with the secret shared by the gateway and the services. A signature older
than `MAX_AGE` seconds (or from the future beyond the same skew) is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, ValidationError

PRINCIPAL_HEADER = "X-Clock-Principal"
MAX_AGE_SECONDS = 60


class Role(StrEnum):
    REGION = "region"
    CENTRE = "centre"
    FIRM = "firm"
    PARTNER = "partner"
    ANONYMOUS = "anonymous"


ROLES_WITH_ORGANISATION = frozenset({Role.CENTRE, Role.FIRM, Role.PARTNER})


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Role
    org_id: str | None = None
    """Membership organisation (centre, partner) or matching firm (firm) it acts for."""
    key_id: str | None = None
    name: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.role is Role.ANONYMOUS


ANONYMOUS = Principal(role=Role.ANONYMOUS)


class InvalidSignature(Exception):
    pass


def _mac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(principal: Principal, secret: str, *, now: float | None = None) -> str:
    payload = base64.urlsafe_b64encode(principal.model_dump_json().encode()).decode().rstrip("=")
    timestamp = str(int(now if now is not None else time.time()))
    message = f"{payload}.{timestamp}"
    return f"{message}.{_mac(secret, message.encode())}"


def verify(
    header: str | None, secret: str | Sequence[str], *, now: float | None = None
) -> Principal:
    """The principal of a signed header; raises InvalidSignature. Several secrets: any of
    them may have signed it (a rotation under way)."""
    if not header:
        raise InvalidSignature("missing principal header")
    parts = header.split(".")
    if len(parts) != 3:
        raise InvalidSignature("malformed principal header")
    payload, timestamp, mac = parts
    message = f"{payload}.{timestamp}".encode()
    candidates = [secret] if isinstance(secret, str) else list(secret)
    # Every candidate is compared (no early exit): the time taken tells nothing of which.
    matches = [hmac.compare_digest(_mac(s, message), mac) for s in candidates]
    if not any(matches):
        raise InvalidSignature("bad principal signature")
    try:
        signed_at = int(timestamp)
    except ValueError as exc:
        raise InvalidSignature("malformed timestamp") from exc
    current = now if now is not None else time.time()
    if abs(current - signed_at) > MAX_AGE_SECONDS:
        raise InvalidSignature("principal signature expired")
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        return Principal.model_validate_json(raw)
    except (ValueError, ValidationError) as exc:
        raise InvalidSignature("malformed principal") from exc
