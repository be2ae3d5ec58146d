"""Atom feeds of published responses."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from engage.extensions import db
from engage.publish import service

ATOM = "{http://www.w3.org/2005/Atom}"


def _feed(client, query=""):
    response = client.get(f"/you-said-we-did/feed.atom{query}")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    return ET.fromstring(response.data)


def test_feed_is_valid_atom(client, make_response):
    first = make_response(you_said="first <b>concern</b> & more.")
    make_response(you_said="second concern.")
    service.update(first, we_did="Changed.")
    db.session.commit()
    feed = _feed(client)
    assert feed.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert feed.findtext(f"{ATOM}{name}")
    assert feed.find(f"{ATOM}author/{ATOM}name") is not None
    assert feed.find(f"{ATOM}link[@rel='self']") is not None
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 2
    for entry in entries:
        for name in ("id", "title", "updated", "content"):
            assert entry.findtext(f"{ATOM}{name}")
        assert entry.find(f"{ATOM}link[@rel='alternate']").get("href").startswith("http")
    contents = [e.findtext(f"{ATOM}content") for e in entries]
    assert any("first <b>concern</b> & more." in c for c in contents)
    assert feed.findtext(f"{ATOM}updated").endswith("Z")


def test_feed_per_engagement_and_theme(client, make_engagement, make_response):
    one, two = make_engagement(), make_engagement()
    make_response(engagement=one, themes=("money",), you_said="money one.")
    make_response(engagement=two, themes=("jobs",), you_said="jobs two.")

    def titles(query):
        return [e.findtext(f"{ATOM}content") for e in _feed(client, query).iter(f"{ATOM}entry")]

    assert len(titles(f"?engagement={one.slug}")) == 1
    assert "money one." in titles(f"?engagement={one.slug}")[0]
    assert "jobs two." in titles("?theme=jobs")[0]
    assert titles(f"?engagement={one.slug}&theme=jobs") == []
    assert client.get("/you-said-we-did/feed.atom?engagement=nope").status_code == 404
    assert client.get("/you-said-we-did/feed.atom?theme=nope").status_code == 404


def test_empty_feed_is_still_valid(client):
    feed = _feed(client)
    assert feed.findtext(f"{ATOM}updated") and feed.findall(f"{ATOM}entry") == []
