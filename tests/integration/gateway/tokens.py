"""An identity provider for tests: signing keys it generates, their JWKS, tokens it signs,
and a real HTTP server that serves the JWKS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://idp.test/realms/clock"
AUDIENCE = "clock-api"
ORG = "7c0a4f52-8f9e-4a53-9b8e-3f5a0c6a1d01"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def ec_key(name: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: PrivateKey
    algorithm: str

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(public))
        else:
            data = json.loads(ECAlgorithm.to_jwk(public))
        return {**data, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def rs256(kid: str = "rsa-1") -> SigningKey:
    return SigningKey(kid, rsa_key(kid), "RS256")


def es256(kid: str = "ec-1") -> SigningKey:
    return SigningKey(kid, ec_key(kid), "ES256")


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.jwk() for key in keys]}


def claims(
    *,
    role: str | None = "centre",
    org: str | None = ORG,
    sub: str = "user-42",
    lifetime: int = 300,
    **overrides: Any,
) -> dict[str, Any]:
    now = int(time.time())
    result: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "name": "Maria Rossi",
    }
    if role is not None:
        result["clock_role"] = role
    if org is not None:
        result["clock_org"] = org
    result.update(overrides)
    return {k: v for k, v in result.items() if v is not None}


def sign(key: SigningKey, payload: dict[str, Any], *, headers: dict[str, Any] | None = None) -> str:
    """A token signed by `key`; its header names the key's `kid` unless `headers` says else."""
    fields = {"kid": key.kid} if headers is None else headers
    return jwt.encode(payload, key.private, algorithm=key.algorithm, headers=fields or None)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned(payload: dict[str, Any]) -> str:
    """`alg: none`: no signature at all."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(payload).encode())}."


def hs256(payload: dict[str, Any], secret: bytes, *, kid: str | None = None) -> str:
    """HMAC-signed (e.g. with a public key as the secret: the key-confusion attack)."""
    header_fields: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}
    if kid:
        header_fields["kid"] = kid
    signing_input = (
        f"{_b64(json.dumps(header_fields).encode())}.{_b64(json.dumps(payload).encode())}"
    )
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def tampered(token: str) -> str:
    """The same header and signature over other claims."""
    header, payload, signature = token.split(".")
    claims_ = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims_["clock_role"] = "region"
    return f"{header}.{_b64(json.dumps(claims_).encode())}.{signature}"


@dataclass
class JwksServer:
    """A real HTTP server answering GET /jwks with `document`; counts the requests."""

    document: dict[str, Any]
    requests: int = 0
    status: int = 200
    url: str = ""
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)


@contextmanager
def serve_jwks(document: dict[str, Any]) -> Iterator[JwksServer]:
    served = JwksServer(document)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests += 1
            body = json.dumps(served.document).encode()
            self.send_response(served.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served._server = server
    served.url = f"http://127.0.0.1:{server.server_address[1]}/jwks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def signed_bytes(key: SigningKey, payload: bytes) -> str:
    """A correctly signed JWS whose payload is not a JSON claims set."""
    return jwt.PyJWS().encode(
        payload, key.private, algorithm=key.algorithm, headers={"kid": key.kid}
    )
