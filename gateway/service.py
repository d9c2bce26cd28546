"""API keys: creation, listing, revocation, and authentication of a presented key.

A key reads `clk_<prefix>_<secret>`: the prefix (12 letters and digits) is its public lookup id,
the secret (`secrets.token_urlsafe(32)`) is kept only as its sha256 digest. The plaintext key is
returned once, at creation.

Plain async functions on a session: they flush and never commit; the caller owns the
transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import ApiKey, utcnow
from kernel.errors import InvalidInput, NotFound
from kernel.principal import ROLES_WITH_ORGANISATION, Principal, Role

KEY_SCHEME = "clk"
PREFIX_LENGTH = 12
PREFIX_ALPHABET = string.ascii_letters + string.digits
NAME_MAX_LENGTH = 200
DEFAULT_TOUCH_INTERVAL = timedelta(minutes=1)

_PREFIX_OK = re.compile(rf"^[A-Za-z0-9]{{{PREFIX_LENGTH}}}$")
_SECRET_OK = re.compile(r"^[A-Za-z0-9_\-]{16,128}$")
# Compared against when the prefix is unknown, so both paths cost one digest comparison.
_DUMMY_HASH = hashlib.sha256(b"clock-no-such-key").hexdigest()


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def format_key(prefix: str, secret: str) -> str:
    return f"{KEY_SCHEME}_{prefix}_{secret}"


def parse_key(raw_key: str) -> tuple[str, str] | None:
    """`(prefix, secret)` of a well-formed key, else None.

    The prefix has a fixed length, so an `_` inside the secret does not make it ambiguous.
    """
    raw_key = raw_key.strip()
    head = f"{KEY_SCHEME}_"
    if not raw_key.startswith(head):
        return None
    rest = raw_key[len(head) :]
    prefix, separator, secret = (
        rest[:PREFIX_LENGTH],
        rest[PREFIX_LENGTH : PREFIX_LENGTH + 1],
        rest[PREFIX_LENGTH + 1 :],
    )
    if separator != "_" or not _PREFIX_OK.match(prefix) or not _SECRET_OK.match(secret):
        return None
    return prefix, secret


def _new_prefix() -> str:
    return "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))


def _error(field: str, message: str, kind: str) -> dict[str, str]:
    return {"field": field, "in": "body", "message": message, "type": kind}


def _validate(
    role: Role | str, org_id: str | None, name: str | None
) -> tuple[Role, str | None, str | None]:
    """The role, canonical organisation id and name of a new key; InvalidInput listing every
    violation otherwise."""
    errors: list[dict[str, str]] = []
    parsed_role: Role | None = None
    try:
        parsed_role = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role if r is not Role.ANONYMOUS)
        errors.append(_error("role", f"unknown role; one of {allowed}", "enum"))
    if parsed_role is Role.ANONYMOUS:
        errors.append(_error("role", "anonymous callers need no key", "value_error"))

    org = org_id.strip() if org_id is not None else ""
    canonical_org: str | None = None
    if parsed_role is Role.REGION and org:
        message = "a region key acts for the Region, not for an organisation"
        errors.append(_error("org_id", message, "value_error"))
    elif org:
        try:
            canonical_org = str(uuid.UUID(org))
        except ValueError:
            errors.append(_error("org_id", "must be a UUID", "uuid_parsing"))
    elif parsed_role in ROLES_WITH_ORGANISATION:
        message = f"a {parsed_role} key acts for one organisation: org_id is required"
        errors.append(_error("org_id", message, "missing"))

    clean_name = name.strip() if name is not None else ""
    if len(clean_name) > NAME_MAX_LENGTH:
        message = f"at most {NAME_MAX_LENGTH} characters"
        errors.append(_error("name", message, "string_too_long"))

    if errors or parsed_role is None:
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        raise InvalidInput(f"invalid API key: {fields}", errors=errors)
    return parsed_role, canonical_org, clean_name or None


async def create_api_key(
    session: AsyncSession, *, role: Role, org_id: str | None, name: str | None
) -> tuple[ApiKey, str]:
    """A new key for `role` (acting for `org_id`); returns the row and the plaintext key."""
    parsed_role, canonical_org, clean_name = _validate(role, org_id, name)
    prefix = _new_prefix()
    while await session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is not None:
        prefix = _new_prefix()  # 62**12 prefixes: practically never taken
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        id=str(uuid.uuid4()),
        prefix=prefix,
        secret_hash=hash_secret(secret),
        role=parsed_role.value,
        org_id=canonical_org,
        name=clean_name,
        created_at=utcnow(),
    )
    session.add(key)
    await session.flush()
    return key, format_key(prefix, secret)


async def list_api_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    result = await session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))
    return list(result)


async def get_api_key(session: AsyncSession, *, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id.strip())
    if key is None:
        key = await session.scalar(select(ApiKey).where(ApiKey.prefix == key_id.strip()))
    if key is None:
        raise NotFound(f"no API key {key_id}")
    return key


async def revoke_api_key(session: AsyncSession, *, key_id: str) -> ApiKey:
    """Revoke a key (by id, or by its prefix); revoking it again changes nothing."""
    key = await get_api_key(session, key_id=key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
    return key


async def authenticate(
    session: AsyncSession,
    raw_key: str,
    *,
    now: datetime | None = None,
    touch_interval: timedelta = DEFAULT_TOUCH_INTERVAL,
) -> Principal | None:
    """The principal of a valid, unrevoked key; None for an unknown, revoked or malformed one.

    Records `last_used_at` at most once per `touch_interval`, so a busy key is not a write
    per request.
    """
    key = await find_valid_key(session, raw_key)
    if key is None:
        return None
    current = now or utcnow()
    if needs_touch(key, current, touch_interval):
        key.last_used_at = current
        await session.flush()
    return principal_of(key)


async def find_valid_key(session: AsyncSession, raw_key: str) -> ApiKey | None:
    """The key, if it exists, matches its secret and is not revoked (reads only)."""
    parsed = parse_key(raw_key)
    if parsed is None:
        return None
    prefix, secret = parsed
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    presented = hash_secret(secret)
    if key is None:
        hmac.compare_digest(presented, _DUMMY_HASH)
        return None
    if not hmac.compare_digest(presented, key.secret_hash):
        return None
    if key.revoked_at is not None:
        return None
    return key


def needs_touch(key: ApiKey, now: datetime, touch_interval: timedelta) -> bool:
    return key.last_used_at is None or now - key.last_used_at >= touch_interval


async def touch_key(session: AsyncSession, *, key_id: str, now: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


def principal_of(key: ApiKey) -> Principal:
    return Principal(role=Role(key.role), org_id=key.org_id, key_id=key.id, name=key.name)
