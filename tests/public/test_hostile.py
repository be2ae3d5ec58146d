"""Hostile search, filter and page inputs never cause a server error."""

from __future__ import annotations

import pytest

NASTY = [
    "%",
    "_",
    "\\",
    "'",
    '"',
    "%00",
    "\x00",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "x" * 10_000,
    "\u202e\u0000\ud7ff",
    "١٢",
    "-1",
    "0",
    "1e9",
    "99999999999999999999999",
    "NaN",
]
PARAMS = ["q", "engagement", "theme", "status", "area", "page", "per_page"]
PATHS = [
    "/you-said-we-did",
    "/you-said-we-did/feed.atom",
    "/api/v1/responses",
    "/api/v1/statistics",
    "/api/v1/engagements",
    "/you-said-we-did/alerts",
]


@pytest.mark.parametrize("path", PATHS)
def test_hostile_query_strings(client, make_response, path):
    make_response()
    for param in PARAMS:
        for value in NASTY:
            response = client.get(path, query_string={param: value})
            assert response.status_code < 500, (path, param, value)
    script = client.get(path, query_string={"q": "<script>alert(1)</script>"})
    assert b"<script>alert(1)</script>" not in script.data


@pytest.mark.parametrize(
    "path",
    [
        "/you-said-we-did/0",
        "/you-said-we-did/99999999999999999999999",
        "/you-said-we-did/-1",
        "/you-said-we-did/abc",
        "/you-said-we-did/alerts/confirm/x",
        "/you-said-we-did/alerts/confirm/" + "a" * 500,
        "/you-said-we-did/alerts/unsubscribe/forged",
        "/engagements/%00/report",
    ],
)
def test_hostile_paths_are_404(client, path):
    assert client.get(path).status_code == 404


def test_hostile_vote_and_alert_posts(client, make_response):
    response = make_response()
    for data in (
        {"helpful": "maybe"},
        {"helpful": "no", "comment": "\x00" * 50},
        {"helpful": "no", "comment": "x" * 50_000},
    ):
        assert client.post(f"/you-said-we-did/{response.id}/vote", data=data).status_code < 500
    for data in (
        {"email": "a@example.org", "target": "theme:nope"},
        {"email": "a@example.org\r\nBcc: b@example.org", "target": "theme:money"},
        {"email": "x" * 400, "target": "engagement:\x00"},
    ):
        assert client.post("/you-said-we-did/alerts", data=data).status_code == 400
