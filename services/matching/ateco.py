"""ATECO codes of firms, checked against ATECO 2025 (ISTAT), shipped with the `ateco` package.

A code of ATECO 2007 (2022 update) is accepted when ISTAT's correspondence table maps it to
exactly one 2025 code.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernel.italy import ateco_section

ATECO_EDITION = "2025"


@dataclass(frozen=True)
class AtecoCode:
    code: str
    """Dotted ATECO 2025 code, e.g. `13.20` or `62.10.00`."""
    title: str
    level: str
    section: str
    """The section letter (A-V), e.g. `C` for manufacturing."""
    division: str
    """The two-digit division, e.g. `13`; empty for a section."""
    given: str
    """The code as the caller wrote it (a 2007/2022 code before mapping)."""


class InvalidAteco(ValueError):
    pass


def check_ateco(value: str) -> AtecoCode:
    """The ATECO 2025 code for `value` (dotted or compact); raises InvalidAteco."""
    import ateco

    raw = value.strip()
    try:
        code = ateco.canonicalize(raw)
    except ValueError as exc:
        raise InvalidAteco("an ATECO code is required") from exc
    node = ateco.lookup(code, edition=ATECO_EDITION)
    if node is None and ateco.lookup(code, edition="2022") is not None:
        mapped = ateco.map_code(code, "2022", ATECO_EDITION)
        if len(mapped.targets) == 1:
            node = ateco.lookup(mapped.targets[0], edition=ATECO_EDITION)
        else:
            options = ", ".join(mapped.targets) or "none"
            raise InvalidAteco(
                f"{raw!r} is an ATECO 2007 code that ATECO 2025 splits ({options}): "
                "give the 2025 code"
            )
    if node is None:
        raise InvalidAteco(f"{raw!r} is not an ATECO 2025 code (ISTAT classification)")
    division = node.code[:2] if node.code[:2].isdigit() else ""
    return AtecoCode(
        code=node.code,
        title=node.title,
        level=node.level,
        section=ateco_section(node.code, ATECO_EDITION),
        division=division,
        given=raw,
    )
