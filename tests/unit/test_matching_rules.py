"""EU size classes, ATECO codes and places of the matching service."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kernel import italy
from services.matching import ateco, geo
from services.matching.sizes import SizeClass, is_sme, size_class


@pytest.mark.parametrize(
    ("employees", "turnover", "balance", "expected"),
    [
        (9, None, None, SizeClass.MICRO),
        (9, Decimal(2_000_000), None, SizeClass.MICRO),
        (9, Decimal(3_000_000), None, SizeClass.SMALL),
        (9, Decimal(3_000_000), Decimal(1_500_000), SizeClass.MICRO),  # either ceiling
        (10, Decimal(1), None, SizeClass.SMALL),
        (49, Decimal(10_000_000), None, SizeClass.SMALL),
        (49, Decimal(10_000_001), Decimal(10_000_001), SizeClass.MEDIUM),
        (50, None, None, SizeClass.MEDIUM),
        (249, Decimal(50_000_000), None, SizeClass.MEDIUM),
        (249, Decimal(60_000_000), Decimal(43_000_000), SizeClass.MEDIUM),
        (249, Decimal(60_000_000), Decimal(44_000_000), SizeClass.LARGE),
        (250, Decimal(1), None, SizeClass.LARGE),
    ],
)
def test_size_class_follows_recommendation_2003_361(
    employees: int, turnover: Decimal | None, balance: Decimal | None, expected: SizeClass
) -> None:
    assert size_class(employees, turnover, balance) is expected
    assert is_sme(expected) is (expected is not SizeClass.LARGE)


def test_ateco_codes_are_checked_against_ateco_2025() -> None:
    assert ateco.check_ateco("13.20").code == "13.20"
    assert ateco.check_ateco("132000").code == "13.20.00"
    assert ateco.check_ateco("15.11.00").section == "C"
    mapped = ateco.check_ateco("62.01")  # ATECO 2007, one 2025 code
    assert mapped.code == "62.10" and mapped.section == "K"
    for bad in ("99.99", "", "ZZ"):
        with pytest.raises(ateco.InvalidAteco):
            ateco.check_ateco(bad)


def test_comuni_have_points_and_distances() -> None:
    florence = geo.locate("FI", "Firenze")
    carrara = geo.locate("ms", "CARRARA")
    assert florence is not None and carrara is not None
    assert 95 < geo.haversine_km(florence, carrara) < 100
    assert geo.locate("PI", "Santa Croce sull'Arno") == geo.locate("PI", "santa croce sull arno")
    assert geo.locate("PO", "Firenze") is None
    assert geo.distance_km(florence, None) is None
    # Every comune of the ISTAT list has a point.
    for code in ("FI", "PO", "LU", "MS", "BZ"):
        for name in italy.gazetteer().municipalities(code):
            assert geo.locate(code, name) is not None, (code, name)


def test_locations_are_checked() -> None:
    assert italy.check_location("PO", "Prato").province.name == "Prato"
    with pytest.raises(italy.InvalidLocation):
        italy.check_location("XX", "Prato")
    with pytest.raises(italy.InvalidLocation):
        italy.check_location("PO", "Firenze")
