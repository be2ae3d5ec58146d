"""POST /api/v1/feedback keeps to its OpenAPI description with a valid partner token.

test_api_schemathesis.py sends generated requests without a token (every answer a 401);
here schemathesis sends them as a partner, so the 201, 200, 400, 409, 415 and 422
answers are checked against the document too: status codes, content types
(application/problem+json for every error) and bodies.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from sqlalchemy import func, select

from engage.extensions import db, limiter
from engage.feedback.models import FeedbackItem
from tests.partners import create_partner

CONFORMANCE = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


def test_document_describes_the_partner_endpoint(client):
    document = client.get("/api/v1/openapi.json").get_json()
    post = document["paths"]["/feedback"]["post"]
    assert post["security"] == [{"partnerToken": []}]
    assert [p["name"] for p in post["parameters"]] == ["Idempotency-Key"]
    answers = post["responses"]
    assert {"200", "201"} <= answers.keys()
    for status in ("400", "401", "409", "413", "415", "422", "429", "500"):
        assert list(answers[status]["content"]) == ["application/problem+json"], status
    assert "Idempotent-Replayed" in answers["200"]["headers"]
    assert "Retry-After" in answers["429"]["headers"]


def test_partner_endpoint_keeps_to_its_document(app, make_engagement):
    make_engagement(slug="case-for-change", areas=["Brent", "Harrow"])
    token = create_partner("Healthwatch Brent")[1]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema["/feedback"]["POST"]
    limiter.enabled = False
    seen: set[int] = set()
    stored: set[str] = set()
    try:

        @given(case=operation.as_strategy())
        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            response = case.call()
            seen.add(response.status_code)
            case.validate_response(response, checks=CONFORMANCE)
            if response.status_code in (200, 201):
                body = response.json()
                references = {i["reference"] for i in body.get("items", [body])}
                # A replay answers references stored before; a 201 only new ones.
                assert (references <= stored) == (response.status_code == 200), body
                stored.update(references)

        check()
    finally:
        limiter.enabled = True
    assert seen & {201, 422}, seen  # it was a partner's request, not refused at the door
    # Exactly what was answered as stored is stored: no part of a refused batch.
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(FeedbackItem)) == len(stored)
