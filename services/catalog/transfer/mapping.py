"""Which column of a file is which field: guessed from the headers, saved by the centre or given
with the request.

Headers are compared folded (`fold`): `Tariffa oraria (€/h)` is `tariffa oraria eur h`. A guess
matches a header with a field's name (`name_it`, as an export writes it) or one of its synonyms
(`fields.Field.synonyms`), exactly first; then loosely, for the headers left: without little
words (`Anno d'acquisto` is `anno acquisto`), with a language marker (`Nome attrezzatura (EN)`
is `name_en`), or starting with a synonym (`Tariffa oraria (€/h)` starts with `tariffa oraria`).
A field gets one column at most (the first header that matches it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from services.catalog.transfer.fields import FIELDS, Field

_NON_ALNUM = re.compile(r"[^a-z0-9]+")

_LANGUAGES = {
    "it": "it",
    "ita": "it",
    "italiano": "it",
    "italian": "it",
    "en": "en",
    "eng": "en",
    "english": "en",
    "inglese": "en",
}
"""Words that say which language a column of a language map holds."""

_LITTLE_WORDS = frozenset(
    {
        "di",
        "d",
        "del",
        "dello",
        "della",
        "dell",
        "dei",
        "degli",
        "delle",
        "il",
        "lo",
        "la",
        "l",
        "i",
        "gli",
        "le",
        "in",
        "per",
        "of",
        "the",
        "for",
    }
)
"""Left out of headers and synonyms when they are compared loosely."""


def fold(text: str) -> str:
    """Lower case, no accents, each run of other characters than letters and digits one space,
    stripped: `Tariffa (€/h)` → `tariffa eur h` (the euro sign reads `eur`)."""
    if text.isascii():
        plain = text.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", text.replace("€", " eur "))
        plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(_NON_ALNUM.sub(" ", plain).split())


@dataclass(frozen=True)
class Problem:
    """One problem of an import: `row` (the spreadsheet's row number; None: the whole file),
    `column` (the header as in the file; None: no column), the cell's `value`, and `problem`,
    a sentence saying what is wrong."""

    row: int | None
    column: str | None
    value: str | None
    problem: str

    def as_dict(self) -> dict[str, int | str | None]:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "problem": self.problem,
        }

    def __getitem__(self, key: str) -> int | str | None:
        return self.as_dict()[key]


@dataclass
class Resolution:
    mapping: dict[str, str] = field(default_factory=dict)
    """Header → field name, in the file's order."""
    unmapped_headers: list[str] = field(default_factory=list)
    """Headers of the file no field reads (ignored on purpose or not recognised)."""
    problems: list[Problem] = field(default_factory=list)
    """Of the given mapping, and required fields without a column; all have `row` None."""

    @property
    def valid(self) -> bool:
        return not self.problems


# -- guessing -------------------------------------------------------------------------------


def _fields(entity: str) -> tuple[Field, ...]:
    try:
        return FIELDS[entity]
    except KeyError:
        raise ValueError(f"unknown entity {entity!r}: one of {', '.join(sorted(FIELDS))}") from None


def _loose(folded: str) -> tuple[str, ...]:
    return tuple(word for word in folded.split() if word not in _LITTLE_WORDS)


@dataclass(frozen=True)
class _Keys:
    exact: dict[str, str]
    """Folded name or synonym → field."""
    loose: dict[tuple[str, ...], str]
    """The same without little words → field (the first field that has it)."""
    bases: dict[tuple[str, ...], str]
    """Loose synonyms of a language map (`name`, `description`) without language marks → base."""
    languages: dict[str, tuple[str, str]]
    """Base → its Italian and English fields."""


@cache
def _keys(entity: str) -> _Keys:
    exact: dict[str, str] = {}
    loose: dict[tuple[str, ...], str] = {}
    bases: dict[tuple[str, ...], str] = {}
    languages: dict[str, tuple[str, str]] = {}
    for f in _fields(entity):
        for text in (f.name, *f.synonyms):
            key = fold(text)
            exact.setdefault(key, f.name)
            loose.setdefault(_loose(key), f.name)
        if f.name.endswith("_it") or f.name.endswith("_en"):
            base = f.name[:-3]
            languages[base] = (f"{base}_it", f"{base}_en")
            for text in (base, f.name, *f.synonyms):
                words = tuple(w for w in _loose(fold(text)) if w not in _LANGUAGES)
                if words:
                    bases.setdefault(words, base)
    return _Keys(exact, loose, bases, languages)


def _loose_guess(keys: _Keys, header: str, free: set[str]) -> str | None:
    """The field of a header that is not exactly a name or synonym; None when it is a field
    already taken (`Nome breve` after `Nome`) rather than the next best one."""
    best = _loose_best(keys, header)
    return best if best in free else None


def _loose_best(keys: _Keys, header: str) -> str | None:
    words = _loose(fold(header))
    if not words:
        return None
    if words in keys.loose:
        return keys.loose[words]
    # A language mark first or last: `Nome attrezzatura (EN)`, `EN description`.
    for position, rest in ((-1, words[:-1]), (0, words[1:])):
        language = _LANGUAGES.get(words[position])
        base = _match(keys.bases, rest) if language and rest else None
        if base is not None:
            it, en = keys.languages[base]
            return it if language == "it" else en
    # Starting with a synonym (longest first), or holding all the words of one of two or more.
    best: tuple[int, int, str] | None = None
    for key, name in keys.loose.items():
        if not key:
            continue
        if words[: len(key)] == key:
            score = (len(key), 1)
        elif len(key) >= 2 and set(key) <= set(words):
            score = (len(key), 0)
        else:
            continue
        if best is None or score > best[:2]:
            best = (*score, name)
    return best[2] if best else None


def _match(table: Mapping[tuple[str, ...], str], words: tuple[str, ...]) -> str | None:
    if words in table:
        return table[words]
    longest = max((k for k in table if k and words[: len(k)] == k), key=len, default=None)
    return table[longest] if longest else None


def _guess(entity: str, headers: Iterable[str], taken: Iterable[str] = ()) -> dict[str, str]:
    keys = _keys(entity)
    free = {f.name for f in _fields(entity)} - set(taken)
    headers = [h for h in headers if h.strip()]
    found: dict[str, str] = {}
    for header in headers:  # exact matches first, whatever their place in the file
        name = keys.exact.get(fold(header))
        if name is not None and name in free and header not in found:
            found[header] = name
            free.discard(name)
    for header in headers:
        if header in found:
            continue
        name = _loose_guess(keys, header, free)
        if name is not None:
            found[header] = name
            free.discard(name)
    return {header: found[header] for header in headers if header in found}


def guess_mapping(entity: str, headers: Sequence[str]) -> dict[str, str]:
    """Header → field for the headers recognised, in the file's order; a field gets at most
    one header (the first); headers not recognised are left out."""
    return _guess(entity, headers)


# -- resolution -----------------------------------------------------------------------------


def _find_header(headers: Sequence[str], given: str) -> str | None:
    if given in headers:
        return given
    folded = fold(given)
    matches = [h for h in headers if fold(h) == folded]
    return matches[0] if len(matches) == 1 else None


def _listed(values: Iterable[str], limit: int = 30) -> str:
    items = list(values)
    shown = ", ".join(repr(v) for v in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def resolve_mapping(
    entity: str,
    headers: Sequence[str],
    given: Mapping[str, str | None] | None = None,
    saved: Mapping[str, str | None] | None = None,
) -> Resolution:
    """Header → field: `given` (the request's; its mistakes are problems) overrides `saved`
    (the centre's last mapping, used for the headers this file has) overrides guesses. A field
    of "" or None ignores the column. Required fields without a column are problems too."""
    names = [f.name for f in _fields(entity)]
    valid = set(names)
    resolution = Resolution()
    decided: dict[str, str | None] = {}  # header → field, None: ignored
    owner: dict[str, str] = {}  # field → header

    for key, value in (given or {}).items():
        target = (value or "").strip()
        header = _find_header(headers, key)
        if header is None:
            resolution.problems.append(
                Problem(
                    None,
                    key,
                    target or None,
                    f"The mapping names the column {key!r}, which is not in the file "
                    f"(its columns are {_listed(h for h in headers if h)}).",
                )
            )
            continue
        if header in decided:
            resolution.problems.append(
                Problem(
                    None, key, target or None, f"The mapping names the column {header!r} twice."
                )
            )
            continue
        if not target:
            decided[header] = None
            continue
        if target not in valid:
            resolution.problems.append(
                Problem(
                    None,
                    header,
                    target,
                    f"{target!r} is not a field of a {entity}: the fields are {', '.join(names)}.",
                )
            )
            decided[header] = None
            continue
        if target in owner:
            resolution.problems.append(
                Problem(
                    None,
                    header,
                    target,
                    f"The mapping gives the field {target!r} two columns, {owner[target]!r} and "
                    f"{header!r}: a field reads one column.",
                )
            )
            decided[header] = None
            continue
        decided[header] = target
        owner[target] = header

    for key, value in (saved or {}).items():
        header = _find_header(headers, key)
        if header is None or header in decided:
            continue
        target = (value or "").strip()
        if not target:
            decided[header] = None
        elif target in valid and target not in owner:
            decided[header] = target
            owner[target] = header

    rest = [h for h in headers if h and h not in decided]
    for header, target in _guess(entity, rest, owner).items():
        decided[header] = target
        owner[target] = header

    resolution.mapping = {h: t for h in headers if (t := decided.get(h)) is not None}
    resolution.unmapped_headers = [h for h in headers if h and h not in resolution.mapping]
    resolution.problems.extend(missing_fields(entity, resolution.mapping.values()))
    return resolution


def missing_fields(entity: str, mapped: Iterable[str]) -> list[Problem]:
    """A problem for each required field without a column (a name or title: in neither
    language)."""
    have = set(mapped)
    problems = []
    for f in _fields(entity):
        if f.name.endswith("_it") and f.required:
            base = f.name[:-3]
            if not have & {f"{base}_it", f"{base}_en"}:
                problems.append(
                    Problem(
                        None,
                        None,
                        None,
                        f"No column holds the {base}: map a column to {base}_it (Italian) or "
                        f"{base}_en (English), or both.",
                    )
                )
        elif f.required and f.name not in have:
            problems.append(
                Problem(
                    None,
                    None,
                    None,
                    f"No column holds the required field {f.name!r}"
                    + (f" ({f.description})" if f.description else "")
                    + ".",
                )
            )
    return problems
