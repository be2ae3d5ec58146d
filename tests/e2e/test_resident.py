"""Resident journeys in Debian's Chromium: send feedback, see the reference, track it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import check_page

pytestmark = pytest.mark.e2e

OPEN = "/engagements/nwl-your-local-nhs"
CLOSED = "/engagements/nwl-commissioning-reform-case-for-change"


def test_resident_sends_feedback_and_tracks_it(live_server, page):
    base, _ = live_server
    page.goto(base + "/")
    check_page(page, "01-home")
    page.get_by_role("link", name="Your local NHS: tell us what matters").click()
    assert page.url.endswith(OPEN)
    check_page(page, "02-engagement")

    page.get_by_label("Your feedback").fill(
        "If the budgets are pooled, will Ealing lose its walk-in centre?"
    )
    page.get_by_label("Your name (optional)").fill("Priya Shah")
    page.get_by_label("Email address (optional)").fill("priya@example.org")
    page.get_by_label("Where do you live? (optional)").select_option("Ealing")
    page.get_by_label("Email me when you publish a response to my feedback").check()
    page.get_by_role("button", name="Send feedback").click()

    page.wait_for_url(re.compile(r"/feedback/sent$"))
    check_page(page, "03-sent")
    panel = page.locator(".nhsuk-panel").inner_text()
    reference = re.search(r"YS-\d{4}-\d{6}", panel).group(0)

    page.get_by_role("link", name="track your feedback").click()
    expect(page.get_by_label("Reference number")).to_be_visible()
    check_page(page, "04-track")
    page.get_by_label("Reference number").fill(reference)
    page.get_by_label("Email address").fill("priya@example.org")
    page.get_by_role("button", name="Find my feedback").click()
    expect(page.locator(".nhsuk-summary-list")).to_be_visible()
    check_page(page, "05-tracked")
    summary = page.locator(".nhsuk-summary-list").inner_text()
    assert reference in summary and "Received" in summary

    page.goto(base + "/track")
    page.get_by_label("Reference number").fill(reference)
    page.get_by_label("Email address").fill("someone-else@example.org")
    page.get_by_role("button", name="Find my feedback").click()
    expect(page.get_by_text("We could not find that feedback")).to_be_visible()
    check_page(page, "05b-not-found")
    assert "walk-in centre" not in page.content()


def test_errors_are_summarised_and_linked(live_server, page):
    base, _ = live_server
    page.goto(base + OPEN)
    page.get_by_label("Email address (optional)").fill("not an email")
    page.get_by_role("button", name="Send feedback").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_visible()
    check_page(page, "06-errors")
    assert page.title().startswith("Error:")
    expect(summary.get_by_role("link", name=re.compile("email address"))).to_be_visible()
    summary.get_by_role("link", name=re.compile("Enter your feedback")).click()
    assert page.evaluate("document.activeElement.id") == "text"
    assert page.get_by_label("Email address (optional)").input_value() == "not an email"


def test_closed_engagement_offers_general_feedback(live_server, page):
    base, _ = live_server
    page.goto(base + CLOSED)
    assert "Send general feedback" in page.content()
    assert "extended from 24 July 2019 to 24 August 2019" in page.content()
    check_page(page, "07-closed")


def _tab_to(page, element_id: str, limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"could not reach #{element_id} with the Tab key")


def test_keyboard_only(live_server, page):
    base, _ = live_server
    page.goto(base + OPEN)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
    page.keyboard.press("Enter")
    _tab_to(page, "text")
    page.keyboard.type("Please keep evening GP appointments in Hounslow.")
    _tab_to(page, "author_email")
    page.keyboard.type("kai@example.org")
    _tab_to(page, "consent_to_quote")
    page.keyboard.press("Space")
    assert page.is_checked("#consent_to_quote")
    # Tab on to the button and press it, all from the keyboard.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "BUTTON":
            break
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/feedback/sent$"))
    assert re.search(r"YS-\d{4}-\d{6}", page.locator(".nhsuk-panel").inner_text())
    check_page(page, "08-keyboard-sent")
