"""parse_message skips lookups of headers a message lacks: names match in any case."""

from __future__ import annotations

import pytest

from engage.mail import parsing

BASE = (
    b"From: Jane <jane@example.com>\r\n"
    b"To: engage@engage.example.org\r\n"
    b"Subject: The clinic\r\n"
    b"Message-ID: <h1@example.com>\r\n"
)
BODY = b"\r\nPlease keep the walk-in clinic open in the evenings.\r\n"


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (b"", "genuine"),
        (b"AUTO-SUBMITTED: auto-replied\r\n", "auto_reply"),
        (b"auto-submitted: no\r\n", "genuine"),
        (b"x-autoreply: yes\r\n", "auto_reply"),
        (b"X-AUTO-RESPONSE-SUPPRESS: OOF\r\n", "auto_reply"),
        (b"precedence: BULK\r\n", "bulk"),
        (b"LIST-ID: <residents.example.org>\r\n", "bulk"),
        (b"list-unsubscribe: <mailto:leave@example.org>\r\n", "bulk"),
    ],
)
def test_kind_reads_headers_in_any_case(header, kind):
    assert parsing.parse_message(BASE + header + BODY).kind == kind


def test_recipients_from_every_header_in_any_case():
    raw = (
        BASE
        + b"CC: Team <Team@Example.org>\r\n"
        + b"delivered-to: engage+clinic@engage.example.org\r\n"
        + BODY
    )
    message = parsing.parse_message(raw)
    assert message.to_addresses == (
        "engage@engage.example.org",
        "team@example.org",
        "engage+clinic@engage.example.org",
    )
    assert parsing.engagement_hint(message) == "clinic"
