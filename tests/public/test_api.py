"""The public JSON API and its OpenAPI document."""

from __future__ import annotations

import json

import pytest

from engage.publish.models import ResponseStatus


@pytest.fixture
def published(make_engagement, make_item, make_response):
    engagement = make_engagement()
    item = make_item(engagement_slug=engagement.slug, area="Brent")
    return make_response(engagement=engagement, items=[item], themes=("money",))


def test_openapi_document_describes_every_get_route(app, client, published):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.data)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] and document["info"]["version"]
    # Every GET the document describes answers; POST /feedback (partners) is checked in
    # test_openapi_feedback.py.
    paths = {path for path, operations in document["paths"].items() if "get" in operations}
    for path in paths:
        got = client.get(f"/api/v1{path}")
        assert got.status_code == 200, path
        assert got.is_json
    routes = {
        rule.rule.removeprefix("/api/v1")
        for rule in app.url_map.iter_rules()
        # /api/v1/ itself only sends a browser to the documentation page.
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/" and "GET" in rule.methods
    }
    assert routes == paths
    posts = {
        rule.rule.removeprefix("/api/v1")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and "POST" in rule.methods
    }
    assert posts == {p for p, operations in document["paths"].items() if "post" in operations}


def test_lists_are_paginated(client, make_engagement, make_response):
    engagement = make_engagement()
    for n in range(5):
        make_response(engagement=engagement, you_said=f"worry {n}.")
    body = client.get("/api/v1/responses?per_page=2&page=2").get_json()
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (2, 2, 5, 3)
    assert [r["you_said"] for r in body["items"]] == ["worry 2.", "worry 1."]
    assert client.get("/api/v1/responses?page=9").get_json()["items"] == []
    engagements = client.get("/api/v1/engagements").get_json()
    assert engagements["items"][0]["published_responses"] == 5


@pytest.mark.parametrize(
    "query",
    [
        "per_page=0",
        "per_page=101",
        "page=0",
        "page=-1",
        "page=abc",
        "page=1e3",
        "page=99999999999",
        "per_page=%00",
        "status=bogus",
    ],
)
def test_bad_parameters_are_json_400(client, query):
    response = client.get(f"/api/v1/responses?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["status"] == 400 and body["title"]


def test_errors_are_json(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["status"] == 404
    wrong = client.delete("/api/v1/responses")
    assert wrong.status_code == 405 and wrong.get_json()["status"] == 405
    stats = client.get("/api/v1/statistics?engagement=nope")
    assert stats.status_code == 404 and stats.is_json
    # Elsewhere the site's HTML error pages are unchanged.
    assert "Page not found" in client.get("/nothing-here").get_data(as_text=True)


def test_responses_filters_and_fields(client, published):
    body = client.get("/api/v1/responses?theme=money&area=Brent").get_json()
    [item] = body["items"]
    assert item["themes"] == ["money"] and item["status"] == ResponseStatus.PLANNED.value
    assert item["url"].endswith(f"/you-said-we-did/{published.id}")
    assert item["people_raising"] == 1 and item["votes"] == {"yes": 0, "no": 0}
    assert body["licence"]["name"] == "Open Government Licence v3.0"
    assert client.get("/api/v1/responses?theme=jobs").get_json()["total"] == 0


def test_themes_and_statistics(client, published):
    themes = {t["slug"]: t for t in client.get("/api/v1/themes").get_json()["items"]}
    assert (
        themes["money"]["published_responses"] == 1 and themes["jobs"]["published_responses"] == 0
    )
    [stats] = client.get(f"/api/v1/statistics?engagement={published.engagement.slug}").get_json()[
        "items"
    ]
    assert stats["comments"] == 1
    assert stats["published_responses"]["planned"] == 1
    assert stats["responsiveness"]["share_answered_percent"] == 100
    assert client.get("/api/v1/openapi.json").headers["Access-Control-Allow-Origin"] == "*"


def test_routing_errors_are_problem_details_with_their_headers(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "about:blank"
    response = client.delete("/api/v1/responses")
    assert response.status_code == 405 and response.mimetype == "application/problem+json"
    assert {"GET", "HEAD"} <= {m.strip() for m in response.headers["Allow"].split(",")}
    response = client.put("/api/v1/feedback")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]


def test_the_api_address_leads_to_its_documentation(client):
    got = client.get("/api/v1/")
    assert got.status_code == 302
    assert got.headers["Location"].endswith("/api")
    docs = client.get(got.headers["Location"]).get_data(as_text=True)
    assert "POST" in docs and "/api/v1/feedback" in docs
