"""Alerts in Debian's Chromium: tick several choices, confirm, manage, stop."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.conftest import check_page

pytestmark = pytest.mark.e2e


def _confirm_path(app, address: str) -> str:
    from engage.extensions import db
    from engage.outbox.models import OutboxMessage

    with app.app_context():
        message = db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "alert_confirm", OutboxMessage.recipient == address)
            .order_by(OutboxMessage.id.desc())
        ).first()
        db.session.remove()
    return (
        "/you-said-we-did/alerts/confirm/"
        + message.body_text.split("/alerts/confirm/")[1].split()[0]
    )


def _manage_path(app, address: str) -> str:
    from engage.extensions import db
    from engage.publish.models import AlertSubscription
    from engage.publish.notifications import manage_token

    with app.app_context():
        subscription = db.session.scalar(
            select(AlertSubscription).where(AlertSubscription.email == address)
        )
        path = f"/you-said-we-did/alerts/manage/{manage_token(subscription)}"
        db.session.remove()
    return path


def test_alerts_sign_up_confirm_manage_and_stop(live_server, page):
    base, app = live_server
    page.goto(base + "/you-said-we-did/alerts")
    check_page(page, "alerts-01-sign-up")

    page.get_by_role("button", name="Send me a confirmation link").click()
    expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    check_page(page, "alerts-02-errors")
    page.get_by_role("link", name="Select at least one theme or engagement").click()
    expect(page.get_by_role("checkbox", name="Money")).to_be_focused()

    page.get_by_role("checkbox", name="Money").check()
    page.get_by_role("checkbox", name="Impact on jobs").check()
    engagements = page.get_by_role("group", name="Engagements").get_by_role("checkbox")
    engagements.first.check()
    page.get_by_label("Email address").fill("e2e.alerts@example.org")
    page.get_by_role("button", name="Send me a confirmation link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    page.goto(base + _confirm_path(app, "e2e.alerts@example.org"))
    expect(page.get_by_text("the theme Impact on jobs")).to_be_visible()
    check_page(page, "alerts-03-confirm")
    page.get_by_role("button", name="Start my alerts").click()
    expect(page.get_by_role("heading", name="Alerts started")).to_be_visible()

    page.goto(base + _manage_path(app, "e2e.alerts@example.org"))
    check_page(page, "alerts-04-manage")
    expect(page.get_by_role("checkbox", name="Money")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Impact on jobs")).to_be_checked()
    page.get_by_role("checkbox", name="Money").uncheck()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_text("Your choices are saved")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Money")).not_to_be_checked()
    expect(page.get_by_role("checkbox", name="Impact on jobs")).to_be_checked()

    page.get_by_role("button", name="Stop all alerts").click()
    expect(page.get_by_role("heading", name="Alerts stopped")).to_be_visible()
    check_page(page, "alerts-05-stopped")
    assert re.search(
        r"/alerts/manage/",
        page.get_by_role("link", name="Choose alerts to start again").get_attribute("href"),
    )
