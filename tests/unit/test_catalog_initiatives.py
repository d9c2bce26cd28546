"""Overlap detection of initiatives and the iCalendar lines, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime

from icalendar import Calendar

from services.catalog.initiatives import calendar, overlaps
from services.catalog.initiatives.models import Initiative

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def initiative(**fields: object) -> Initiative:
    values: dict[str, object] = {
        "id": "0190-a",
        "centre_id": "c1",
        "kind": "training",
        "title": {"it": "Corso di stampa 3D"},
        "description": {},
        "start_date": date(2026, 4, 10),
        "end_date": None,
        "start_time": None,
        "end_time": None,
        "venue": None,
        "province": "LU",
        "municipality": "Lucca",
        "tags": {},
        "status": "planned",
        "version": 1,
        "created_at": NOW,
        "updated_at": NOW,
    } | fields
    return Initiative(**values)


def test_windows_overlap_with_open_ends_and_one_day_events() -> None:
    window = overlaps.Window
    assert window(date(2026, 1, 1), date(2026, 12, 31)).overlaps(window(date(2026, 12, 31), None))
    assert not window(date(2026, 1, 1), date(2026, 6, 30)).overlaps(
        window(date(2026, 7, 1), date(2026, 8, 1))
    )
    assert window(None, None).overlaps(window(date(2030, 1, 1), date(2030, 1, 2)))
    event = overlaps.Window.of(initiative())
    assert event == window(date(2026, 4, 10), date(2026, 4, 10))
    assert overlaps.Window.of(initiative(kind="research_project")).end is None


def test_similar_topic_and_tags_overlap_unrelated_ones_do_not() -> None:
    tags = {"s3": ["S3-2021.MAT"], "ket": ["advanced_materials"]}
    a = overlaps.signature(
        {"it": "Riciclo dei compositi in fibra di carbonio"},
        {"it": "Resine termoplastiche per laminati in fibra di carbonio nella nautica."},
        tags,
    )
    b = overlaps.signature(
        {"it": "Compositi riciclabili in fibra di carbonio per la nautica"},
        {"it": "Laminati in fibra di carbonio con resine termoplastiche."},
        tags,
    )
    c = overlaps.signature(
        {"it": "Sicurezza informatica per le PMI"},
        {"it": "Formazione sulla protezione dei dati e sulle reti aziendali."},
        {"s3": ["S3-2021.DIG"]},
    )
    match = overlaps.compare(a, b)
    assert match is not None and 0.4 <= match.similarity <= 1
    assert "carbon" in match.reason and "ket:advanced_materials" in match.reason
    assert overlaps.compare(a, c) is None
    assert overlaps.family("joint_action") == overlaps.family("research_project") == "project"
    assert overlaps.family("dissemination_event") == "event"


def test_vevent_lines_escape_and_convert_local_times_to_utc() -> None:
    row = initiative(
        title={"it": "Corso: metalli, polimeri; compositi", "en": "Course"},
        venue="Sala A, piano 1",
        start_time="09:30",
        end_time="13:00",
        start_date=date(2026, 7, 1),  # summer time: UTC+2
    )
    raw = calendar.ics([row], base_url="https://clock.example/api/v1/catalog", lang="it")
    assert b"SUMMARY:Corso: metalli\\, polimeri\\; compositi\r\n" in raw
    assert b"LOCATION:Sala A\\, piano 1\\, Lucca (LU)\r\n" in raw
    event = next(iter(Calendar.from_ical(raw).walk("VEVENT")))
    assert event.decoded("DTSTART") == datetime(2026, 7, 1, 7, 30, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 7, 1, 11, 0, tzinfo=UTC)
    assert str(event["UID"]) == "0190-a@clock.toscana.it"
    no_end = calendar.vevent(initiative(start_time="18:00"), base_url="https://x", lang="en")
    assert no_end.decoded("DTEND") == datetime(2026, 4, 10, 17, 0, tzinfo=UTC)
    assert str(no_end["SUMMARY"]) == "Corso di stampa 3D"  # no English title: the Italian one
