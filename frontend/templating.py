"""The Jinja environment of the pages: autoescaping, translations, Belgian formats."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from frontend import i18n
from frontend.labels import label

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # The language is the request's (set before the handler runs): see frontend.web.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.translations(i18n.current()).gettext(message),
        lambda singular, plural, n: i18n.translations(i18n.current()).ngettext(singular, plural, n),
        newstyle=True,
    )
    env.globals.update(
        current_language=i18n.current,
        languages=i18n.LANGUAGES,
        language_names=i18n.LANGUAGE_NAMES,
        label=label,
    )
    env.filters.update(
        when=i18n.format_when,
        day=i18n.format_day,
        ago=i18n.format_ago,
        number=i18n.format_number,
    )
    return env


def template_config() -> TemplateConfig:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))
