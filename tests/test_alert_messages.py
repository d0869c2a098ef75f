"""Alert texts in every language: the fr, nl and de gettext catalogues match the English
source messages one to one (same placeholders, nothing missing, nothing stale), and every
kind of alert renders a subject, text and HTML in fr, nl, de and en. Pure: no database."""

from __future__ import annotations

import html
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from notifications.messages import (
    LANGUAGES,
    LINE_ACT,
    LINE_DIGEST_NONE,
    LINE_ESCALATED,
    LINE_OPEN,
    LINE_REMINDER,
    LINE_STALE,
    LOCALE_DIR,
    Message,
    render,
    source_messages,
    translate,
)
from notifications.rules import RULES
from notifications.vocabulary import AlertKind, Purpose

pytestmark = pytest.mark.pure

TRANSLATED = ("fr", "nl", "de")
PLURAL_RULES = {"fr": "(n > 1)", "nl": "(n != 1)", "de": "(n != 1)"}
BRUSSELS = ZoneInfo("Europe/Brussels")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
LINK = "https://safebed.example/api/alerts/42"
CASE = "K-7QX4"

# 13:30 UTC in winter is 14:30 in Brussels; 12:00 UTC in summer is 14:00.
WINTER = "2025-03-04T13:30:00+00:00"
SUMMER = "2025-07-01T12:00:00+00:00"

FACTS: dict[AlertKind, dict[str, Any]] = {
    AlertKind.RUNAWAY: {
        "episode_id": 31,
        "centre_id": 4,
        "centre_name": "Les Hirondelles",
        "risk_level": "high",
        "kind": "missing",
        "last_seen_at": WINTER,
        "reported_at": WINTER,
        "keep_bed_until": SUMMER,
        "age": 15,
        "gender": "girl",
        "exploitation_flagged": True,
    },
    AlertKind.RUNAWAY_UNRESOLVED: {
        "episode_id": 31,
        "centre_id": 4,
        "centre_name": "Les Hirondelles",
        "risk_level": "medium",
        "kind": "away_without_authorisation",
        "last_seen_at": WINTER,
        "hours_missing": 24,
    },
    AlertKind.VACANCY_FOR_WAITING_REQUEST: {
        "request_id": 412,
        "bed_id": 17,
        "bed_label": "K2-B",
        "centre_id": 7,
        "centre_name": "De Wissel",
        "score": 0.82,
        "fallback": False,
    },
    AlertKind.SPECIALISED_BED_FREED: {
        "bed_id": 23,
        "centre_id": 9,
        "centre_name": "Haus Tiefenbach",
    },
    AlertKind.URGENT_REQUEST_UNMATCHED: {
        "request_id": 415,
        "excluded": {"age": 14, "safety_zone": 6},
    },
    AlertKind.HOLD_RESPONSE_OVERDUE: {
        "hold_id": 88,
        "request_id": 412,
        "centre_id": 7,
        "centre_name": "De Wissel",
        "respond_by": WINTER,
    },
    AlertKind.HOLD_EXPIRING: {
        "hold_id": 88,
        "request_id": 412,
        "centre_id": 7,
        "centre_name": "De Wissel",
        "expires_at": WINTER,
    },
    AlertKind.OCCUPANCY_STALE: {
        "centre_id": 9,
        "centre_name": "Haus Tiefenbach",
        "last_change_at": WINTER,
    },
    AlertKind.VACANCY_DIGEST: {
        "date": "2025-03-04",
        "region": "BE-WLG",
        "region_name": "Liège",
        "total_free_now": 5,
        "centres": [
            {"name": "La Passerelle", "kind": "general", "free_now": 3, "stale": False},
            {"name": "Le Tremplin", "kind": "general", "free_now": 2, "stale": True},
        ],
    },
}

# Words a reader of each language must find in a high-risk "missing" runaway alert.
RUNAWAY_WORDS = {
    "fr": ("Fugue", "élevé", "disparition"),
    "nl": ("weggelopen", "hoog", "vermist"),
    "de": ("Abgängigkeit", "hoch", "vermisst"),
    "en": ("Runaway", "high", "missing"),
}
LIEGE = {"fr": "Liège", "nl": "Luik", "de": "Lüttich", "en": "Liège"}
# Alerts about one youth carry the case code; the others have none.
CASE_KINDS = {
    AlertKind.RUNAWAY,
    AlertKind.RUNAWAY_UNRESOLVED,
    AlertKind.VACANCY_FOR_WAITING_REQUEST,
    AlertKind.URGENT_REQUEST_UNMATCHED,
}


