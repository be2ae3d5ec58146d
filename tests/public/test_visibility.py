"""Drafts and unpublished responses never appear on a public surface."""

from __future__ import annotations

from engage.extensions import db
from engage.publish import service

DRAFT = "zqxdraftsecret"
WITHDRAWN = "zqxwithdrawnsecret"
LIVE = "zqxlivepublic"


def surfaces(engagement, response_ids):
    """Every public URL that could show a response (searches echo only part of a secret)."""
    slug = engagement.slug
    urls = [
        "/you-said-we-did",
        f"/you-said-we-did?q={DRAFT[:-3]}",
        f"/you-said-we-did?q={WITHDRAWN[:-3]}",
        f"/you-said-we-did?engagement={slug}",
        "/you-said-we-did?theme=money",
        "/you-said-we-did/feed.atom",
        f"/you-said-we-did/feed.atom?engagement={slug}",
        "/you-said-we-did/feed.atom?theme=money",
        f"/engagements/{slug}",
        f"/engagements/{slug}/report",
        "/open-data/responses.csv",
        "/open-data/responses.json",
        "/open-data/feedback-counts.csv",
        "/open-data/feedback-counts.json",
        "/api/v1/responses",
        f"/api/v1/responses?q={DRAFT[:-3]}",
        f"/api/v1/responses?engagement={slug}",
        "/api/v1/responses?theme=money&per_page=100",
        "/api/v1/engagements",
        "/api/v1/themes",
        "/api/v1/statistics",
    ]
    return urls + [f"/you-said-we-did/{i}" for i in response_ids]


def test_drafts_and_unpublished_are_invisible(client, make_engagement, make_response):
    engagement = make_engagement()
    draft = make_response(
        engagement=engagement, you_said=f"{DRAFT} one.", themes=("money",), publish=False
    )
    withdrawn = make_response(
        engagement=engagement, you_said=f"{WITHDRAWN} two.", themes=("money",)
    )
    service.unpublish(withdrawn, reason="Published by mistake")
    db.session.commit()
    live = make_response(engagement=engagement, you_said=f"{LIVE} three.", themes=("money",))
    seen_live = False
    for url in surfaces(engagement, [draft.id, withdrawn.id, live.id]):
        response = client.get(url)
        body = response.get_data(as_text=True)
        if url.endswith(f"/{draft.id}") or url.endswith(f"/{withdrawn.id}"):
            assert response.status_code == 404, url
        else:
            assert response.status_code == 200, url
        assert DRAFT not in body, url
        assert WITHDRAWN not in body, url
        assert "Published by mistake" not in body, url
        seen_live = seen_live or LIVE in body
    assert seen_live
    counts = client.get("/api/v1/themes").get_json()["items"]
    assert {t["slug"]: t["published_responses"] for t in counts}["money"] == 1
    stats = client.get("/api/v1/statistics").get_json()["items"][0]
    assert sum(stats["published_responses"].values()) == 1
    assert client.get("/api/v1/engagements").get_json()["items"][0]["published_responses"] == 1
