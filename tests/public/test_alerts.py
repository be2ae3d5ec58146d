"""Alerts: one sign-up follows several themes and engagements, one link manages them.

Emails go through the outbox to a real SMTP server (tests/smtp.py) where a test needs
what a subscriber would receive.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from engage import outbox
from engage.extensions import db
from engage.outbox.models import OutboxMessage
from engage.publish import alerts as alerting
from engage.publish import service
from engage.publish.models import AlertChoice, AlertSubscription, AlertSubscriptionAlias
from engage.publish.notifications import manage_token, subscription_for_token
from tests.publish.factories import theme

BASE = "https://engage.example.nhs.uk"


@pytest.fixture
def base_url(app, monkeypatch):
    monkeypatch.setitem(app.config, "ENGAGE_BASE_URL", BASE)
    return BASE


def _token(message):
    return message.body_text.split("/alerts/confirm/")[1].split()[0]


def _confirmations(address=None):
    query = select(OutboxMessage).where(OutboxMessage.kind == "alert_confirm")
    if address:
        query = query.where(OutboxMessage.recipient == address)
    return db.session.scalars(query.order_by(OutboxMessage.id)).all()


def _subscription(address="kim@example.org"):
    db.session.expire_all()
    return db.session.scalar(select(AlertSubscription).where(AlertSubscription.email == address))


def _names(choices):
    return [c.name for c in choices]


def _sign_up(client, email="kim@example.org", themes=(), engagements=()):
    return client.post(
        "/you-said-we-did/alerts",
        data={"email": email, "themes": list(themes), "engagements": list(engagements)},
    )


def _path(url):
    return url.removeprefix(BASE)


def test_sign_up_page_ticks_the_linked_choice(client, make_engagement):
    engagement = make_engagement(title="Walk-in centres")
    page = client.get(f"/you-said-we-did/alerts?engagement={engagement.slug}").get_data(
        as_text=True
    )
    assert re.search(rf'value="{engagement.slug}"\s+checked', page)
    assert not re.search(r'value="money"\s+checked', page)
    page = client.get("/you-said-we-did/alerts?theme=money").get_data(as_text=True)
    assert re.search(r'value="money"\s+checked', page)
    assert page.count('type="checkbox"') == 5 + 1  # the five themes and the engagement


def test_one_sign_up_follows_several_themes_and_engagements(client, make_engagement):
    walk_in, merger = make_engagement(title="Walk-in centres"), make_engagement(title="Merger")
    page = _sign_up(client, themes=["money", "jobs"], engagements=[walk_in.slug, merger.slug])
    assert page.status_code == 200 and "Check your email" in page.get_data(as_text=True)
    [message] = _confirmations()
    for name in ("the theme Money", "the theme Impact on jobs", "Walk-in centres", "Merger"):
        assert name in message.body_text and name in message.body_html
    subscription = _subscription()
    assert len(subscription.choices) == 4 and not subscription.following
    confirm = f"/you-said-we-did/alerts/confirm/{_token(message)}"
    page = client.get(confirm).get_data(as_text=True)
    assert "Walk-in centres" in page and "Start my alerts" in page
    assert not _subscription().following  # a GET changes nothing
    assert "Alerts started" in client.post(confirm).get_data(as_text=True)
    subscription = _subscription()
    assert subscription.active
    assert _names(subscription.following) == [
        "the theme Money",
        "the theme Impact on jobs",
        "Merger",
        "Walk-in centres",
    ]
    assert client.post(confirm).status_code == 404  # the link works once


def test_signing_up_again_adds_choices_after_a_new_confirmation(client, make_engagement):
    _sign_up(client, themes=["money"])
    client.post(f"/you-said-we-did/alerts/confirm/{_token(_confirmations()[0])}")
    # Asking for what is already followed sends nothing, and the page is the same.
    page = _sign_up(client, email="KIM@example.org", themes=["money"])
    assert "Check your email" in page.get_data(as_text=True)
    assert len(_confirmations()) == 1
    _sign_up(client, themes=["money", "jobs"])
    assert len(_confirmations()) == 2
    subscription = _subscription()
    assert _names(subscription.following) == ["the theme Money"]
    assert _names(subscription.pending) == ["the theme Impact on jobs"]
    assert "the theme Money" not in _confirmations()[1].body_text  # only what is new
    client.post(f"/you-said-we-did/alerts/confirm/{_token(_confirmations()[1])}")
    assert _names(_subscription().following) == ["the theme Money", "the theme Impact on jobs"]
    assert db.session.scalar(select(func.count()).select_from(AlertSubscription)) == 1


def test_sign_up_errors(client):
    page = _sign_up(client, email="nope", themes=[])
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "There is a problem" in text
    assert "Select at least one theme or engagement" in text
    assert 'href="#themes"' in text and 'id="themes"' in text  # the summary links to a box
    assert "Enter an email address in the correct format" not in text  # form first
    assert _sign_up(client, themes=["no-such-theme"]).status_code == 400
    assert db.session.scalar(select(AlertSubscription)) is None


def test_manage_page_changes_choices(client, make_engagement):
    walk_in = make_engagement(title="Walk-in centres")
    alerting.subscribe(email="kim@example.org", themes=[theme("money")], engagements=[walk_in])
    db.session.commit()
    alerting.confirm(token=_token(_confirmations()[0]))
    db.session.commit()
    manage = f"/you-said-we-did/alerts/manage/{manage_token(_subscription())}"
    shown = client.get(manage)
    # It shows the address to whoever holds the link: no cache keeps it, no Referer.
    assert shown.headers["Cache-Control"] == "no-store"
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    page = shown.get_data(as_text=True)
    assert re.search(r'value="money"\s+checked', page)
    assert re.search(rf'value="{walk_in.slug}"\s+checked', page)
    assert not re.search(r'value="jobs"\s+checked', page)
    assert "kim@example.org" in page

    saved = client.post(manage, data={"action": "save", "themes": ["jobs", "services"]})
    assert saved.status_code == 303
    assert "Your choices are saved" in client.get(saved.location).get_data(as_text=True)
    assert _names(_subscription().following) == [
        "the theme Impact on services",
        "the theme Impact on jobs",
    ]

    nothing = client.post(manage, data={"action": "save"})
    assert nothing.status_code == 400
    assert "or stop all alerts" in nothing.get_data(as_text=True)
    assert len(_subscription().following) == 2

    stopped = client.post(manage, data={"action": "stop"})
    assert "Alerts stopped" in stopped.get_data(as_text=True)
    subscription = _subscription()
    assert not subscription.active and subscription.choices == []
    # The same link starts them again, without another confirmation.
    client.post(manage, data={"action": "save", "themes": ["money"]})
    subscription = _subscription()
    assert subscription.active and _names(subscription.following) == ["the theme Money"]


def test_manage_links_are_bound_to_the_address(client, app):
    alerting.subscribe(email="kim@example.org", theme=theme("money"))
    db.session.commit()
    subscription = _subscription()
    assert subscription_for_token(manage_token(subscription)) is subscription
    assert client.get("/you-said-we-did/alerts/manage/forged").status_code == 404
    token = manage_token(subscription)
    # The row's id given to another address (SQLite may reuse an id) opens nothing.
    subscription.email = "someone-else@example.org"
    db.session.commit()
    assert client.get(f"/you-said-we-did/alerts/manage/{token}").status_code == 404
    assert client.post(f"/you-said-we-did/alerts/unsubscribe/{token}").status_code == 404


def test_links_sent_before_the_merge_still_stop_alerts(client, app):
    from itsdangerous import URLSafeSerializer

    alerting.subscribe(email="kim@example.org", themes=[theme("money"), theme("jobs")])
    db.session.commit()
    alerting.confirm(token=_token(_confirmations()[0]))
    subscription = _subscription()
    # As migration 0014 leaves them: its own old id, and one merged into it.
    for old_id in (subscription.id, subscription.id + 40):
        db.session.add(AlertSubscriptionAlias(id=old_id, subscription_id=subscription.id))
    db.session.commit()
    legacy = URLSafeSerializer(app.config["SECRET_KEY"], salt="engage-alert-unsubscribe")
    for old_id in (subscription.id, subscription.id + 40):
        assert subscription_for_token(legacy.dumps({"alert": old_id})) is subscription
    # An id the migration did not record (a newer row) opens nothing from an old link.
    newer = alerting.subscribe(email="new@example.org", theme=theme("money"))
    db.session.commit()
    assert subscription_for_token(legacy.dumps({"alert": newer.id})) is None
    old_link = legacy.dumps({"alert": subscription.id + 40})
    page = client.get(f"/you-said-we-did/alerts/unsubscribe/{old_link}")
    assert page.status_code == 200
    done = client.post(
        f"/you-said-we-did/alerts/unsubscribe/{old_link}", data={"List-Unsubscribe": "One-Click"}
    )
    assert done.status_code == 204 and not _subscription().active


def test_one_alert_per_subscriber_per_response(app, smtp_server, base_url, make_response):
    response = make_response(themes=("money", "services"), publish=False)
    engagement = response.engagement
    # Kim follows the engagement and both of its themes; Lee follows one theme; Mo's
    # choice is waiting for confirmation; Pat follows only another theme.
    alerting.subscribe(
        email="kim@example.org",
        themes=[theme("money"), theme("services")],
        engagements=[engagement],
    )
    alerting.subscribe(email="lee@example.org", theme=theme("services"))
    alerting.subscribe(email="pat@example.org", theme=theme("jobs"))
    db.session.commit()
    for message in _confirmations():
        alerting.confirm(token=_token(message))
    alerting.subscribe(email="mo@example.org", theme=theme("money"))
    db.session.commit()
    outbox.send_due()
    smtp_server.handler.messages.clear()
    smtp_server.handler.envelopes.clear()

    assert service.publish(response) == 2
    db.session.commit()
    assert outbox.send_due().sent == 2
    received = smtp_server.wait_for(2)
    assert sorted(m["To"] for m in received) == ["kim@example.org", "lee@example.org"]
    kim = next(m for m in received if m["To"] == "kim@example.org")
    plain = kim.get_body(preferencelist=("plain",)).get_content()
    assert (
        f"about the theme Money, the theme Impact on services and {engagement.title}."
        in " ".join(plain.split())
    )
    # The manage link and the raw one-click header both work from what arrived.
    raw = next(e.content for e in smtp_server.handler.envelopes if b"kim@example.org" in e.content)
    header = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "=?" not in header
    unsubscribe = re.search(r"^List-Unsubscribe: <([!-~]+)>\r?$", header, re.M).group(1)
    assert unsubscribe.startswith(f"{BASE}/you-said-we-did/alerts/unsubscribe/")
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in header.split("\r\n")
    manage = re.search(rf"{re.escape(BASE)}/you-said-we-did/alerts/manage/\S+", plain).group(0)
    assert manage.rsplit("/", 1)[1] == unsubscribe.rsplit("/", 1)[1]
    client = app.test_client()
    assert re.search(
        r'value="services"\s+checked', client.get(_path(manage)).get_data(as_text=True)
    )
    assert client.post(_path(unsubscribe), data={"List-Unsubscribe": "One-Click"}).status_code == (
        204
    )
    assert not _subscription().active
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AlertChoice)
            .where(AlertChoice.subscription_id == _subscription().id)
        )
        == 0
    )


def test_unsubscribe_get_changes_nothing(client):
    alerting.subscribe(email="kim@example.org", theme=theme("money"))
    db.session.commit()
    alerting.confirm(token=_token(_confirmations()[0]))
    db.session.commit()
    url = f"/you-said-we-did/alerts/unsubscribe/{manage_token(_subscription())}"
    page = client.get(url).get_data(as_text=True)
    assert "Stop all alerts" in page and "<form" in page
    assert _subscription().active
    assert "Alerts stopped" in client.post(url).get_data(as_text=True)
    assert not _subscription().active


def test_forms_need_a_csrf_token_except_one_click(app, make_engagement):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        assert _sign_up(client, themes=["money"]).status_code == 400
        alerting.subscribe(email="kim@example.org", theme=theme("money"))
        db.session.commit()
        alerting.confirm(token=_token(_confirmations()[0]))
        db.session.commit()
        token = manage_token(_subscription())
        manage = f"/you-said-we-did/alerts/manage/{token}"
        assert client.post(manage, data={"action": "stop"}).status_code == 400
        # Two forms on the page, each with the token, and no id used twice.
        page = client.get(manage).get_data(as_text=True)
        assert page.count('name="csrf_token"') == 2
        assert page.count('id="csrf_token"') == 1 and 'id="csrf_token_stop"' in page
        unsubscribe = f"/you-said-we-did/alerts/unsubscribe/{token}"
        assert client.post(unsubscribe).status_code == 400  # the page's button needs one
        assert _subscription().active
        one_click = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 204 and not _subscription().active
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_a_sign_up_sent_twice_at_once_shares_one_row(app):
    # The second of two racing sign-ups finds the row the first made: its INSERT does
    # nothing instead of failing on the unique address.
    first = alerting.subscription_for_address("Kim@Example.org")
    db.session.commit()
    second = alerting.subscription_for_address("kim@example.org")
    db.session.commit()
    assert first.id == second.id
    assert db.session.scalar(select(func.count()).select_from(AlertSubscription)) == 1


def test_alerts_come_in_the_language_they_were_asked_in(app, smtp_server, make_response):
    """An address that asked for alerts on Polish pages gets its alerts in Polish; one
    that asked in English, in English (issue 24)."""
    response = make_response(themes=("money",), publish=False)
    with app.test_request_context("/", headers={"Accept-Language": "pl"}):
        polish = alerting.subscribe(email="ola@example.org", theme=theme("money"))
    alerting.subscribe(email="kim@example.org", theme=theme("money"))
    db.session.commit()
    assert (polish.locale, _subscription("kim@example.org").locale) == ("pl", None)
    for message in _confirmations():
        alerting.confirm(token=_token(message))
    db.session.commit()
    outbox.send_due()
    smtp_server.handler.messages.clear()

    assert service.publish(response) == 2
    db.session.commit()
    assert outbox.send_due().sent == 2
    received = {m["To"]: m for m in smtp_server.wait_for(2)}
    ola = received["ola@example.org"]
    assert '<html lang="pl"' in ola.get_body(("html",)).get_content()
    ola_text = " ".join(ola.get_body(("plain",)).get_content().split())
    assert "Prosiłeś(-aś) o e-mail, gdy odpowiemy w sprawie: temat „Pieniądze”" in ola_text
    kim = received["kim@example.org"]
    assert '<html lang="en"' in kim.get_body(("html",)).get_content()
    assert "You asked for an email when we respond about" in " ".join(
        kim.get_body(("plain",)).get_content().split()
    )
