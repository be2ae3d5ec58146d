"""POST /api/v1/feedback for partner organisations."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from engage.extensions import db, limiter
from engage.feedback.models import ApiPartner, Channel, FeedbackItem
from engage.feedback.partners import create_partner, revoke_partner


def count_items() -> int:
    return db.session.scalar(select(func.count()).select_from(FeedbackItem))


@pytest.fixture
def token(app):
    return create_partner("Healthwatch Harrow")[1]


def post(client, token, payload, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/feedback", json=payload, headers=headers, **kwargs)


def test_token_is_hashed_at_rest(app, token):
    partner = db.session.scalar(select(ApiPartner))
    assert token not in partner.token_hash and len(partner.token_hash) == 64


def test_single_item(client, token, make_engagement):
    engagement = make_engagement()
    response = post(
        client,
        token,
        {
            "text": "Residents at our event worried about GP access.",
            "engagement": engagement.slug,
            "area": "Harrow",
            "consent_to_quote": True,
        },
    )
    assert response.status_code == 201
    item = db.session.scalar(select(FeedbackItem))
    assert response.json == {"reference": item.reference, "status": "new"}
    assert item.channel == Channel.API and item.consent_to_quote is True


def test_batch_is_all_or_nothing(client, token, make_engagement):
    engagement = make_engagement()
    good = {"text": "A perfectly sensible comment.", "engagement": engagement.slug}
    response = post(client, token, [good, {**good, "engagement": "nope"}, good])
    assert response.status_code == 422
    assert "1" in response.json["errors"]
    assert count_items() == 0
    response = post(client, token, [good, good, good])
    assert response.status_code == 201
    assert len(response.json["items"]) == 3 and count_items() == 3


@pytest.mark.parametrize(
    "payload",
    [
        {"text": 12345678901},
        {"text": ["a list", "of strings"]},
        {"text": "Valid enough text here.", "consent_to_quote": "yes"},
        {"text": "Valid enough text here.", "email": {"$ne": None}},
        {"text": "Valid enough text here.", "surprise": 1},
        {"name": "no text at all"},
        "just a string",
        [],
        [1, 2, 3],
    ],
)
def test_type_confusion_is_422_or_400(client, token, payload):
    response = post(client, token, payload)
    assert response.status_code in (400, 422)
    assert response.json["title"]
    assert count_items() == 0


def test_not_json_is_400(client, token):
    response = client.post(
        "/api/v1/feedback",
        data=b"\xff\xfe not json",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert count_items() == 0


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc", "Bearer "])
def test_needs_a_valid_token(client, token, header):
    headers = {"Authorization": header} if header else {}
    response = client.post(
        "/api/v1/feedback", json={"text": "Hello there everyone."}, headers=headers
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count_items() == 0


def test_revoked_token_refused(client, token):
    assert revoke_partner("Healthwatch Harrow")
    assert post(client, token, {"text": "Hello there everyone."}).status_code == 401


def test_batch_size_limit(client, token):
    response = post(client, token, [{"text": "x" * 20}] * 501)
    assert response.status_code == 400
    assert count_items() == 0


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300), name=st.one_of(st.none(), st.text(max_size=80)))
def test_any_text_is_stored_exactly_or_refused(app, client, token, text, name):
    limiter.enabled = False
    try:
        before = count_items()
        response = post(client, token, {"text": text, "name": name})
    finally:
        limiter.enabled = True
    assert response.status_code in (201, 422)
    if response.status_code == 201:
        item = db.session.scalar(
            select(FeedbackItem).where(FeedbackItem.reference == response.json["reference"])
        )
        assert 10 <= len(item.text) <= 10_000
        assert "\x00" not in item.text
        assert count_items() == before + 1
    else:
        assert count_items() == before
