"""Real-browser fixtures: a live engage server on 127.0.0.1 and Debian's Chromium.

The server has its own database (a SQLite file, or a fresh PostgreSQL database when
the suite runs on PostgreSQL), CSRF and rate limits on, and the demo data loaded.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from engage import create_app
from engage.extensions import db
from tests.databases import fresh_database

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    from engage.demo import load_demo
    from engage.feedback.service import ensure_default_themes

    with fresh_database(tmp_path_factory.mktemp("e2e")) as url:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "e2e-secret",
                "RATELIMIT_STORAGE_URI": "memory://",
                # Every browser test signs in from 127.0.0.1: more than 10 a minute when
                # the suite runs fast. The limit itself is tested in tests/staff.
                "ENGAGE_SIGN_IN_LIMIT": "1000 per minute",
                "ENGAGE_MODEL_DIR": str(tmp_path_factory.mktemp("models")),
                "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": 1,
                "MAIL_TIMEOUT": 2,
            }
        )
        with app.app_context():
            db.create_all()
            ensure_default_themes()
            load_demo()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", app
        finally:
            server.shutdown()
            with app.app_context():
                db.engine.dispose()


def fresh_rate_limits() -> None:
    """A new visitor's budgets (as tests/conftest.py's app fixture gives each test).
    Every browser test posts from 127.0.0.1, and without waits between pages a run of
    them goes over the feedback form's 10 posts a minute (a 429 mid-journey); the
    limits themselves are tested in tests/public and tests/staff."""
    from engage.extensions import limiter

    limiter.reset()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    fresh_rate_limits()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _open_page(browser):
    """A page in a new browser context (its own cookies), collecting console errors."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    # No network beyond loopback here: fail the NHS font CDN at once instead of waiting.
    context.route("https://assets.nhs.uk/**", lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.console_errors = errors
    return page


@pytest.fixture
def page(browser):
    page = _open_page(browser)
    yield page
    page.context.close()


@pytest.fixture
def new_page(browser):
    """Factory: another page in a NEW browser context, e.g. an anonymous visitor's."""
    opened = []

    def factory():
        opened.append(_open_page(browser))
        return opened[-1]

    yield factory
    for extra in opened:
        extra.context.close()


def check_page(page, name: str) -> None:
    """Screenshot the page and fail on serious accessibility or CSP problems."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.evaluate(AXE)
    result = page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: 'tag', values:
            ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})"""
    )
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{name}: {serious}"
    blocked = [e for e in page.console_errors if "Content Security Policy" in e]
    page.console_errors.clear()
    assert blocked == [], f"{name}: {blocked}"
