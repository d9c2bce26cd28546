"""Text analysis for the lexical index: folding, tokens, stop words, stems, language.

Tokens keep letters and digits together (`NIS2`, `17025`, `HPLC` stay whole), are folded to
lower-case ASCII, and lose the stop words of Italian and English (the Snowball lists, copied
from the catalogue's data: services never import each other). Words are stemmed with the
Snowball stemmer of the text's language (Italian or English); codes and acronyms are left
as they are, so they match across languages.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

import snowballstemmer

Language = Literal["it", "en"]
LANGUAGES: tuple[Language, ...] = ("it", "en")
TOKEN = re.compile(r"[a-z0-9]+(?:[-/][a-z0-9]+)*")
STOPWORDS_FILE = Path(__file__).parent / "data" / "stopwords.json"


def fold(text: str) -> str:
    """Lower case without accents: `Attività` → `attivita`."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@cache
def stopwords() -> dict[str, frozenset[str]]:
    data = json.loads(STOPWORDS_FILE.read_text(encoding="utf-8"))
    return {language: frozenset(data[language]) for language in LANGUAGES}


@cache
def _all_stopwords() -> frozenset[str]:
    words = stopwords()
    return words["it"] | words["en"]


def words(text: str) -> list[str]:
    """Folded tokens, `-` and `/` compounds split into their parts too (`iso/iec` → iso, iec)."""
    found: list[str] = []
    for token in TOKEN.findall(fold(text)):
        parts = re.split(r"[-/]", token)
        found.extend(parts)
        if len(parts) > 1:
            found.append("".join(parts))  # `co-design` also as `codesign`
    return found


def detect_language(text: str) -> Language | None:
    """Italian or English, by the stop words of each; None when there is no evidence."""
    lists = stopwords()
    tokens = TOKEN.findall(fold(text))
    scores = {language: sum(t in lists[language] for t in tokens) for language in LANGUAGES}
    # Words that are stop words in both (e.g. `a`, `e`) weigh for neither.
    if scores["it"] == scores["en"]:
        return None
    return "it" if scores["it"] > scores["en"] else "en"


_STEMMERS = {"it": snowballstemmer.stemmer("italian"), "en": snowballstemmer.stemmer("english")}


@lru_cache(maxsize=200_000)
def stem(word: str, language: Language) -> str:
    if any(c.isdigit() for c in word) or len(word) <= 3:
        return word  # codes (nis2, 17025) and acronyms (hplc, rfid, cnc) as they are
    return str(_STEMMERS[language].stemWord(word))


def analyse(text: str, language: Language | None) -> list[tuple[str, str]]:
    """(stem, surface word) of each indexed word of `text`, in order."""
    chosen: Language = language or detect_language(text) or "it"
    stop = _all_stopwords()
    return [(stem(w, chosen), w) for w in words(text) if w not in stop and len(w) > 1]


def term_counts(texts: dict[Language, str]) -> Counter[str]:
    """Term frequencies of a text given in one or both languages."""
    counts: Counter[str] = Counter()
    for language, text in texts.items():
        counts.update(s for s, _ in analyse(text, language))
    return counts


def surface_forms(texts: dict[Language, str]) -> dict[str, str]:
    """A readable word for each stem of the text (its first occurrence)."""
    forms: dict[str, str] = {}
    for language, text in texts.items():
        for term, word in analyse(text, language):
            forms.setdefault(term, word)
    return forms
