"""Absolute URLs come from ENGAGE_BASE_URL, never from the request's Host (issue #20).

Measured: four requests with `Host: evil.example` put `http://evil.example/...` into
every later ordinary response of the feed, the API and the report, through the page
cache. Now nothing a page writes depends on the Host, so nothing the cache keeps does.
"""

from __future__ import annotations

import pytest

from engage.publish.models import ResponseStatus

EVIL = "evil.example"


@pytest.fixture
def published(make_engagement, make_response):
    engagement = make_engagement(slug="case-for-change")
    make_response(engagement=engagement, themes=("money",))
    make_response(engagement=engagement, status=ResponseStatus.DONE)
    return engagement


PATHS = (
    "/you-said-we-did/feed.atom",
    "/you-said-we-did/feed.atom?theme=money",
    "/you-said-we-did/feed.atom?engagement=case-for-change",
    "/api/v1/responses",
    "/api/v1/engagements",
    "/api/v1/openapi.json",
    "/api",
    "/open-data/responses.json",
    "/open-data/responses.csv",
    "/engagements/case-for-change/report",
)


@pytest.mark.parametrize("path", PATHS)
def test_a_foreign_host_never_reaches_a_later_response(app, client, published, path, monkeypatch):
    # The report counts feedback: keep it in the page store as production does.
    monkeypatch.setitem(app.config, "ENGAGE_FIGURES_MAX_AGE", 60)
    base = app.config["ENGAGE_BASE_URL"]
    for _ in range(4):
        poisoned = client.get(path, headers={"Host": EVIL})
        assert poisoned.status_code == 200, path
        assert EVIL not in poisoned.get_data(as_text=True), path
    for _ in range(2):  # the first may be made, the second is from the store
        ordinary = client.get(path)
        assert ordinary.status_code == 200
        body = ordinary.get_data(as_text=True)
        assert EVIL not in body, path
        assert base + "/" in body, (path, base)
        assert "http://localhost" not in body  # nor the test client's own host


def test_links_are_built_from_the_base_url(app, client, published, monkeypatch):
    monkeypatch.setitem(app.config, "ENGAGE_BASE_URL", "https://engage.example.nhs.uk")
    feed = client.get("/you-said-we-did/feed.atom?theme=money").get_data(as_text=True)
    assert "<id>https://engage.example.nhs.uk/you-said-we-did/feed.atom?theme=money</id>" in feed
    responses = client.get("/api/v1/responses").json["items"]
    permalinks = "https://engage.example.nhs.uk/you-said-we-did/"
    assert all(r["url"].startswith(permalinks) for r in responses)
    engagements = client.get("/api/v1/engagements").json["items"]
    assert engagements[0]["url"] == "https://engage.example.nhs.uk/engagements/case-for-change"
    spec = client.get("/api/v1/openapi.json").json
    assert spec["servers"][0]["url"] == "https://engage.example.nhs.uk/api/v1"
