"""The API key format, without a database."""

from __future__ import annotations

import hashlib

import pytest

from gateway.service import format_key, hash_secret, parse_key

PREFIX = "AbCdEf123456"
SECRET = "s3cr3t_with-dash_and_underscore_0123456789a"


def test_a_formatted_key_parses_back_even_with_underscores_in_the_secret() -> None:
    key = format_key(PREFIX, SECRET)
    assert key == f"clk_{PREFIX}_{SECRET}"
    assert parse_key(key) == (PREFIX, SECRET)
    assert parse_key(f"  {key}\n") == (PREFIX, SECRET)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "clk_",
        f"clk_{PREFIX}",
        f"clk_{PREFIX}_",
        f"clk_{PREFIX}-{SECRET}",
        f"clk_{PREFIX[:-1]}_{SECRET}",
        f"clk_{PREFIX}x_{SECRET}",
        f"CLK_{PREFIX}_{SECRET}",
        f"clk_{PREFIX[:-1]}!_{SECRET}",
        f"clk_{PREFIX}_short",
        f"clk_{PREFIX}_{'a' * 200}",
        f"clk_{PREFIX}_{SECRET[:-1]}é",
        f"Bearer clk_{PREFIX}_{SECRET}",
    ],
)
def test_malformed_keys_do_not_parse(raw: str) -> None:
    assert parse_key(raw) is None


def test_only_the_sha256_of_the_secret_is_kept() -> None:
    assert hash_secret(SECRET) == hashlib.sha256(SECRET.encode()).hexdigest()
