"""Alert pages: subscribe, confirm (double opt-in), unsubscribe."""

from __future__ import annotations

from sqlalchemy import select

from engage.extensions import db
from engage.mail.models import OutboxMessage
from engage.publish.models import AlertSubscription


def _token(message):
    return message.body_text.split("/alerts/confirm/")[1].split()[0]


def test_subscribe_page_preselects_target(client, make_engagement):
    engagement = make_engagement(title="Walk-in centres")
    page = client.get(f"/you-said-we-did/alerts?engagement={engagement.slug}")
    assert f'value="engagement:{engagement.slug}" selected' in page.get_data(as_text=True)
    page = client.get("/you-said-we-did/alerts?theme=money").get_data(as_text=True)
    assert 'value="theme:money" selected' in page


def test_subscribe_confirm_unsubscribe(client):
    sent = client.post(
        "/you-said-we-did/alerts", data={"email": "kim@example.org", "target": "theme:money"}
    )
    assert sent.status_code == 200
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "alert_confirm"))
    assert message.recipient == "kim@example.org"
    subscription = db.session.scalar(select(AlertSubscription))
    assert subscription.confirmed_at is None and subscription.token_hash != _token(message)
    confirm = f"/you-said-we-did/alerts/confirm/{_token(message)}"
    assert client.get(confirm).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(AlertSubscription)).confirmed_at is None  # GET changes nothing
    assert client.post(confirm).status_code == 200
    db.session.expire_all()
    subscription = db.session.scalar(select(AlertSubscription))
    assert subscription.active

    from engage.publish.notifications import alert_unsubscribe_token

    unsubscribe = f"/you-said-we-did/alerts/unsubscribe/{alert_unsubscribe_token(subscription)}"
    assert "Stop these emails" in client.get(unsubscribe).get_data(as_text=True)
    assert "Alerts stopped" in client.post(unsubscribe).get_data(as_text=True)
    db.session.expire_all()
    assert not db.session.scalar(select(AlertSubscription)).active


def test_invalid_subscription_shows_errors(client):
    page = client.post("/you-said-we-did/alerts", data={"email": "nope", "target": ""})
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "There is a problem" in text
    assert db.session.scalar(select(AlertSubscription)) is None
