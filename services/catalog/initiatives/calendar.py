"""The public calendar of training and dissemination events as an iCalendar feed (RFC 5545),
which a firm's calendar application subscribes to (`GET /initiatives/calendar.ics`).

One VEVENT per event: `UID` `<initiative id>@clock.toscana.it` (stable, so an update replaces
the event in a subscriber's calendar; `SEQUENCE` is the row's version less one), `DTSTAMP` and
`LAST-MODIFIED` the last change; with times, `DTSTART`/`DTEND` in UTC (the times are local
times of Europe/Rome; an event without an end time ends an hour after it starts); without, an
all-day event (`VALUE=DATE`, `DTEND` the day after the last). `SUMMARY` and `DESCRIPTION` in
the language asked for (the other when missing), `LOCATION` venue, comune and province,
`CATEGORIES` the kind, `URL` the initiative in the API. The `icalendar` package writes the
lines: CRLF, text escaping (`\\,` `\\;` `\\n`), folding at 75 octets.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from services.catalog.initiatives.models import Initiative
from services.catalog.initiatives.schemas import KIND_LABELS

ROME = ZoneInfo("Europe/Rome")
UID_DOMAIN = "clock.toscana.it"
NAMES = {
    "it": "CLOCK - Eventi di formazione e divulgazione dei centri",
    "en": "CLOCK - Training and dissemination events of the centres",
}


def text(language_map: dict[str, str], lang: str) -> str:
    other = "en" if lang == "it" else "it"
    return language_map.get(lang) or language_map.get(other) or ""


def _local(day: date, hhmm: str) -> datetime:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime.combine(day, time(hours, minutes), ROME).astimezone(UTC)


def location(row: Initiative) -> str:
    place = f"{row.municipality} ({row.province})" if row.municipality else row.province or ""
    return ", ".join(part for part in (row.venue, place) if part)


def vevent(row: Initiative, *, base_url: str, lang: str) -> Event:
    event = Event()
    url = f"{base_url}/initiatives/{row.id}"
    event.add("uid", f"{row.id}@{UID_DOMAIN}")
    event.add("dtstamp", row.updated_at.astimezone(UTC))
    event.add("created", row.created_at.astimezone(UTC))
    event.add("last-modified", row.updated_at.astimezone(UTC))
    event.add("sequence", row.version - 1)
    assert row.start_date is not None  # an event has its date (service rule)
    last_day = row.end_date or row.start_date
    if row.start_time:
        start = _local(row.start_date, row.start_time)
        end = _local(last_day, row.end_time) if row.end_time else start + timedelta(hours=1)
        event.add("dtstart", start)
        event.add("dtend", max(end, start))
    else:
        event.add("dtstart", row.start_date)
        event.add("dtend", last_day + timedelta(days=1))
    event.add("summary", text(row.title, lang))
    description = text(row.description, lang)
    event.add("description", f"{description}\n\n{url}" if description else url)
    if place := location(row):
        event.add("location", place)
    event.add("categories", [KIND_LABELS[row.kind][lang]])
    event.add("url", url)
    event.add("status", "CONFIRMED")
    event.add("transp", "TRANSPARENT")
    return event


def ics(rows: Sequence[Initiative], *, base_url: str, lang: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", f"-//CLOCK//Initiatives calendar//{lang.upper()}")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", NAMES[lang])
    calendar.add("x-wr-calname", NAMES[lang])
    calendar.add("x-wr-timezone", "Europe/Rome")
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    for row in rows:
        calendar.add_component(vevent(row, base_url=base_url, lang=lang))
    return bytes(calendar.to_ical())
