"""The public pages in Polish, Bengali and Arabic in Debian's Chromium (issue 24): chosen
with the switcher (keyboard only), right to left in Arabic, no wider than a phone, and
no serious or critical axe finding on any of them."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ARTIFACTS, check_page
from tests.e2e.test_public_pages import _fixtures

pytestmark = pytest.mark.e2e

LANGUAGES = {"pl": "Polski", "bn": "বাংলা", "ar": "العربية"}
WIDTHS = (320, 390, 1280)


@pytest.fixture(scope="module")
def pages(live_server):
    _, app = live_server
    data = _fixtures(app)
    return [
        ("home", "/"),
        ("log", "/you-said-we-did"),
        ("response", data["response"]),
        ("engagement", data["engagement"]),
        ("report", data["report"]),
        ("track", "/track"),
        ("alerts", "/you-said-we-did/alerts"),
        ("alert-manage", data["alert_manage"]),
        ("open-data", "/open-data"),
        ("privacy", "/privacy"),
        ("accessibility", "/accessibility"),
        ("api", "/api"),
        ("not-found", "/no-such-page"),
    ]


def _choose_by_keyboard(page, name: str) -> None:
    """Tab to the language's link in the switcher and press Enter."""
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == name:
            break
    else:
        pytest.fail(f"{name} cannot be reached with the Tab key")
    with page.expect_navigation():
        page.keyboard.press("Enter")


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_pages_in_each_language(live_server, browser, pages, code):
    base, _ = live_server
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 800})
        context.route("https://assets.nhs.uk/**", lambda route: route.abort())
        page = context.new_page()
        page.console_errors = []
        page.on(
            "console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None
        )
        page.goto(base + "/")
        _choose_by_keyboard(page, LANGUAGES[code])
        overflow = []
        for name, path in pages:
            page.goto(base + path)
            page.wait_for_load_state("load")  # as test_public_pages.py's _Visitor.check
            assert page.evaluate("document.documentElement.lang") == code, (name, width)
            direction = page.evaluate("document.documentElement.dir")
            assert direction == ("rtl" if code == "ar" else "ltr"), (name, width)
            scroll, inner = page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            if scroll > inner:
                overflow.append(f"{name}: {scroll} px wide in {inner} px")
            if width == 390:
                check_page(page, f"lang-{code}-{name}-{width}")  # axe, CSP, screenshot
            elif name in ("home", "engagement", "log", "response"):
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(
                    path=str(ARTIFACTS / f"lang-{code}-{name}-{width}.png"), full_page=True
                )
        context.close()
        assert overflow == [], f"{code} at {width} px: {overflow}"


def test_a_form_with_errors_in_polish_and_arabic(live_server, new_page, pages):
    base, _ = live_server
    engagement = dict(pages)["engagement"]
    for code, button, problem in (
        ("pl", "Wyślij opinię", "Wystąpił problem"),
        ("ar", "أرسل الملاحظات", "توجد مشكلة"),
    ):
        page = new_page()
        page.goto(f"{base}/language/{code}?next={engagement}")
        with page.expect_navigation():
            page.get_by_role("button", name=button).click()
        assert problem in page.content()
        check_page(page, f"lang-{code}-engagement-errors")
