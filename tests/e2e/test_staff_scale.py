"""The dashboard and campaigns page on the 100,000-item bench data (issue #22).

On PostgreSQL (`make test-postgres`) the module fills a fresh database with the bench's
generator (``python -m bench.generate model`` and ``data``: 100,000 items, about 30 s).
An existing bench data set can be used instead (it is only read):

    ENGAGE_E2E_SCALE_DATABASE_URL=postgresql://…/bench ENGAGE_E2E_SCALE_MODEL_DIR=… \\
        pytest tests/e2e/test_staff_scale.py

The SQLite run skips it (the same pages at this size are the PostgreSQL bench's). Each
page is checked with axe and must stay under 4,000 px tall at 1,280 px wide.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from bench.generate import STAFF_EMAIL, STAFF_PASSWORD
from engage import create_app
from tests.conftest import TEST_DATABASE_URL
from tests.databases import fresh_database
from tests.e2e.conftest import check_page

pytestmark = pytest.mark.e2e
URL = os.environ.get("ENGAGE_E2E_SCALE_DATABASE_URL", "")
MAX_HEIGHT = 4000


@contextlib.contextmanager
def _bench_data(folder: Path):
    """(database URL, model folder) of the bench's 100,000-item data set: the one named
    by ENGAGE_E2E_SCALE_DATABASE_URL, or a fresh database filled by bench.generate."""
    if URL:
        yield URL, os.environ.get("ENGAGE_E2E_SCALE_MODEL_DIR", str(folder / "models"))
        return
    if not TEST_DATABASE_URL.startswith("postgresql"):
        pytest.skip("the 100,000-item data set is generated in `make test-postgres`")
    models, instance = folder / "models", folder / "instance"
    with fresh_database(folder) as url:
        root = Path(__file__).resolve().parents[2]
        for step in (
            ["model", "--out", str(models)],
            ["data", "--database-url", url, "--instance", str(instance)]
            + ["--model-dir", str(models)],
        ):
            subprocess.run(  # noqa: S603 (our own generator, fixed arguments)
                [sys.executable, "-m", "bench.generate", *step],
                cwd=root,
                check=True,
                capture_output=True,
                timeout=600,
            )
        yield url, str(models)


@pytest.fixture(scope="module")
def scale_server(tmp_path_factory):
    with _bench_data(tmp_path_factory.mktemp("scale")) as (url, models):
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "e2e-scale-secret",
                "RATELIMIT_STORAGE_URI": "memory://",
                "ENGAGE_SIGN_IN_LIMIT": "1000 per minute",
                "ENGAGE_MODEL_DIR": models,
                "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": 1,
            }
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            with app.app_context():
                from engage.extensions import db

                db.engine.dispose()


@pytest.fixture
def wide(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("https://assets.nhs.uk/**", lambda route: route.abort())
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()


def _sign_in(page, base: str) -> None:
    page.goto(base + "/staff/sign-in")
    page.get_by_label("Email address").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/staff/inbox"))


def _height(page) -> int:
    return page.evaluate("document.documentElement.scrollHeight")


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?engagement=all&from=2019-01-01&to=2026-12-31",
        "?engagement=nwl-commissioning-reform-case-for-change",
    ],
)
def test_dashboard_on_100000_items(scale_server, wide, query):
    _sign_in(wide, scale_server)
    wide.goto(f"{scale_server}/staff/dashboard{query}")
    expect(wide.get_by_role("heading", level=1)).to_have_text("Dashboard")
    total = wide.locator(".engage-figure").first.inner_text()
    assert int(total.replace(",", "")) > 10_000
    bars = wide.locator("#by-time ~ .engage-chart svg rect")
    assert 1 <= bars.count() <= 60
    assert _height(wide) < MAX_HEIGHT, _height(wide)
    check_page(wide, f"scale-dashboard-{len(query)}")


@pytest.mark.parametrize("query", ["", "?theme=money", "?engagement=nwl-your-local-nhs&size=100"])
def test_campaigns_on_100000_items(scale_server, wide, query):
    _sign_in(wide, scale_server)
    wide.goto(f"{scale_server}/staff/duplicates{query}")
    expect(wide.get_by_role("heading", level=1)).to_have_text("Campaigns and duplicates")
    groups = wide.locator("section.engage-group")
    assert 1 <= groups.count() <= 10
    assert _height(wide) < MAX_HEIGHT, _height(wide)
    check_page(wide, f"scale-campaigns-{len(query)}")
