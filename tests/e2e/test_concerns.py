"""Concerns in Debian's Chromium: a triager finds them, a publisher answers one."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from engage.concerns import jobs
from engage.staff.models import Role
from tests.e2e.conftest import check_page
from tests.e2e.test_staff import flash, make_account, sign_in

pytestmark = pytest.mark.e2e

NWL = "nwl-commissioning-reform-case-for-change"


def test_triager_finds_concerns_and_publisher_starts_a_response(live_server, page, new_page):
    base, app = live_server
    triager = make_account(app, Role.TRIAGER)
    sign_in(page, live_server, triager)
    page.get_by_role("navigation", name="Staff area").get_by_role("link", name="Concerns").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Concerns")
    page.get_by_label("Engagement", exact=True).select_option(NWL)
    page.get_by_label("Theme", exact=True).select_option("services")
    page.get_by_role("button", name="Show").click()
    # Never grouped: the page queues the grouping for the worker and says so.
    status = page.locator("#concern-job")
    expect(status).to_contain_text(re.compile(r"Grouping \d+ items, asked for at \d\d:\d\d"))
    check_page(page, "staff-concerns-grouping")
    with app.app_context():  # the worker's turn
        assert jobs.run_owed() == 1
    page.reload()
    expect(status).to_have_count(0)
    cards = page.locator(".nhsuk-card")
    expect(cards.first).to_contain_text(re.compile(r"\d+ items?"))
    expect(cards.first).to_contain_text("You told us you are concerned that")
    # Each concern's weeks: a chart named in words, the figures a click away.
    chart = cards.first.get_by_role("img", name=re.compile(r"^Items per week .*highest \d+"))
    expect(chart).to_be_visible()
    figures = cards.first.locator(".engage-concern-trend")
    expect(figures).to_be_hidden()
    cards.first.get_by_text("Items per week", exact=True).click()
    expect(figures).to_be_visible()
    expect(figures.get_by_role("columnheader", name="Items")).to_be_visible()
    check_page(page, "staff-concerns")

    publisher_page = new_page()
    publisher = make_account(app, Role.PUBLISHER)
    sign_in(publisher_page, live_server, publisher)
    publisher_page.goto(f"{base}/staff/concerns?engagement={NWL}&theme=services")
    publisher_page.get_by_role("button", name="Start a response from this concern").first.click()
    publisher_page.wait_for_url(re.compile(r"/staff/responses/\d+"))
    expect(flash(publisher_page)).to_contain_text("Draft response started")
