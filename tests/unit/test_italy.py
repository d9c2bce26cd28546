"""Partita IVA and the ISTAT list of comuni, as the membership service uses them."""

from __future__ import annotations

import pytest

from kernel import italy


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("00743110157", "00743110157"),
        ("IT00743110157", "00743110157"),
        ("IT 00743 110 157", "00743110157"),
    ],
)
def test_a_valid_partita_iva_is_normalised(given: str, expected: str) -> None:
    assert italy.normalise_vat(given) == expected
    assert italy.is_valid_vat(given)


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("00743110158", "check digit"),
        ("0074311015", "11 digits"),
        ("007431101577", "11 digits"),
        ("0074311015A", "digits only"),
        ("12345678901", "office code"),
    ],
)
def test_an_invalid_partita_iva_is_refused_with_a_reason(given: str, says: str) -> None:
    with pytest.raises(italy.InvalidVatNumber, match=says):
        italy.normalise_vat(given)
    assert not italy.is_valid_vat(given)


def test_tuscan_provinces_are_the_ten_of_the_istat_list() -> None:
    places = italy.gazetteer()
    for code in italy.TUSCAN_PROVINCES:
        province = places.province(code)
        assert province is not None and province.region == "Toscana" and province.tuscan
    bologna = places.province("BO")
    assert bologna is not None and bologna.region == "Emilia-Romagna" and not bologna.tuscan


@pytest.mark.parametrize(
    ("province", "given", "istat_name"),
    [
        ("FI", "Empoli", "Empoli"),
        ("SI", "radicondoli", "Radicondoli"),
        ("LI", "CECINA", "Cecina"),
        ("LU", "Viareggio", "Viareggio"),
        ("PT", "Montecatini Terme", "Montecatini-Terme"),
        ("FC", "Forli", "Forlì"),
        ("SI", "  Siena ", "Siena"),
    ],
)
def test_municipalities_are_found_in_their_province(
    province: str, given: str, istat_name: str
) -> None:
    found = italy.check_location(province, given)
    assert found.name == istat_name
    assert found.province.code == province


def test_a_municipality_of_another_province_is_refused() -> None:
    with pytest.raises(italy.InvalidLocation) as error:
        italy.check_location("FI", "Lucca")
    assert error.value.field == "municipality"
    assert "Firenze" in error.value.message


@pytest.mark.parametrize("code", ["XX", "F1", "FIR", ""])
def test_an_unknown_province_is_refused(code: str) -> None:
    with pytest.raises(italy.InvalidLocation) as error:
        italy.check_location(code, "Firenze")
    assert error.value.field == "province"


def test_the_list_is_the_real_one_not_a_short_hand_typed_one() -> None:
    places = italy.gazetteer()
    assert len(places.municipalities("FI")) > 40
    assert "Radicondoli" in places.municipalities("SI")
    assert places.municipalities("ZZ") == []
    assert italy.gazetteer() is places  # loaded once
