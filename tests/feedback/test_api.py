"""POST /api/v1/feedback for partner organisations."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from engage.extensions import db, limiter
from engage.feedback.models import ApiPartner, Channel, FeedbackItem
from tests.partners import create_partner, revoke_partner


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
    assert response.mimetype == "application/problem+json"
    assert [e["field"] for e in response.json["errors"]] == ["items[1].engagement"]
    assert response.json["errors"][0]["pointer"] == "#/1/engagement"
    assert "items[1].engagement" in response.json["detail"]
    assert count_items() == 0
    response = post(client, token, [good, good, good])
    assert response.status_code == 201
    assert len(response.json["items"]) == 3 and count_items() == 3


def test_one_answer_names_every_refused_field(client, token, make_engagement):
    # An outside review (round 21) was told of one layer per request: first the type,
    # then the text and email, then the engagement.
    engagement = make_engagement()
    good = {"text": "A perfectly sensible comment.", "engagement": engagement.slug}
    bad = {"text": "", "email": "bad", "engagement": "nope", "area": 5}
    quiet = {"text": "Another sensible comment.", "contact_me": True}
    response = post(client, token, [good, bad, quiet])
    assert response.status_code == 422
    fields = sorted(e["field"] for e in response.json["errors"])
    assert fields == [
        "items[1].area",
        "items[1].email",
        "items[1].engagement",
        "items[1].text",
        "items[2].email",  # asked to be emailed, with no address: the form refuses it too
    ]
    assert count_items() == 0


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


# Whole batches and problem details ------------------------------------------------------

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    """An RFC 9457 problem: the media type, and type, title, status and detail."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == PROBLEM, (status, response.mimetype)
    body = response.get_json(force=True)
    # RFC 9457 3.1.1: a problem without "type" is "about:blank" (engage/public/api.py's
    # 404 and 405 leave it out).
    assert body.get("type", "about:blank") == "about:blank", body
    assert body["title"] and body["detail"], body
    assert body["status"] == status
    return body


def test_lone_surrogate_in_a_batch_is_422_naming_the_item_and_stores_nothing(client, token):
    # The batch of the issue: before, an HTML 500 with the first two items stored.
    body = (
        b'[{"text": "first good item of the batch"}, {"text": "second good item of the batch"},'
        b' {"text": "bad \\ud800 lone surrogate"}]'
    )
    response = post_raw(client, token, body)
    problem = assert_problem(response, 422)
    assert [(e["field"], e["pointer"]) for e in problem["errors"]] == [
        ("items[2].text", "#/2/text")
    ]
    assert "cannot be stored" in problem["errors"][0]["detail"]
    assert "U+D800" in problem["errors"][0]["detail"]
    assert "items[2].text" in problem["detail"]
    assert count_items() == 0


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"text": "A fine comment \udfff here."}, "text"),
        ({"text": "A fine comment here.", "name": "Jo \ud83d"}, "name"),
        ({"text": "A fine comment here.", "area": "\udc80Harrow"}, "area"),
        ({"text": "A fine comment here.", "email": "jo\ud800@example.org"}, "email"),
        ({"text": "A fine comment here.", "engagement": "case\x00for-change"}, "engagement"),
        ({"text": "A fine comment here.", "engagement": "case\ud800"}, "engagement"),
    ],
)
def test_unstorable_characters_are_422_naming_the_field(client, token, item, field):
    """On SQLite and PostgreSQL alike (NUL in a slug once reached PostgreSQL as a 500)."""
    good = {"text": "A perfectly sensible comment."}
    problem = assert_problem(post(client, token, [good, item]), 422)
    assert [e["field"] for e in problem["errors"]] == [f"items[1].{field}"]
    problem = assert_problem(post(client, token, item), 422)
    assert [e["field"] for e in problem["errors"]] == [field]
    assert count_items() == 0


def test_control_characters_are_dropped_and_nul_refused(client, token):
    """Control characters are dropped from text; a NUL, which PostgreSQL cannot store,
    is refused naming the field and the item, and nothing of the list is stored."""
    response = post(client, token, {"text": "keep the surgery\x07 open please"})
    assert response.status_code == 201
    item = db.session.scalar(select(FeedbackItem))
    assert item.text == "keep the surgery open please"
    batch = [{"text": "A perfectly sensible comment."}, {"text": "keep the\x00 surgery open"}]
    response = post(client, token, batch)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert "items[1].text" in json.dumps(body) and "NUL" in json.dumps(body)
    response = post(client, token, {"text": "A fine comment.", "name": "Jo\x00"})
    assert response.status_code == 422 and "name" in json.dumps(response.get_json())
    assert db.session.scalar(select(func.count()).select_from(FeedbackItem)) == 1


def test_a_surrogate_pair_is_an_ordinary_character(client, token):
    response = post_raw(client, token, b'{"text": "keep it open \\ud83c\\udfe5 please"}')
    assert response.status_code == 201
    assert db.session.scalar(select(FeedbackItem.text)) == "keep it open \U0001f3e5 please"


