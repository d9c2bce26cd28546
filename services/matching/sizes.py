"""Size class of an enterprise by the EU definition (Commission Recommendation 2003/361/EC).

Article 2 of the Annex: an enterprise is

- medium-sized: fewer than 250 persons employed, and annual turnover not exceeding EUR 50
  million or annual balance sheet total not exceeding EUR 43 million;
- small: fewer than 50 persons, and turnover or balance sheet total not exceeding EUR 10 million;
- micro: fewer than 10 persons, and turnover or balance sheet total not exceeding EUR 2 million;
- large: any other.

The headcount is the mandatory criterion; the firm may choose which financial ceiling it meets
(turnover *or* balance sheet). With the headcount alone (no financial figure given) the class is
the headcount's: a documented approximation, since the financial ceiling cannot be checked.
Linked and partner enterprises (Article 3) are not considered: the figures given are taken as
the enterprise's own.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum


class SizeClass(StrEnum):
    MICRO = "micro"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


# (class, headcount below, turnover at most, balance sheet total at most), smallest first.
CEILINGS: tuple[tuple[SizeClass, int, Decimal, Decimal], ...] = (
    (SizeClass.MICRO, 10, Decimal(2_000_000), Decimal(2_000_000)),
    (SizeClass.SMALL, 50, Decimal(10_000_000), Decimal(10_000_000)),
    (SizeClass.MEDIUM, 250, Decimal(50_000_000), Decimal(43_000_000)),
)


def size_class(
    employees: int,
    turnover_eur: Decimal | None = None,
    balance_sheet_eur: Decimal | None = None,
) -> SizeClass:
    """The smallest class whose headcount ceiling and one financial ceiling the firm meets."""
    if employees < 0:
        raise ValueError("employees cannot be negative")
    financials_known = turnover_eur is not None or balance_sheet_eur is not None
    for klass, headcount, turnover_max, balance_max in CEILINGS:
        if employees >= headcount:
            continue
        if not financials_known:
            return klass
        if (turnover_eur is not None and turnover_eur <= turnover_max) or (
            balance_sheet_eur is not None and balance_sheet_eur <= balance_max
        ):
            return klass
    return SizeClass.LARGE


def is_sme(klass: SizeClass) -> bool:
    return klass is not SizeClass.LARGE