def _catalog(language: str) -> Catalog:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def _render(
    kind: AlertKind,
    language: str,
    *,
    facts: dict[str, Any] | None = None,
    purpose: Purpose | None = None,
    level: int = 1,
) -> Message:
    """As the outbox would: alerts that escalate are paged, the others are notices."""
    return render(
        kind,
        FACTS[kind] if facts is None else facts,
        language=language,
        zone=BRUSSELS,
        purpose=purpose or (Purpose.PAGE if RULES[kind].escalates else Purpose.NOTICE),
        level=level,
        case_code=CASE if kind in CASE_KINDS else "",
        link=LINK,
    )


def _lines(message: Message) -> list[str]:
    subject, blank, *lines = message.text.rstrip("\n").split("\n")
    assert subject == message.subject and blank == ""
    return lines


def test_source_messages_are_unique_and_formattable() -> None:
    messages = source_messages()
    assert len(messages) == len(set(messages))
    for message in messages:
        names = dict.fromkeys(PLACEHOLDER.findall(message), "x")
        assert "%(" not in message % names


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalogue_has_proper_gettext_headers(language: str) -> None:
    catalog = _catalog(language)
    headers = dict(catalog.mime_headers)
    assert str(catalog.locale).split("_")[0] == language
    assert headers["Language"].split("_")[0] == language
    assert catalog.charset.lower() == "utf-8"
    assert "charset=utf-8" in headers["Content-Type"].lower()
    assert catalog.num_plurals == 2
    assert catalog.plural_expr == PLURAL_RULES[language]


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalogue_translates_every_source_message_and_nothing_else(language: str) -> None:
    catalog = _catalog(language)
    entries = {m.id: m for m in catalog if m.id}
    source = set(source_messages())
    assert sorted(source - set(entries)) == [], "missing from the catalogue"
    assert sorted(set(entries) - source) == [], "not (or no longer) in source_messages()"
    assert list(catalog.obsolete) == [], "obsolete (#~) entries left in the catalogue"
    empty = [m.id for m in entries.values() if not isinstance(m.string, str) or not m.string]
    assert empty == [], "untranslated"
    assert [m.id for m in entries.values() if m.fuzzy] == [], "fuzzy translations"
    assert [m.id for m in entries.values() if m.string != m.string.strip()] == []
    # Babel keeps the last of two entries with one msgid: count them in the file itself.
    text = (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").read_text("utf-8")
    assert len(re.findall(r"^msgid ", text, flags=re.MULTILINE)) == len(source) + 1


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders_of_the_source(language: str) -> None:
    catalog = _catalog(language)
    for message in source_messages():
        translation = catalog[message].string
        assert sorted(PLACEHOLDER.findall(translation)) == sorted(PLACEHOLDER.findall(message)), (
            f"{language}: {message!r} -> {translation!r}"
        )
        # No stray %: the translation formats with exactly the source's names.
        names = dict.fromkeys(PLACEHOLDER.findall(message), "x")
        assert "%(" not in translation % names


@pytest.mark.parametrize("kind", list(AlertKind))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_alert_renders_subject_text_and_html(language: str, kind: AlertKind) -> None:
    message = _render(kind, language)
    assert message.subject and "?" not in message.subject and "%(" not in message.subject
    lines = _lines(message)
    action = LINE_ACT if RULES[kind].escalates else LINE_OPEN
    assert lines[-1] == translate(action, language) % {"link": LINK}
    assert any(CASE in line for line in lines) == (kind in CASE_KINDS)
    assert "?" not in message.text and "%(" not in message.text
    assert message.html.startswith(f'<!DOCTYPE html><html lang="{language}">')
    assert f"<title>{html.escape(message.subject)}</title>" in message.html
    assert f"<h1>{html.escape(message.subject)}</h1>" in message.html
    for line in lines[:-1]:
        assert f"<p>{html.escape(line)}</p>" in message.html
    assert f'<a href="{html.escape(LINK)}">{html.escape(lines[-1])}</a>' in message.html
    if language != "en":
        assert message.subject != _render(kind, "en").subject, "subject left in English"


@pytest.mark.parametrize("language", LANGUAGES)
def test_runaway_alert_speaks_the_readers_language(language: str) -> None:
    message = _render(AlertKind.RUNAWAY, language)
    for word in RUNAWAY_WORDS[language]:
        assert word.lower() in message.text.lower()


@pytest.mark.parametrize("language", LANGUAGES)
def test_times_are_shown_in_brussels_time(language: str) -> None:
    # English may write 2:30 PM; every language shows the Brussels hour, never the UTC one.
    hold = _render(AlertKind.HOLD_EXPIRING, language).subject
    assert re.search(r"\b(14|2):30\b", hold) and "13:30" not in hold
    stale = _render(AlertKind.OCCUPANCY_STALE, language).subject
    assert re.search(r"\b(14|2):30\b", stale) and "13:30" not in stale
    runaway = _render(AlertKind.RUNAWAY, language).text
    assert re.search(r"\b(14|2):30\b", runaway)  # last seen, winter time (UTC+1)
    assert re.search(r"\b(14|2):00\b", runaway)  # bed kept until, summer time (UTC+2)
    assert "12:00" not in runaway


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_purpose_adds_its_own_line(language: str) -> None:
    kind = AlertKind.RUNAWAY
    first = _lines(_render(kind, language, purpose=Purpose.PAGE, level=1))
    escalated = _lines(_render(kind, language, purpose=Purpose.PAGE, level=2))
    reminder = _lines(_render(kind, language, purpose=Purpose.REMINDER, level=2))
    notice = _lines(_render(kind, language, purpose=Purpose.NOTICE, level=1))
    escalation = translate(LINE_ESCALATED, language) % {"level": 2}
    assert escalation not in first
    assert escalated[0] == escalation and "2" in escalation
    assert reminder[0] == translate(LINE_REMINDER, language)
    assert reminder[-1] == translate(LINE_ACT, language) % {"link": LINK}
    assert notice[-1] == translate(LINE_OPEN, language) % {"link": LINK}


@pytest.mark.parametrize("language", LANGUAGES)
def test_vacancy_digest_lists_centres_in_the_readers_language(language: str) -> None:
    message = _render(AlertKind.VACANCY_DIGEST, language)
    assert LIEGE[language] in message.subject and "5" in message.subject
    lines = _lines(message)
    passerelle = next(line for line in lines if "La Passerelle" in line)
    tremplin = next(line for line in lines if "Le Tremplin" in line)
    assert "3" in passerelle and translate(LINE_STALE, language) not in passerelle
    assert "2" in tremplin and tremplin.endswith(translate(LINE_STALE, language))
    empty = {**FACTS[AlertKind.VACANCY_DIGEST], "centres": [], "total_free_now": 0}
    none = _render(AlertKind.VACANCY_DIGEST, language, facts=empty)
    assert translate(LINE_DIGEST_NONE, language) in _lines(none)


@pytest.mark.parametrize("language", LANGUAGES)
def test_html_escapes_the_facts(language: str) -> None:
    name = 'Foyer <b>Les Tilleuls</b> & "Co"'
    escaped = "Foyer &lt;b&gt;Les Tilleuls&lt;/b&gt; &amp; &quot;Co&quot;"
    runaway = _render(
        AlertKind.RUNAWAY, language, facts={**FACTS[AlertKind.RUNAWAY], "centre_name": name}
    )
    digest_facts = {
        **FACTS[AlertKind.VACANCY_DIGEST],
        "centres": [{"name": name, "kind": "general", "free_now": 1, "stale": False}],
    }
    digest = _render(AlertKind.VACANCY_DIGEST, language, facts=digest_facts)
    for message in (runaway, digest):
        assert name in message.text  # plain text stays as typed
        assert escaped in message.html
        assert "<b>" not in message.html
    assert f"<h1>{html.escape(runaway.subject)}</h1>" in runaway.html


@pytest.mark.parametrize("language", ["es", "xx", ""])
def test_unknown_language_falls_back_to_english(language: str) -> None:
    for kind in AlertKind:
        assert _render(kind, language) == _render(kind, "en")
    assert '<html lang="en">' in _render(AlertKind.RUNAWAY, language).html
