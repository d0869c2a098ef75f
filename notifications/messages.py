"""What an alert says, in the recipient's language: a subject, plain text and HTML.

English is the source language; French, Dutch and German come from the gettext
catalogues in notifications/locale (read with Babel, no compile step). Times are shown in
the display time zone, formatted for the language.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po

from capacity.geography import PROVINCES
from notifications.vocabulary import AlertKind, Purpose

LANGUAGES = ("fr", "nl", "de", "en")
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

TITLES: dict[AlertKind, str] = {
    AlertKind.RUNAWAY: "Runaway from %(centre)s, risk %(risk)s",
    AlertKind.RUNAWAY_UNRESOLVED: "Still missing after %(hours)s hours: runaway from %(centre)s",
    AlertKind.VACANCY_FOR_WAITING_REQUEST: (
        "A bed fits your waiting request %(request)s: %(bed)s at %(centre)s"
    ),
    AlertKind.SPECIALISED_BED_FREED: "A specialised place is free at %(centre)s",
    AlertKind.URGENT_REQUEST_UNMATCHED: "Urgent request %(request)s found no suitable bed",
    AlertKind.HOLD_RESPONSE_OVERDUE: "%(centre)s has not answered hold %(hold)s in time",
    AlertKind.HOLD_EXPIRING: "Hold %(hold)s at %(centre)s expires at %(time)s",
    AlertKind.OCCUPANCY_STALE: "Bed status of %(centre)s not confirmed since %(time)s",
    AlertKind.VACANCY_DIGEST: "Vacancies in %(region)s on %(date)s: %(free)s free",
}

RISK_WORDS = {"high": "high", "medium": "medium", "low": "low"}
RUNAWAY_KIND_WORDS = {
    "missing": "missing",
    "away_without_authorisation": "away without authorisation",
}

LINE_CASE = "Case: %(case)s"
LINE_LAST_SEEN = "Last seen: %(time)s"
LINE_KIND = "Situation: %(kind)s"
LINE_KEEP_BED = "The bed is kept until %(time)s."
LINE_ESCALATED = "Escalated to level %(level)s: nobody acknowledged in time."
LINE_REMINDER = "Reminder: you acknowledged this alert; it is not resolved yet."
LINE_ACT = "Acknowledge or resolve it here: %(link)s"
LINE_OPEN = "Details: %(link)s"
LINE_DIGEST_CENTRE = "%(centre)s: %(free)s free"
LINE_DIGEST_NONE = "No free bed in this region."
LINE_STALE = "(not confirmed for over a day)"


@cache
def _catalogue(language: str) -> dict[str, str]:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    return {
        m.id: m.string
        for m in catalog
        if m.id and isinstance(m.string, str) and m.string and not m.fuzzy
    }


def translate(message: str, language: str) -> str:
    return _catalogue(language).get(message, message) if language != "en" else message


def source_messages() -> list[str]:
    """Every English message an alert may use (a catalogue must translate them all)."""
    return [
        *TITLES.values(),
        *RISK_WORDS.values(),
        *RUNAWAY_KIND_WORDS.values(),
        LINE_CASE,
        LINE_LAST_SEEN,
        LINE_KIND,
        LINE_KEEP_BED,
        LINE_ESCALATED,
        LINE_REMINDER,
        LINE_ACT,
        LINE_OPEN,
        LINE_DIGEST_CENTRE,
        LINE_DIGEST_NONE,
        LINE_STALE,
    ]


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str


def _time(value: str | None, language: str, zone: ZoneInfo) -> str:
    if not value:
        return "?"
    # Belgian conventions in every language: 4/03/25, not the US 3/4/25.
    return format_datetime(
        datetime.fromisoformat(value), format="short", tzinfo=zone, locale=f"{language}_BE"
    )


def _date(value: str | None, language: str) -> str:
    if not value:
        return "?"
    return format_date(date.fromisoformat(value), format="medium", locale=f"{language}_BE")


def _values(facts: dict[str, Any], language: str, zone: ZoneInfo) -> dict[str, Any]:
    risk = facts.get("risk_level", "")
    return {
        "centre": facts.get("centre_name", "?"),
        "risk": translate(RISK_WORDS.get(risk, risk), language),
        "hours": facts.get("hours_missing", "?"),
        "request": facts.get("request_id", "?"),
        "hold": facts.get("hold_id", "?"),
        "bed": facts.get("bed_label", "?"),
        "time": _time(facts.get("expires_at") or facts.get("last_change_at"), language, zone),
        "region": PROVINCES[facts["region"]].name(language)
        if facts.get("region") in PROVINCES
        else facts.get("region", "?"),
        "date": _date(facts.get("date"), language),
        "free": facts.get("total_free_now", "?"),
    }


def render(
    kind: AlertKind,
    facts: dict[str, Any],
    *,
    language: str,
    zone: ZoneInfo,
    purpose: Purpose,
    level: int,
    case_code: str,
    link: str,
) -> Message:
    language = language if language in LANGUAGES else "en"
    values = _values(facts, language, zone)
    subject = translate(TITLES[kind], language) % values
    lines: list[str] = []
    if purpose is Purpose.REMINDER:
        lines.append(translate(LINE_REMINDER, language))
    elif purpose is Purpose.PAGE and level > 1:
        lines.append(translate(LINE_ESCALATED, language) % {"level": level})
    if case_code:
        lines.append(translate(LINE_CASE, language) % {"case": case_code})
    if kind in (AlertKind.RUNAWAY, AlertKind.RUNAWAY_UNRESOLVED):
        situation = RUNAWAY_KIND_WORDS.get(facts.get("kind", ""), facts.get("kind", ""))
        lines.append(translate(LINE_KIND, language) % {"kind": translate(situation, language)})
        lines.append(
            translate(LINE_LAST_SEEN, language)
            % {"time": _time(facts.get("last_seen_at"), language, zone)}
        )
        if facts.get("keep_bed_until"):
            lines.append(
                translate(LINE_KEEP_BED, language)
                % {"time": _time(facts["keep_bed_until"], language, zone)}
            )
    if kind is AlertKind.VACANCY_DIGEST:
        centres = facts.get("centres", [])
        for centre in centres:
            line = translate(LINE_DIGEST_CENTRE, language) % {
                "centre": centre["name"],
                "free": centre["free_now"],
            }
            lines.append(f"{line} {translate(LINE_STALE, language)}" if centre["stale"] else line)
        if not centres:
            lines.append(translate(LINE_DIGEST_NONE, language))
    action = LINE_ACT if purpose in (Purpose.PAGE, Purpose.REMINDER) else LINE_OPEN
    lines.append(translate(action, language) % {"link": link})
    text = "\n".join([subject, "", *lines]) + "\n"
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines[:-1])
    body += f'<p><a href="{html.escape(link)}">{html.escape(lines[-1])}</a></p>'
    page = (
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head><body>"
        f"<h1>{html.escape(subject)}</h1>{body}</body></html>"
    )
    return Message(subject=subject, text=text, html=page)
