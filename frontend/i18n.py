"""The pages' languages: French, Dutch, German and English.

Messages are written in English in the templates and the page code (`_("…")`); the French,
Dutch and German catalogues live in frontend/locale/<lang>/LC_MESSAGES/messages.po and are
read with Babel when the app starts (no compile step). The language of a request is the
signed-in user's, else the browser's (Accept-Language), else French. Dates, times and
numbers follow Belgian conventions in each language, in the display time zone.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.dates import format_date, format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from backend.settings import get_settings
from backend.timeutil import as_utc, utcnow

LANGUAGES = ("fr", "nl", "de", "en")
LANGUAGE_NAMES = {"fr": "Français", "nl": "Nederlands", "de": "Deutsch", "en": "English"}
DEFAULT_LANGUAGE = "fr"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"

_current: ContextVar[str] = ContextVar("page_language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: str) -> NullTranslations:
    """The catalogue of `language` (English: the messages themselves)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == "en" or not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)


def negotiate(accept_language: str | None) -> str:
    """The best of our languages for an Accept-Language header (weights respected)."""
    preferred: list[tuple[float, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and weight > 0:
            preferred.append((-weight + position * 1e-6, tag.replace("_", "-")))
    tags = [tag for _, tag in sorted(preferred)]
    # "nl-BE" matches "nl", and so on.
    found = negotiate_locale(tags, list(LANGUAGES), sep="-") or negotiate_locale(
        [tag.split("-")[0] for tag in tags], list(LANGUAGES), sep="-"
    )
    return found or DEFAULT_LANGUAGE


def use(language: str) -> None:
    """The language of the pages rendered for the current request."""
    _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def current() -> str:
    return _current.get()


def gettext(message: str, **values: object) -> str:
    text = translations(current()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    text = translations(current()).ngettext(singular, plural, n)
    return text % {"num": n, **values}


_ = gettext


def _locale() -> str:
    return f"{current()}_BE"


def format_when(moment: datetime | str | None, style: str = "short") -> str:
    """A stored time in the display time zone, e.g. 27/11/26 21:40 (fr)."""
    if moment is None:
        return ""
    zone = get_settings().display_timezone
    return format_datetime(as_utc(moment), format=style, tzinfo=zone, locale=_locale())


def format_day(day: date | None, style: str = "medium") -> str:
    return format_date(day, format=style, locale=_locale()) if day else ""


def format_ago(moment: datetime | str | None) -> str:
    """How long ago, e.g. "il y a 12 minutes"."""
    if moment is None:
        return ""
    delta = as_utc(moment) - utcnow()
    return format_timedelta(delta, add_direction=True, locale=_locale(), threshold=1.5)


def format_number(value: float | int) -> str:
    return format_decimal(value, locale=_locale())


def language_name(language: str) -> str:
    return LANGUAGE_NAMES.get(language) or Locale.parse(language).get_display_name(language)
