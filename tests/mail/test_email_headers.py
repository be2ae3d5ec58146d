"""What residents' mail clients receive: raw headers and the acknowledgement's content.

Every message goes through the outbox to a real SMTP server (tests/smtp.py) and the
bytes it received are read back, so what is checked is what a mail client would see.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.utils import parseaddr

import pytest

from engage import outbox
from engage.config import ConfigError, noreply_sender
from engage.feedback.models import Channel
from engage.feedback.service import Submission, submit
from engage.outbox import compose

BASE = "https://engage.example.nhs.uk"


@pytest.fixture
def base_url(app, monkeypatch):
    monkeypatch.setitem(app.config, "ENGAGE_BASE_URL", BASE)
    return BASE


def _raw_headers(raw: bytes) -> str:
    """The header block exactly as it arrived, with folded lines still folded."""
    return raw.split(b"\r\n\r\n", 1)[0].decode("ascii")


def _header_lines(raw: bytes, name: str) -> list[str]:
    """The physical lines of one header (the first line and its continuations)."""
    lines = _raw_headers(raw).split("\r\n")
    for index, line in enumerate(lines):
        if line.lower().startswith(name.lower() + ":"):
            found = [line]
            for more in lines[index + 1 :]:
                if more[:1] not in (" ", "\t"):
                    break
                found.append(more)
            return found
    return []


def _parts(message) -> tuple[str, str]:
    """The plain text and HTML parts, with the wire's CRLF line ends made LF."""
    return tuple(
        message.get_body(preferencelist=(kind,)).get_content().replace("\r\n", "\n")
        for kind in ("plain", "html")
    )


def _send(smtp_server, **overrides):
    values = {
        "text": "Keep the Ealing walk-in centre open please.",
        "channel": Channel.WEB,
        "author_email": "dee@example.org",
        "author_name": "Dee",
        "contact_me": True,
    }
    values.update(overrides)
    item = submit(Submission(**values))
    assert outbox.send_due().sent == 1
    smtp_server.wait_for(1)
    envelope = smtp_server.handler.envelopes[-1]
    return item, envelope.content, message_from_bytes(envelope.content, policy=policy.default)


def test_list_unsubscribe_arrives_raw_not_encoded(app, smtp_server, base_url):
    item, raw, _ = _send(smtp_server)
    header = _raw_headers(raw)
    assert "=?" not in header  # no RFC 2047 encoded word anywhere in the headers
    [line] = _header_lines(raw, "List-Unsubscribe")
    match = re.fullmatch(r"List-Unsubscribe: <(https://[!-~]+)>", line)
    assert match, line
    assert match.group(1).startswith(f"{BASE}/unsubscribe/")
    assert len(line) > 78  # long enough that the old folding encoded it
    assert _header_lines(raw, "List-Unsubscribe-Post") == [
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    ]
    assert all(len(line) <= compose.MAX_LINE for line in header.split("\r\n"))


def test_one_click_post_from_the_received_header_stops_emails(app, client, smtp_server, base_url):
    item, raw, _ = _send(smtp_server)
    [line] = _header_lines(raw, "List-Unsubscribe")
    path = line.split("<", 1)[1].rstrip(">").removeprefix(BASE)
    # A GET (a link scanner) changes nothing; the mail client's POST does (RFC 8058).
    page = client.get(path)
    assert page.status_code == 200 and b"<form" in page.data
    from engage.extensions import db

    db.session.refresh(item)
    assert item.contact_me
    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 204
    db.session.refresh(item)
    assert not item.contact_me


def test_list_header_folds_between_entries_only(app):
    email = compose.build(
        recipient="dee@example.org",
        subject="Test",
        body_text="Hello",
        body_html=None,
        message_id="<1@example.org>",
        headers={"List-Unsubscribe": f"<mailto:stop@example.org>, <{BASE}/{'a' * 120}>"},
    )
    raw = email.as_bytes()
    lines = _header_lines(raw, "List-Unsubscribe")
    assert lines == ["List-Unsubscribe: <mailto:stop@example.org>,", f" <{BASE}/{'a' * 120}>"]


@pytest.mark.parametrize(
    "value", ["<https://example.org/é>", "https://example.org/no-brackets", "<a>, junk"]
)
def test_list_header_refuses_what_clients_cannot_read(app, value):
    email = compose.build(
        recipient="dee@example.org",
        subject="Test",
        body_text="Hello",
        body_html=None,
        message_id="<1@example.org>",
        headers={"List-Unsubscribe": value},
    )
    with pytest.raises(ValueError, match="List-Unsubscribe"):
        email.as_bytes()


