"""Staff-written text in the visitor's language, English when there is none (issue 24).

An engagement's title and summary and a response's wording may carry translations, kept
on the row as ``translations = {locale: {field: text}}`` (migration 0016). localized()
picks the visitor's language where staff wrote one and says which language it shows;
``localized_text`` (a template global) adds the notice a page shows when it falls back
to English.

The visitor's language is the page's: Flask-Babel's locale as engage.i18n chooses it
(the switcher's cookie, then Accept-Language, else English; staff pages are English).
The public page cache keys each page by that locale, so each language is kept apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, has_request_context
from flask_babel import gettext as _
from markupsafe import Markup

from engage import i18n
from engage.languages import names

ENGLISH = "en"

# The fields each kind of row may carry in other languages, with their length limits.
FIELDS: dict[str, dict[str, int]] = {
    "engagement": {"title": 300, "summary": 5_000},
    "response": {"you_said": 5_000, "we_did": 10_000},
}


def _base(locale: str | None) -> str:
    """ "pt-BR" and "pt_BR" are "pt"."""
    return (locale or "").replace("_", "-").split("-")[0].lower()


def localized(obj: object, field: str, locale: str | None) -> tuple[str, str]:
    """(text, the locale it is in): ``field`` of ``obj`` in ``locale`` if staff wrote it,
    else the English original."""
    code = _base(locale)
    if code and code != ENGLISH:
        translated = ((getattr(obj, "translations", None) or {}).get(code) or {}).get(field)
        if translated:
            return translated, code
    return getattr(obj, field) or "", ENGLISH


def visitor_locale() -> str:
    """The language the visitor reads, as an ISO 639-1 code: the page's Babel locale
    (engage.i18n.select_locale), "en" outside a request."""
    if not has_request_context():
        return ENGLISH
    return _base(i18n.current_code()) or ENGLISH


@dataclass(frozen=True)
class LocalizedText:
    """A field as a page shows it."""

    text: str
    locale: str  # what ``text`` is written in
    wanted: str  # what the visitor reads

    @property
    def fell_back(self) -> bool:
        """True when the visitor reads another language and this is the English."""
        return self.wanted != ENGLISH and self.locale == ENGLISH

    @property
    def direction(self) -> str:
        return names.direction(self.locale)

    @property
    def html(self) -> Markup:
        """The text in a span marked with its language and direction (escaped), to go
        inside a translated sentence."""
        return Markup('<span lang="%s" dir="%s">%s</span>') % (
            self.locale,
            self.direction,
            self.text,
        )

    @property
    def notice(self) -> str:
        """What the page says when it shows English instead ("" when it does not)."""
        if not self.fell_back:
            return ""
        return fallback_notice(self.wanted)


def fallback_notice(wanted: str) -> str:
    """The sentence a page shows when staff have not written it in ``wanted``."""
    language = names.NATIVE_NAMES.get(wanted, wanted)
    return _(
        "This has not been translated into %(language)s yet, so it is shown in English.",
        language=language,
    )


def localized_text(obj: object, field: str, locale: str | None = None) -> LocalizedText:
    """Template global: ``field`` of ``obj`` in the visitor's Babel locale (or ``locale``).

    Templates put ``lang`` and ``dir`` from the result on the element, so English shown
    on a Polish or Arabic page is marked ``lang="en"``."""
    wanted = _base(locale) or visitor_locale()
    text, shown = localized(obj, field, wanted)
    return LocalizedText(text, shown, wanted)


def init_app(app: Flask) -> None:
    app.add_template_global(localized_text, "localized_text")
    app.add_template_global(fallback_notice, "fallback_notice")
    app.add_template_global(names.name, "language_name")
    app.add_template_global(names.direction, "language_dir")
    app.add_template_global(names.NAMES, "language_names")
