"""Staff-written text in the visitor's language, English when there is none (issue 24).

An engagement's title and summary and a response's wording may carry translations, kept
on the row as ``translations = {locale: {field: text}}`` (migration 0016). localized()
picks the visitor's language where staff wrote one and says which language it shows;
``localized_text`` (a template global) adds the notice a page shows when it falls back
to English.

The visitor's language is Flask-Babel's choice when Flask-Babel is set up (the switcher,
then Accept-Language); without it, only an explicit ``?lang=`` (part of the page's URL,
so the public page cache keeps each language apart).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, has_request_context, request

from engage.languages import names
from engage.languages.i18n import _

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
    """The language the visitor reads, as an ISO 639-1 code ("en" by default)."""
    if not has_request_context():
        return ENGLISH
    if "babel" in current_app.extensions:
        try:
            from flask_babel import get_locale

            chosen = get_locale()
        except Exception:  # Babel present but not ready: fall through
            chosen = None
        if chosen is not None:
            return _base(getattr(chosen, "language", None) or str(chosen)) or ENGLISH
    asked = _base(request.args.get("lang", "")[:12])
    return asked if asked in names.NAMES else ENGLISH


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
        return "rtl" if self.locale in names.RTL else "ltr"

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
    """Template global: ``field`` of ``obj`` for this visitor (or ``locale``)."""
    wanted = _base(locale) or visitor_locale()
    text, shown = localized(obj, field, wanted)
    return LocalizedText(text, shown, wanted)


def init_app(app: Flask) -> None:
    app.add_template_global(localized_text, "localized_text")
    app.add_template_global(fallback_notice, "fallback_notice")
    app.add_template_global(names.name, "language_name")
    app.add_template_global(names.NAMES, "language_names")