def test_acknowledgement_content_and_sender(app, smtp_server, base_url, make_engagement):
    engagement = make_engagement(title="Walk-in centres", email_address="walk-in@example.org")
    text = "Line one of what I think.\nLine two & <more>."
    item, raw, message = _send(smtp_server, text=text, engagement_slug=engagement.slug)
    name, sender = parseaddr(message["From"])
    assert sender == app.config["MAIL_NOREPLY_SENDER"] == "no-reply@engage.example.org"
    assert name == app.config["ENGAGE_ORGANISATION"]
    assert sender != app.config["ENGAGE_FEEDBACK_ADDRESS"]
    assert message["Reply-To"] is None
    # Bounces still go to the envelope sender.
    assert smtp_server.handler.envelopes[-1].mail_from == app.config["MAIL_DEFAULT_SENDER"]
    plain, html = _parts(message)
    track = f"{BASE}/track?reference={item.reference}"
    for body in (plain, html):
        assert item.reference in body
        assert track in body
        assert "walk-in@example.org" in body  # the engagement's own address for more
        assert f"{BASE}/engagements/{engagement.slug}" in body
        assert "not read" not in body and "cannot reply" in body.lower()
        assert "up to 1,000 characters" not in body
    assert text in plain
    assert "Line one of what I think.<br>Line two &amp; &lt;more&gt;." in html
    # Every link in either part is absolute and starts with ENGAGE_BASE_URL.
    links = re.findall(r'href="([^"]+)"', html) + re.findall(r"https?://\S+", plain)
    web = [link for link in links if not link.startswith("mailto:")]
    assert web and all(link.startswith(BASE + "/") for link in web)


def test_acknowledgement_quotes_first_1000_characters_and_says_so(app, smtp_server, base_url):
    text = ("word " * 400).strip() + " THE-END"
    item, raw, message = _send(smtp_server, text=text)
    plain, html = _parts(message)
    for body in (plain, html):
        assert (
            "This is the start of what you sent, up to 1,000 characters. We have kept all of it."
            in body
        )
        assert "THE-END" not in body
    # Whole words only, up to 1,000 characters, then an ellipsis.
    shown = plain.split("What you told us:\n\n", 1)[1].split(" …", 1)[0]
    assert text.startswith(shown) and 900 <= len(shown) <= 1000
    assert text[len(shown)] == " " and shown.endswith("word")
    # General feedback: the general address and the list of engagements.
    assert app.config["ENGAGE_FEEDBACK_ADDRESS"] in plain
    assert f"{BASE}/\n" in plain


def test_track_link_fills_in_the_reference(client):
    page = client.get("/track?reference=YS-2026-000042").get_data(as_text=True)
    assert 'value="YS-2026-000042"' in page
    # Bounded and cleaned like any query value; a POST ignores the query string.
    page = client.get("/track", query_string={"reference": "A\x00B" + "9" * 80}).get_data(
        as_text=True
    )
    assert "\x00" not in page and 'value="A B' + "9" * 37 + '"' in page


def test_non_ascii_recipient_is_sent_with_smtputf8(app, smtp_server):
    item, raw, message = _send(smtp_server, author_email="zoë@example.org")
    assert smtp_server.handler.envelopes[-1].rcpt_tos == ["zoë@example.org"]
    assert "SMTPUTF8" in smtp_server.handler.envelopes[-1].mail_options
    assert message["To"] == "zoë@example.org"


def test_noreply_sender_default_and_distinct(monkeypatch):
    monkeypatch.delenv("MAIL_NOREPLY_SENDER", raising=False)
    assert noreply_sender("Engage <engage@nhs.example>", "engage@nhs.example") == (
        "no-reply@nhs.example"
    )
    monkeypatch.setenv("MAIL_NOREPLY_SENDER", "Team <Engage+x@nhs.example>")
    with pytest.raises(ConfigError, match="MAIL_NOREPLY_SENDER"):
        noreply_sender("engage@nhs.example", "engage@nhs.example")
    monkeypatch.setenv("MAIL_NOREPLY_SENDER", "not-an-address")
    with pytest.raises(ConfigError, match="MAIL_NOREPLY_SENDER"):
        noreply_sender("engage@nhs.example", "engage@nhs.example")


def test_unsubscribe_button_needs_csrf_one_click_does_not(app, make_item):
    from engage.extensions import db
    from engage.feedback.notifications import unsubscribe_token

    item = make_item(author_email="jo@example.org", contact_me=True)
    url = f"/unsubscribe/{unsubscribe_token(item)}"
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        page = client.get(url).get_data(as_text=True)
        assert 'name="csrf_token"' in page
        assert client.post(url).status_code == 400  # a forged cross-site button press
        db.session.refresh(item)
        assert item.contact_me
        assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 204
        db.session.refresh(item)
        assert not item.contact_me
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


@pytest.mark.parametrize(
    "headers",
    [
        {"List-Unsubscribe": "https://example.org/no-brackets"},
        {"List-Unsubscribe": "<https://example.org/é>"},
        {"List-Unsubscribe": f"<https://example.org/{'a' * 1000}>"},
        {"X-Note": "one\r\nBcc: someone@example.org"},
    ],
)
def test_a_message_that_could_not_be_sent_is_not_queued(app, headers):
    # Refused when queued: at send time it would fail on every try.
    with pytest.raises(ValueError):
        outbox.render(
            kind="test",
            recipient="dee@example.org",
            template="alert_confirm",
            context={},
            headers=headers,
        )
