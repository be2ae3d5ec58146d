"""Idempotency-Key on POST /api/v1/feedback: a retry never stores feedback twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from engage import create_app
from engage.extensions import db
from engage.feedback import api_views, service
from engage.feedback.idempotency import IDEMPOTENCY_KEY_LIFETIME
from engage.feedback.models import FeedbackItem, IdempotencyKey
from engage.util import utcnow
from tests.partners import create_partner

BATCH = [
    {"text": "Residents at our Harrow event worried about GP access."},
    {"text": "Several people asked for the minutes to be published.", "area": "Harrow"},
]


def count_items() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(FeedbackItem))


@pytest.fixture
def token(app):
    return create_partner("Healthwatch Harrow")[1]


def send(client, token, payload, key=None, **extra_headers):
    headers = {"Authorization": f"Bearer {token}", **extra_headers}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/feedback", json=payload, headers=headers)


def references(response) -> list[str]:
    body = response.get_json()
    return [item["reference"] for item in body["items"]] if "items" in body else [body["reference"]]


def test_same_key_same_body_answers_the_first_references(client, token):
    first = send(client, token, BATCH, key="batch-2026-05-01")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    again = send(client, token, BATCH, key="batch-2026-05-01")
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert count_items() == 2


def test_single_object_replay_has_the_single_shape(client, token):
    first = send(client, token, BATCH[0], key="one")
    again = send(client, token, BATCH[0], key="one")
    assert (first.status_code, again.status_code) == (201, 200)
    assert (
        again.get_json() == first.get_json() == {"reference": references(first)[0], "status": "new"}
    )
    assert count_items() == 1


def test_the_same_json_written_differently_is_the_same_body(client, token):
    first = send(client, token, {"text": "Keep the walk-in centre open.", "area": "Brent"}, key="k")
    raw = b'{ "area" : "Brent",\n  "text" : "Keep the walk-in centre open." }'
    again = client.post(
        "/api/v1/feedback",
        data=raw,
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": "k",
            "Content-Type": "application/json",
        },
    )
    assert again.status_code == 200 and references(again) == references(first)


def test_same_key_other_body_is_409_and_stores_nothing(client, token):
    assert send(client, token, BATCH, key="k-1").status_code == 201
    for other in (BATCH[:1], [*BATCH, BATCH[0]], BATCH[0], [BATCH[1], BATCH[0]]):
        response = send(client, token, other, key="k-1")
        assert response.status_code == 409
        assert response.mimetype == "application/problem+json"
        assert "Idempotency-Key" in response.get_json()["detail"]
    assert count_items() == 2


def test_without_a_key_each_request_stores(client, token):
    assert send(client, token, BATCH).status_code == 201
    assert send(client, token, BATCH).status_code == 201
    assert count_items() == 4


def test_keys_belong_to_the_partner(client, token):
    other = create_partner("Healthwatch Brent")[1]
    first = send(client, token, BATCH, key="shared-key")
    theirs = send(client, other, [BATCH[0]], key="shared-key")  # another body, no 409
    assert (first.status_code, theirs.status_code) == (201, 201)
    mine_again = send(client, token, BATCH, key="shared-key")
    assert mine_again.status_code == 200 and references(mine_again) == references(first)
    theirs_again = send(client, other, [BATCH[0]], key="shared-key")
    assert theirs_again.status_code == 200 and references(theirs_again) == references(theirs)
    assert count_items() == 3


def test_a_refused_request_does_not_use_up_its_key(client, token):
    assert send(client, token, [{"text": "short"}], key="fix-and-retry").status_code == 422
    assert send(client, token, BATCH, key="fix-and-retry").status_code == 201
    assert count_items() == 2


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "caf\u00e9", "tab\there"])
def test_a_malformed_key_is_400_naming_the_header(client, token, key):
    response = client.post(
        "/api/v1/feedback",
        json=BATCH,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["field"] == "Idempotency-Key"
    assert count_items() == 0


def test_a_quoted_key_is_the_same_key(client, token):
    first = send(client, token, BATCH, key='"8e03978e-40d5-43e8-bc93-6894a57f9324"')
    again = send(client, token, BATCH, key="8e03978e-40d5-43e8-bc93-6894a57f9324")
    assert (first.status_code, again.status_code) == (201, 200)


def test_the_key_is_in_the_database_so_every_process_sees_it(app, client, token):
    """A second app on the same database (another gunicorn worker, another node)."""
    first = send(client, token, BATCH, key="seen-everywhere")
    other = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": "another-process",
            "RATELIMIT_ENABLED": False,
            "ENGAGE_POST_COMMIT_IN_WORKER": False,
        }
    )
    try:
        with other.app_context():
            again = send(other.test_client(), token, BATCH, key="seen-everywhere")
            conflict = send(other.test_client(), token, BATCH[:1], key="seen-everywhere")
            db.session.remove()
    finally:
        with other.app_context():
            db.engine.dispose()
    assert again.status_code == 200 and references(again) == references(first)
    assert conflict.status_code == 409
    stored = db.session.scalar(select(IdempotencyKey))
    assert stored.key == "seen-everywhere" and stored.item_references == references(first)
    assert count_items() == 2


def test_a_key_expires_after_its_lifetime(client, token):
    first = send(client, token, BATCH, key="daily")
    db.session.execute(
        update(IdempotencyKey).values(
            created_at=utcnow() - IDEMPOTENCY_KEY_LIFETIME - timedelta(minutes=1)
        )
    )
    db.session.commit()
    later = send(client, token, BATCH[:1], key="daily")  # another body: no 409 any more
    assert later.status_code == 201 and references(later) != references(first)
    assert send(client, token, BATCH[:1], key="daily").status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1
    assert count_items() == 3


def test_a_retry_racing_the_first_request_gets_its_references(client, token, monkeypatch):
    """The retry looked before the first request committed, then lost the race on the
    key's unique index: its rows are rolled back and it answers the first references."""
    first = send(client, token, BATCH, key="racing")
    real = service.stored_under
    calls = []

    def not_yet_committed(idempotency):
        calls.append(idempotency.key)
        return None if len(calls) <= 2 else real(idempotency)  # the API's look, then submit_many's

    monkeypatch.setattr(service, "stored_under", not_yet_committed)
    monkeypatch.setattr(api_views, "stored_under", not_yet_committed)
    again = send(client, token, BATCH, key="racing")
    assert again.status_code == 200 and references(again) == references(first)
    calls.clear()
    other = send(client, token, BATCH[:1], key="racing")
    assert other.status_code == 409
    assert count_items() == 2


def test_two_requests_with_one_key_at_the_same_moment_store_once(app, token, monkeypatch):
    """Both requests pass the look-up before either stores (held at a barrier), then
    both insert: the key's unique index lets one commit; the other answers 200."""
    barrier = threading.Barrier(2, timeout=20)
    real_validate = service.validate

    def validate_together(submission, **kwargs):
        if submission.text == BATCH[0]["text"]:
            barrier.wait()
        return real_validate(submission, **kwargs)

    monkeypatch.setattr(service, "validate", validate_together)
    answers = []

    def request():
        with app.app_context():
            answers.append(send(app.test_client(), token, BATCH, key="same-moment"))
            db.session.remove()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(a.status_code for a in answers) == [200, 201]
    assert references(answers[0]) == references(answers[1])
    assert count_items() == 2
