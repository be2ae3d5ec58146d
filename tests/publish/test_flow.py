"""Draft → publish → email through real SMTP → every public surface shows it."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from engage import outbox
from engage.extensions import db
from engage.feedback.models import Status
from engage.publish import service

ATOM = "{http://www.w3.org/2005/Atom}"


def test_publishing_end_to_end(client, smtp_server, make_engagement, make_item, make_response):
    engagement = make_engagement(title="Commissioning Reform")
    item = make_item(
        "Who will speak for Harrow once the CCGs merge?",
        engagement_slug=engagement.slug,
        author_email="resident@example.org",
        contact_me=True,
        area="Harrow",
    )
    outbox.send_due()  # the acknowledgement
    smtp_server.wait_for(1)
    response = make_response(
        engagement=engagement,
        items=[item],
        you_said="decisions about Harrow will be made elsewhere.",
        we_did="Harrow keeps a borough committee with local GPs.",
        publish=False,
    )
    assert client.get(f"/you-said-we-did/{response.id}").status_code == 404

    service.publish(response, by="lead@nhs.example")
    db.session.commit()
    assert item.status == Status.RESPONDED
    assert outbox.send_due().sent == 1
    messages = smtp_server.wait_for(2)
    email = messages[-1]
    assert email["To"] == "resident@example.org"
    assert "We have responded" in email["Subject"]
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/" in email["List-Unsubscribe"]
    plain = email.get_body(preferencelist=("plain",)).get_content()
    assert "Harrow keeps a borough committee" in plain
    assert f"/you-said-we-did/{response.id}" in plain

    wording = "Harrow keeps a borough committee with local GPs."
    log = client.get("/you-said-we-did").get_data(as_text=True)
    assert wording in log
    page = client.get(f"/you-said-we-did/{response.id}").get_data(as_text=True)
    assert wording in page and "1</span> person raised" in page
    feed = ET.fromstring(client.get("/you-said-we-did/feed.atom").data)
    assert any(wording in e.findtext(f"{ATOM}content") for e in feed.iter(f"{ATOM}entry"))
    api = client.get("/api/v1/responses").get_json()
    assert [r["we_did"] for r in api["items"]] == [wording]
    assert api["items"][0]["people_raising"] == 1
    assert wording in client.get("/open-data/responses.csv").get_data(as_text=True)
    exported = json.loads(client.get("/open-data/responses.json").data)
    assert exported["responses"][0]["id"] == response.id
    engagement_page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    assert wording in engagement_page and "You told us you are concerned that" in engagement_page
    assert "100%" in engagement_page  # the one comment has a response


def test_alert_subscriber_journey(client, smtp_server, make_engagement, make_response):
    engagement = make_engagement()
    page = client.post(
        "/you-said-we-did/alerts",
        data={"email": "watcher@example.org", "engagements": [engagement.slug]},
    )
    assert page.status_code == 200 and "Check your email" in page.get_data(as_text=True)
    outbox.send_due()
    [confirmation] = smtp_server.wait_for(1)
    body = confirmation.get_body(preferencelist=("plain",)).get_content()
    link = next(w for w in body.split() if "/alerts/confirm/" in w)
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert "Start my alerts" in client.get("/" + path).get_data(as_text=True)
    assert "Alerts started" in client.post("/" + path).get_data(as_text=True)
    assert client.get("/" + path).status_code == 404  # used once

    make_response(engagement=engagement, notify=True)
    outbox.send_due()
    alert = smtp_server.wait_for(2)[-1]
    assert alert["To"] == "watcher@example.org"
    unsubscribe = alert["List-Unsubscribe"].strip("<>").split("://", 1)[1].split("/", 1)[1]
    done = client.post("/" + unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 204
    make_response(engagement=engagement, you_said="another concern.", notify=True)
    assert outbox.send_due().sent == 0