def test_every_field_error_of_every_item_is_listed(client, token):
    response = post(
        client,
        token,
        [
            {"text": "A perfectly sensible comment."},
            {"text": "short", "email": "not-an-email"},
            "not an object",
            {"text": 5, "surprise": True},
        ],
    )
    problem = assert_problem(response, 422)
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {
        "items[1].text",  # too short
        "items[1].email",
        "items[2]",
        "items[3].text",
        "items[3].surprise",
    }
    # Type errors are reported first; once they are fixed, the rules are checked.
    response = post(
        client,
        token,
        [{"text": "A perfectly sensible comment."}, {"text": "short", "email": "not-an-email"}],
    )
    problem = assert_problem(response, 422)
    assert {e["field"] for e in problem["errors"]} == {"items[1].text", "items[1].email"}
    assert problem["detail"].startswith("1 of 2 items are not valid, so none was stored")
    assert count_items() == 0


def test_single_object_errors_name_the_field_alone(client, token):
    problem = assert_problem(post(client, token, {"text": "short"}), 422)
    assert problem["errors"] == [
        {"field": "text", "pointer": "#/text", "detail": problem["errors"][0]["detail"]}
    ]


def test_a_failure_while_storing_stores_none_of_the_batch_and_is_a_json_500(
    app, client, token, monkeypatch
):
    from engage.feedback import service

    real_insert = service.insert_items

    def insert_then_fail(rows):
        real_insert(rows)  # every row is written in the transaction ...
        raise RuntimeError("the disk caught fire")  # ... and then something breaks

    monkeypatch.setattr(service, "insert_items", insert_then_fail)
    batch = [{"text": f"Item number {n} of a batch that fails."} for n in range(50)]
    response = post(client, token, batch)
    problem = assert_problem(response, 500)
    assert "fire" not in problem["detail"]  # nothing internal is shown
    assert count_items() == 0


def test_unexpected_error_under_api_is_problem_json(client, token, monkeypatch):
    from engage.feedback import partners

    def broken(token):
        raise KeyError("boom")

    monkeypatch.setattr(partners, "partner_for_token", broken)
    assert_problem(post(client, token, {"text": "A perfectly sensible comment."}), 500)


def test_every_error_status_is_problem_json(app, client, token, monkeypatch):
    auth = {"Authorization": f"Bearer {token}"}
    good = {"text": "A perfectly sensible comment."}
    answers = {
        400: post_raw(client, token, b'{"text": "truncated'),
        401: post(client, "wrong", good),
        404: client.post("/api/v1/no-such-thing", json=good, headers=auth),
        405: client.get("/api/v1/feedback", headers=auth),
        415: client.post("/api/v1/feedback", data="text=hello", headers=auth),
        422: post(client, token, {"text": "short"}),
    }
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "MAX_CONTENT_LENGTH", 2000)
        answers[413] = post(client, token, {"text": "x" * 5000})
    assert idempotent(client, token, [good], "reused").status_code == 201
    answers[409] = idempotent(client, token, [good, good], "reused")
    for status, response in answers.items():
        assert_problem(response, status)
    assert answers[401].headers["WWW-Authenticate"].startswith("Bearer")
    assert "2,000 bytes" in answers[413].get_json(force=True)["detail"]
    assert count_items() == 1  # the first of the two "reused" requests


def test_rate_limit_is_problem_json_with_retry_after(client, token):
    limiter.reset()
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(120):
        client.post("/api/v1/feedback", json={"text": "short"}, headers=auth)
    response = client.post("/api/v1/feedback", json={"text": "short"}, headers=auth)
    body = assert_problem(response, 429)
    assert "120 per 1 minute" in body["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 61  # the minute window


def test_csrf_refusal_under_api_is_problem_json(app):
    from flask_wtf.csrf import CSRFError

    with app.test_request_context("/api/v1/feedback", method="POST"):
        response = app.make_response(app.handle_user_exception(CSRFError("missing token")))
    assert_problem(response, 400)
    with app.test_request_context("/engagements/x/feedback", method="POST"):
        response = app.make_response(app.handle_user_exception(CSRFError("missing token")))
    assert response.status_code == 400 and response.mimetype == "text/html"


def test_errors_outside_the_api_stay_pages(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_content_type_must_be_json(client, token):
    auth = {"Authorization": f"Bearer {token}"}
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = client.post(
            "/api/v1/feedback",
            data=b'{"text": "A perfectly sensible comment."}',
            headers={**auth, "Content-Type": content_type},
        )
        assert_problem(response, 415)
    # application/<something>+json is JSON too
    response = client.post(
        "/api/v1/feedback",
        data=b'{"text": "A perfectly sensible comment."}',
        headers={**auth, "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 201
    assert count_items() == 1


def post_raw(client, token, body: bytes, **headers):
    return client.post(
        "/api/v1/feedback",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
    )


def idempotent(client, token, payload, key: str):
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    return client.post("/api/v1/feedback", json=payload, headers=headers)
