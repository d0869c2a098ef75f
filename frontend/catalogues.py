"""Keep the pages' message catalogues in step with the templates and page code.

    python -m frontend.catalogues update   # add new messages to fr/nl/de (untranslated)
    python -m frontend.catalogues check    # list messages a catalogue does not translate

The test suite runs `missing()`: a message used by a page and missing from a catalogue
fails it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from frontend.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

FRONTEND_DIR = Path(__file__).resolve().parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHODS = [
    ("**.py", "python"),
    ("templates/**.html", "jinja2"),
]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
TRANSLATED = tuple(language for language in LANGUAGES if language != "en")


def extracted() -> Catalog:
    """Every message the pages use, with where it is used."""
    catalog = Catalog(domain=DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
        FRONTEND_DIR,
        method_map=METHODS,
        options_map=OPTIONS,
        keywords=KEYWORDS,
        strip_comment_tags=True,
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(language: str) -> Catalog:
    path = _path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN)
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def update() -> None:
    template = extracted()
    for language in TRANSLATED:
        catalog = _read(language)
        catalog.update(template, no_fuzzy_matching=True)
        path = _path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, ignore_obsolete=True)


def missing() -> dict[str, list[str]]:
    """Per language, the messages used by the pages that its catalogue does not translate."""
    wanted = [message.id for message in extracted() if message.id]
    result = {}
    for language in TRANSLATED:
        catalog = _read(language)
        gaps = []
        for message_id in wanted:
            entry = catalog.get(message_id)
            strings = entry.string if entry is not None else None
            ok = all(strings) if isinstance(strings, tuple | list) else bool(strings)
            if entry is None or not ok or entry.fuzzy:
                gaps.append(message_id if isinstance(message_id, str) else message_id[0])
        result[language] = gaps
    return result


def main(argv: list[str]) -> int:
    if argv[1:2] == ["update"]:
        update()
        return 0
    if argv[1:2] == ["check"]:
        gaps = missing()
        for language, messages in gaps.items():
            for message in messages:
                print(f"{language}: {message}")
        return 1 if any(gaps.values()) else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
