from __future__ import annotations

import pytest

from kernel.principal import ANONYMOUS, InvalidSignature, Principal, Role, sign, verify

SECRET = "s3cret"


def test_signed_principal_round_trips() -> None:
    principal = Principal(role=Role.CENTRE, org_id="b5c1", key_id="k1", name="LUCENSE lab system")
    assert verify(sign(principal, SECRET), SECRET) == principal
    assert verify(sign(ANONYMOUS, SECRET), SECRET).is_anonymous


@pytest.mark.parametrize("header", [None, "", "a.b", "a.b.c.d", "x.1.deadbeef"])
def test_missing_or_malformed_headers_are_refused(header: str | None) -> None:
    with pytest.raises(InvalidSignature):
        verify(header, SECRET)


def test_another_secret_is_refused() -> None:
    with pytest.raises(InvalidSignature):
        verify(sign(Principal(role=Role.REGION), "other"), SECRET)


def test_tampered_payload_is_refused() -> None:
    header = sign(Principal(role=Role.FIRM, org_id="f1"), SECRET)
    forged = sign(Principal(role=Role.REGION), "attacker").split(".")[0]
    _, timestamp, mac = header.split(".")
    with pytest.raises(InvalidSignature):
        verify(f"{forged}.{timestamp}.{mac}", SECRET)


def test_old_and_future_signatures_are_refused() -> None:
    principal = Principal(role=Role.REGION)
    with pytest.raises(InvalidSignature, match="expired"):
        verify(sign(principal, SECRET, now=1_000), SECRET, now=1_000 + 61)
    with pytest.raises(InvalidSignature, match="expired"):
        verify(sign(principal, SECRET, now=1_000 + 120), SECRET, now=1_000)
    assert verify(sign(principal, SECRET, now=1_000), SECRET, now=1_059) == principal


def test_during_a_rotation_the_old_and_the_new_secret_are_both_accepted() -> None:
    """Services get CLOCK_PRINCIPAL_SECRET=new and CLOCK_PRINCIPAL_PREVIOUS_SECRETS=old first;
    gateways still signing with the old one keep working until they switch."""
    principal = Principal(role=Role.CENTRE, org_id="b5c1")
    accepted = ["new", "old"]
    assert verify(sign(principal, "old"), accepted) == principal
    assert verify(sign(principal, "new"), accepted) == principal
    with pytest.raises(InvalidSignature):
        verify(sign(principal, "retired"), accepted)
    with pytest.raises(InvalidSignature):
        verify(sign(principal, "old"), [])


def test_the_previous_secrets_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kernel.settings import ServiceSettings

    monkeypatch.setenv("CLOCK_PRINCIPAL_SECRET", "new")
    monkeypatch.setenv("CLOCK_PRINCIPAL_PREVIOUS_SECRETS", "old, older ,")
    assert ServiceSettings().accepted_principal_secrets() == ["new", "old", "older"]
