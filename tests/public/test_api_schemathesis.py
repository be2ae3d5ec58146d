"""The OpenAPI document is valid and the API keeps to it for generated requests."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate


def test_document_is_valid_openapi(client):
    validate(client.get("/api/v1/openapi.json").get_json())


def test_api_keeps_to_its_document(app, make_response, make_engagement, make_item):
    engagement = make_engagement()
    item = make_item("The budget for Brent is too small", engagement_slug=engagement.slug)
    make_response(engagement=engagement, items=[item])
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 4
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate()

        check()
