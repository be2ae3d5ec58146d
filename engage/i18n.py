"""The interface in several languages (issue 24): Flask-Babel, the locale of each request,
the language switcher and locale-aware dates and numbers.

Which language a page is in, first match wins:

1. the visitor's choice from the switcher on every public page, kept in the
   ``engage_lang`` cookie (``GET /language/<code>?next=<path>`` sets it);
2. the browser's ``Accept-Language``;
3. English.

Staff pages stay English whatever the visitor chose. Outside a request (the worker
rendering an email) the locale is English unless a caller forces one with
``flask_babel.force_locale`` (see ``email_locale``).

Catalogues live in ``engage/translations/<code>/LC_MESSAGES/messages.po``; README.md
("Adding a language") says how an organisation adds its own. A language is offered
only when it is listed in SUPPORTED *and* its compiled catalogue exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask import Blueprint, Flask, current_app, has_request_context, redirect, request
from flask_babel import Babel, get_locale, refresh
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
COOKIE = "engage_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
DEFAULT = "en"


@dataclass(frozen=True)
class Language:
    """A language the interface is offered in."""

    code: str  # as in the catalogue's folder and the html lang attribute
    name: str  # the language's own name for itself, as the switcher shows it
    rtl: bool = False


# The interface's languages, in the switcher's order. English is the source language
# and needs no catalogue.
SUPPORTED: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English"),
        Language("pl", "Polski"),
        Language("bn", "বাংলা"),
        Language("ar", "العربية", rtl=True),
    )
}


def available() -> dict[str, Language]:
    """The SUPPORTED languages whose catalogue is compiled (English always)."""
    found = current_app.extensions.get("engage_languages")
    if found is None:
        found = {
            code: lang
            for code, lang in SUPPORTED.items()
            if code == DEFAULT or (TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo").is_file()
        }
        current_app.extensions["engage_languages"] = found
    return found


def has_catalogue(code: str | None) -> bool:
    """Can the interface (and its emails) be shown in this language?"""
    return bool(code) and code in available()


def select_locale() -> str:
    """The language of this request (Flask-Babel's locale selector)."""
    if not has_request_context():
        return DEFAULT
    # Staff pages and the JSON API (its messages are for programs) stay English.
    if request.blueprint == "staff" or request.path.startswith(("/staff", "/api/")):
        return DEFAULT
    languages = available()
    chosen = request.cookies.get(COOKIE)
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages.keys(), default=DEFAULT) or DEFAULT


def current_code() -> str:
    """The language code of the current locale ("en", "pl", ...)."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT


def current_language() -> Language:
    return SUPPORTED.get(current_code(), SUPPORTED[DEFAULT])


def email_locale(ui_locale: str | None, language: str | None) -> str:
    """The language of a resident's email: the interface language they used when it has
    a catalogue, else the language their feedback was written in when it has one, else
    English."""
    for code in (ui_locale, language):
        if code and has_catalogue(code.split("-")[0].split("_")[0].lower()):
            return code.split("-")[0].split("_")[0].lower()
    return DEFAULT


# Dates and numbers --------------------------------------------------------------------


def _babel_locale() -> Locale:
    code = current_code()
    # British English conventions for English (28 May 2019, 1,234).
    return Locale.parse("en_GB" if code == DEFAULT else code)


def long_date(value: date | datetime | None) -> str:
    """A date in words, in the page's language: 28 May 2019, 28 maja 2019, ..."""
    if value is None:
        return ""
    if current_code() == DEFAULT:
        return f"{value.day} {value:%B %Y}"  # the GOV.UK style, as before
    day = value.date() if isinstance(value, datetime) else value
    return babel_dates.format_date(day, format="long", locale=_babel_locale())


def clock_time(local: datetime) -> str:
    """A local clock time in the page's language: 2:05pm, 14:05, ..."""
    if current_code() == DEFAULT:
        hour = local.hour % 12 or 12
        return f"{hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}"
    return babel_dates.format_time(local.time(), format="short", locale=_babel_locale())


def number(value: int | float | None) -> str:
    """A number with the page language's grouping: 1,234 or 1 234."""
    if value is None:
        return ""
    return babel_numbers.format_decimal(value, locale=_babel_locale())


class LazyNumber:
    """A number formatted for the locale when it is shown (for lazy_gettext messages
    made at import time, such as form descriptions)."""

    def __init__(self, value: int | float):
        self.value = value

    def __str__(self) -> str:
        return number(self.value)


# Words kept in Python dictionaries shared with the API and staff pages: stored in
# English, translated where a public page shows them (the ``translate`` filter). Listed
# here so that `pybabel extract` puts them in the catalogue.
LABELS = (
    _l("Under consideration"),
    _l("Planned"),
    _l("In progress"),
    _l("Done"),
    _l("Not taken forward"),
    _l("Received"),
    _l("Read and tagged by the engagement team"),
    _l("Responded to in public"),
    _l("Read and closed"),
    _l("Grouped with similar feedback"),
    _l("Prefer not to say"),
    _l("Enter your email address if you want us to email you when we publish a response"),
)


def translate(text: object) -> str:
    """A catalogue word given at run time (a status label), in the page's language."""
    return _(str(text)) if text else ""


# The switcher ----------------------------------------------------------------------

bp = Blueprint("i18n", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\\"):
        return "/"
    return target


@bp.get("/language/<code>")
def choose(code: str):
    """Keep the visitor's language in a cookie and go back to the page they were on.

    A plain link, so the switcher works without JavaScript; choosing a language changes
    nothing but the cookie.
    """
    target = _safe_next(request.args.get("next"))
    response = redirect(target, code=303)
    response.headers["Cache-Control"] = "no-store"
    if code in available():
        response.set_cookie(
            COOKIE,
            code,
            max_age=COOKIE_MAX_AGE,
            secure=current_app.config.get("ENGAGE_ENV") == "production",
            httponly=True,
            samesite="Lax",
        )
    return response


def switcher_links() -> list[dict]:
    """The switcher's entries for this page: each language named in itself."""
    here = request.full_path if request.query_string else request.path
    current = current_code()
    from flask import url_for

    return [
        {
            "code": lang.code,
            "name": lang.name,
            "rtl": lang.rtl,
            "current": lang.code == current,
            "href": url_for("i18n.choose", code=lang.code, next=here),
        }
        for lang in available().values()
    ]


def init_app(app: Flask) -> None:
    """Bind Flask-Babel, the switcher and the locale-aware template helpers."""
    Babel(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS),
    )
    # Choose afresh for every request: Flask-Babel keeps the locale on the app context,
    # which a request shares with an app context already pushed (tests, CLI commands).
    app.before_request_funcs.setdefault(None, []).insert(0, refresh)
    app.register_blueprint(bp)
    app.add_template_filter(number, "number")
    app.add_template_filter(translate, "translate")
    app.add_template_global(current_language, "current_language")
    app.add_template_global(switcher_links, "language_switcher")

    @app.after_request
    def vary_by_language(response):
        # A page's language follows the cookie and Accept-Language: a shared cache must
        # keep one copy per language (engage.public.cache keys its own store by locale).
        if response.mimetype == "text/html":
            response.vary.add("Accept-Language")
            response.vary.add("Cookie")
        return response
