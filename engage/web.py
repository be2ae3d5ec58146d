"""Site-wide web plumbing: health checks, NHS.UK assets, error pages and problem
details, absolute URLs and template helpers (deployment hardening: engage.deployment)."""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_wtf.csrf import CSRFError, generate_csrf
from markupsafe import Markup, escape
from sqlalchemy import text
from sqlalchemy.exc import DataError, OperationalError, StatementError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from engage.caching import NamedCache
from engage.extensions import db
from engage.i18n import _, _l

bp = Blueprint("web", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers. Touches no database, so a database outage does not
    make a supervisor restart healthy web processes (/readyz says whether it can serve)."""
    return {"status": "ok"}


_ROOT = Path(__file__).resolve().parent.parent
_heads: tuple[str, ...] | None = None


def migration_heads() -> tuple[str, ...]:
    """The newest revisions among the migrations shipped with this code (read once)."""
    global _heads
    if _heads is None:
        from alembic.script import ScriptDirectory

        _heads = tuple(sorted(ScriptDirectory(str(_ROOT / "migrations")).get_heads()))
    return _heads


def _redis_reachable(url: str) -> bool:
    import redis

    clients = current_app.extensions.setdefault("engage_readyz_redis", {})
    client = clients.get(url)
    if client is None:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        clients[url] = client
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@bp.get("/readyz")
def readyz():
    """Readiness: 200 when this process can serve; 503 naming each check that failed.

    Checks the database answers, its schema is at the migrations' head (`engage db
    upgrade` has been run for this code) and, when REDIS_URL is set, Redis answers.
    """
    from alembic.migration import MigrationContext

    checks: dict[str, str] = {}
    try:
        connection = db.session.connection()
        connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
        current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
        heads = migration_heads()
        if current == heads:
            checks["migrations"] = "ok"
        else:
            found = ", ".join(current) or "none"
            checks["migrations"] = (
                f"database at {found}, code at {', '.join(heads)}: run `engage db upgrade`"
            )
    except OperationalError:
        db.session.rollback()
        checks["database"] = "unreachable"
        checks["migrations"] = "unknown (database unreachable)"
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        checks["redis"] = "ok" if _redis_reachable(redis_url) else "unreachable"
    failed = [name for name, state in checks.items() if state != "ok"]
    body = {"status": "ok" if not failed else "unavailable", "checks": checks, "failed": failed}
    response = current_app.json.response(body)
    response.status_code = 503 if failed else 200
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics():
    """Prometheus metrics, behind ENGAGE_METRICS_TOKEN (engage.observability)."""
    from engage.observability import metrics_view

    return metrics_view()


@bp.get("/assets/<path:filename>")
def nhsuk_assets(filename: str):
    """Serve NHS.UK frontend assets where its CSS expects them (/assets/…)."""
    folder = Path(current_app.static_folder or "static") / "nhsuk"
    return send_from_directory(folder, filename, max_age=86400)


_MESSAGES = {
    400: (_l("There is a problem with your request"), _l("Check what you entered and try again.")),
    403: (
        _l("You do not have permission to see this page"),
        _l("Sign in with an account that can."),
    ),
    404: (_l("Page not found"), _l("If you typed the web address, check it is correct.")),
    405: (_l("That action is not allowed here"), _l("Go back to the page and try again.")),
    413: (_l("What you sent is too large"), _l("Send something smaller and try again.")),
    429: (_l("Too many requests"), _l("Wait a minute, then try again.")),
}


def _error_page(status: int, title: str | None = None, detail: str | None = None):
    default_title, default_detail = _MESSAGES.get(
        status, (_l("Sorry, there is a problem with the service"), _l("Try again later."))
    )
    return (
        render_template(
            "errors/error.html",
            status=status,
            title=title or default_title,
            detail=detail or default_detail,
        ),
        status,
    )


def is_api_request() -> bool:
    """True for a request to the JSON API (/api/...), whose errors are problem details."""
    return request.path == "/api" or request.path.startswith("/api/")


def problem(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    errors: list[dict] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An RFC 9457 problem details response (``application/problem+json``).

    ``type`` is ``about:blank``: the status code says what kind of problem it is, the
    ``title`` is its HTTP name unless given, ``detail`` says what happened this time and
    ``errors`` (validation problems) lists ``{"field", "pointer", "detail"}`` entries.
    """
    body: dict = {
        "type": "about:blank",
        "title": title or HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    response = current_app.json.response(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _retry_after() -> str | None:
    """Seconds until the rate limit that refused this request lets it through again."""
    from engage.extensions import limiter

    try:
        current = limiter.current_limit
    except Exception:  # no limit was evaluated for this request
        return None
    if current is None:
        return None
    return retry_after(current)


def retry_after(limit) -> str:
    """A Retry-After value: whole seconds until *limit* (a rate limit hit) lets go, >= 1."""
    return str(max(1, math.ceil(limit.reset_at - time.time())))


def _api_http_problem(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    if status == 429 and (retry := _retry_after()):
        headers["Retry-After"] = retry
    detail = {
        413: "The request body is larger than this server accepts "
        f"({current_app.config.get('MAX_CONTENT_LENGTH') or 0:,} bytes at most).",
        429: f"Too many requests ({error.description}); wait and try again.",
    }.get(status, error.description)
    return problem(status, detail, headers=headers)


def register_error_handlers(app: Flask) -> None:
    """Render NHS.UK-styled error pages instead of Werkzeug's defaults, and problem
    details (application/problem+json) for every error under /api/."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if is_api_request():
            return problem(400, f"The request was refused by the CSRF check: {error.description}")
        return _error_page(
            400,
            _("Your form has expired"),
            _(
                "For your security, forms expire. Go back, reload the page and send it again. "
                "Nothing you sent has been saved."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.response is not None:  # it brings its own page (a rate limit's on_breach)
            return error.response
        if is_api_request():
            return _api_http_problem(error)
        return _error_page(error.code or 500)

    @app.errorhandler(OperationalError)
    def database_down(error: OperationalError):
        db.session.rollback()
        log.error("database unavailable: %s", error.orig)
        if is_api_request():
            return problem(
                503,
                "The database cannot be reached. Try again in a few minutes.",
                headers={"Retry-After": "60"},
            )
        # Render the page as for a visitor: looking up the signed-in account needs the DB.
        from engage.extensions import login

        g._login_user = login.anonymous_user()
        return _error_page(
            503,
            _("Sorry, the service is unavailable"),
            _("We could not reach our database. Try again in a few minutes."),
        )

    @app.errorhandler(StatementError)
    def unstorable(error: StatementError):
        # A NUL character or an over-large number that reached the database: bad input.
        if isinstance(error, DataError) or isinstance(error.orig, ValueError | OverflowError):
            db.session.rollback()
            log.warning("refused a value the database cannot hold: %s", error.orig)
            if is_api_request():
                return problem(
                    400,
                    "Part of the request holds something that cannot be stored, such as a NUL "
                    "character or a number that is far too large.",
                )
            return _error_page(
                400,
                _("We could not use what was sent"),
                _(
                    "Part of the request holds something we cannot store, such as a NUL "
                    "character or a number that is far too large. Check it and try again."
                ),
            )
        return unexpected(error)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        db.session.rollback()
        log.exception("unhandled error")
        if is_api_request():
            return problem(500, "Something went wrong on our side. It has been logged.")
        return _error_page(500)


# Header links: (endpoint, label). Shown only once the feature providing them is registered.
NAVIGATION = (
    ("engagements.index", _l("Engagements")),
    ("public.log", _l("You said, we did")),
    ("feedback.track", _l("Track my feedback")),
)
FOOTER = (
    ("public.accessibility", _l("Accessibility statement")),
    ("public.privacy", _l("Privacy notice")),
    ("public.open_data", _l("Open data")),
    ("public.api_docs", _l("API")),
)


# Fragments kept per app: the header (signed in or not), the footer and a staff
# navigation bar per signed-in person and page.
MAX_FRAGMENTS = 512


def _links(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    views = current_app.view_functions
    return [{"href": url_for(e), "text": str(label)} for e, label in pairs if e in views]


def public_url(endpoint: str, **values) -> str:
    """An absolute link to a page, built from ENGAGE_BASE_URL, never from the request.

    Every absolute URL the site writes (feeds, the API, open data, the printable
    report, emails) comes from here, so a request's Host header cannot change what a
    page says, nor what the page cache keeps (issue #20). Works outside requests.
    Values that are not part of the route become the query string, as with url_for.
    """
    adapter = current_app.url_map.bind("engage.invalid", url_scheme="https")
    return current_app.config["ENGAGE_BASE_URL"] + adapter.build(endpoint, values)


def public_base_url() -> str:
    """ENGAGE_BASE_URL, without a trailing slash."""
    return current_app.config["ENGAGE_BASE_URL"]


def long_date(value) -> str:
    """Format a date the GOV.UK way in English (28 May 2019), in words in other languages."""
    from engage import i18n

    return i18n.long_date(value)


UK = ZoneInfo("Europe/London")


def uk_time(value: datetime | None) -> str:
    """A stored UTC time as UK clock time, the GOV.UK way: 2:05pm on 28 May 2019."""
    if value is None:
        return ""
    from engage import i18n

    local = value.replace(tzinfo=UTC).astimezone(UK)
    return _("%(time)s on %(date)s", time=i18n.clock_time(local), date=long_date(local))


def fingerprint_static_urls(app: Flask) -> None:
    """Add ``?v=<hash of the file>`` to every url_for('static'/'public.static') link.

    A file's URL changes when its content does, so the proxy in front can let browsers
    keep versioned assets for a year (deploy/nginx/engage.conf does for any ``v``)
    and still have them fetch a changed file at once after an upgrade.
    """
    # Each file's hash, made once per app and kept (an engage.caching cache: the files
    # do not change while the app runs; bounded by count all the same).
    hashes = NamedCache("static_hashes", maxsize=4096, seconds=None)
    folders = {"static": Path(app.static_folder or "static")}

    def version(endpoint: str, filename: str) -> str | None:
        return hashes.get_or_make(f"{endpoint}:{filename}", lambda: digest(endpoint, filename))

    def digest(endpoint: str, filename: str) -> str | None:
        folder = folders.get(endpoint)
        if folder is None:
            blueprint = app.blueprints.get(endpoint.rsplit(".", 1)[0])
            own = blueprint.static_folder if blueprint else None
            folder = Path(own) if own else None
            folders[endpoint] = folder  # type: ignore[assignment]
        path = (folder / filename) if folder else None
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path else None
        except OSError:
            return None

    @app.url_defaults
    def add_version(endpoint: str, values: dict) -> None:
        if endpoint != "static" and not endpoint.endswith(".static"):
            return
        filename = values.get("filename")
        if filename and "v" not in values and (digest := version(endpoint, filename)):
            values["v"] = digest


def register_template_helpers(app: Flask) -> None:
    """Make the site's header and footer links and date format available to templates."""
    fingerprint_static_urls(app)

    app.add_template_filter(long_date, "long_date")
    app.add_template_filter(uk_time, "uk_time")
    # Absolute links in pages: from ENGAGE_BASE_URL, never url_for(_external=True).
    app.add_template_global(public_url, "public_url")

    @app.context_processor
    def site_helpers():
        def site_account():
            if "staff.inbox" not in current_app.view_functions:
                return None
            from flask_login import current_user

            try:
                if not current_user.is_authenticated:
                    return None
            except OperationalError:
                # The database is down (we are rendering the 503 page): no account links.
                db.session.rollback()
                return None
            return {
                "items": [
                    {"href": url_for("staff.inbox"), "text": _("Staff area"), "icon": True},
                    {"action": url_for("staff.logout"), "text": _("Sign out")},
                ]
            }

        return {
            "site_navigation": lambda: _links(NAVIGATION),
            "site_footer_links": lambda: _links(FOOTER),
            "site_account": site_account,
        }

    # An engage.caching cache of its own for each app (the fragments hold the app's URLs),
    # bounded by count and kept until pushed out (least recently used first).
    app.extensions["engage_fragments"] = NamedCache(
        "template_fragments", maxsize=MAX_FRAGMENTS, seconds=None
    )

    def rendered_once(*key: object, caller: Callable[[], str]) -> Markup:
        """``{% call rendered_once("header", signed_in) %}...{% endcall %}``: the block's
        HTML, made the first time and kept for this app (issue #9).

        For the site's header and footer: NHS.UK's macros cost milliseconds a page and
        their output depends only on the key given (plus the app's URLs and settings,
        fixed for the app). Anything that varies by request must be in the key.
        """
        from engage.i18n import current_code

        fragments: NamedCache = current_app.extensions["engage_fragments"]
        # A macro call in an autoescaped template returns Markup already.
        return fragments.get_or_make((request.script_root, current_code(), *key), caller)

    app.add_template_global(rendered_once, "rendered_once")
    app.add_template_filter(account_form_tokens, "account_form_tokens")


# The header's account forms ("Sign out") come from NHS.UK's macro, which writes no
# hidden fields, and the header is made once per app (rendered_once): the visitor's
# CSRF token is put into each such form as the page is sent, so signing out passes
# the CSRF check every other form does.
_ACCOUNT_FORM = re.compile(r'<form\b[^>]*\bclass="nhsuk-header__account-form"[^>]*>')


def account_form_tokens(html: Markup) -> Markup:
    """``html`` (the site header) with this visitor's CSRF token in its account forms."""
    html = escape(html)  # the rendered header is Markup already; anything else is escaped
    ends = [m.end() for m in _ACCOUNT_FORM.finditer(html)]
    if not ends:  # nobody signed in: no token made, no session started
        return html
    token = Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())
    parts: list[Markup] = []
    start = 0
    for end in ends:
        parts += [html[start:end], token]
        start = end
    parts.append(html[start:])
    return Markup("").join(parts)
