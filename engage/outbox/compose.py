"""Turn a stored outbox message into the bytes handed to SMTP.

Built with the standard library's EmailMessage (not Flask-Mail's Message) so that
every header is under our control. The reason is List-Unsubscribe: Python's header
folder wraps any word too long for a 78-character line as an RFC 2047 encoded word
("It doesn't need CTE encoding, but encode it anyway so we can wrap it", in
email._header_value_parser). An unsubscribe URL with its signed token always is one,
so the header arrived as ``=?utf-8?q?=3Chttps...?=`` and mail clients, which need the
raw ``<https://...>`` of RFC 2369 and RFC 8058, offered no unsubscribe button.
List headers are therefore folded here, only between their ``<...>`` entries, and
are refused if they are not plain ASCII.
"""

from __future__ import annotations

import re
from email import policy as email_policy
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr

from flask import current_app

# RFC 5322 2.1.1: a line must not be longer than 998 characters (without CRLF).
MAX_LINE = 998
_ENTRY = re.compile(r"<[^<>\s]*>")
# Headers that hold a list of <URL>s (RFC 2369) and must never be encoded words.
LIST_HEADERS = ("list-unsubscribe", "list-help", "list-subscribe", "list-owner")


def list_entries(name: str, value: str) -> list[str]:
    """The ``<url>`` entries of a List-* header; ValueError unless that is all it holds."""
    value = value.strip()
    entries = _ENTRY.findall(value)
    if not value.isascii() or not entries or ", ".join(entries) != value:
        raise ValueError(f"{name} must be ASCII <url> entries, got {value!r}")
    if any(len(name) + 2 + len(entry) > MAX_LINE for entry in entries):
        raise ValueError(f"{name} has an entry longer than a line may be")
    return entries


def check_headers(headers: dict[str, str] | None) -> None:
    """Refuse, when a message is queued, headers it could not be sent with."""
    for name, value in (headers or {}).items():
        if any(c in value for c in "\r\n"):
            raise ValueError(f"{name} must be on one line")
        if name.lower() in LIST_HEADERS:
            list_entries(name, value)


class ListHeader(UnstructuredHeader):
    """A List-* header: ASCII ``<url>`` entries, folded only between entries."""

    def fold(self, *, policy) -> str:  # noqa: D102 (the email package's interface)
        entries = list_entries(self.name, str(self))
        limit = policy.max_line_length or MAX_LINE
        lines = [f"{self.name}: {entries[0]}"]
        for entry in entries[1:]:
            if len(lines[-1]) + 2 + len(entry) <= limit:
                lines[-1] += ", " + entry
            else:
                lines[-1] += ","
                lines.append(" " + entry)
        return policy.linesep.join(lines) + policy.linesep


def _registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    for name in LIST_HEADERS:
        registry.map_to_type(name, ListHeader)
    return registry


POLICY = email_policy.SMTP.clone(header_factory=_registry())
# For a recipient whose address is not ASCII (sent with SMTPUTF8, RFC 6531).
POLICY_UTF8 = POLICY.clone(utf8=True)


def sender() -> str:
    """The From header: MAIL_NOREPLY_SENDER, named after the organisation if it has no name."""
    config = current_app.config
    name, address = parseaddr(config["MAIL_NOREPLY_SENDER"])
    return formataddr((name or config["ENGAGE_ORGANISATION"], address))


def needs_smtputf8(recipient: str) -> bool:
    """True when the address can only be delivered with the SMTPUTF8 extension."""
    return not recipient.isascii()


def build(
    *,
    recipient: str,
    subject: str,
    body_text: str,
    body_html: str | None,
    message_id: str,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A plain text email with an HTML alternative, From the no-reply sender.

    No Reply-To: replies to the no-reply address are not read, and every email says
    how to send more feedback instead (see README, "Emails").
    """
    email = EmailMessage(policy=POLICY_UTF8 if needs_smtputf8(recipient) else POLICY)
    email["Subject"] = subject
    email["From"] = sender()
    email["To"] = recipient
    email["Date"] = formatdate(localtime=True)
    email["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        email[name] = value
    email.set_content(body_text)
    if body_html:
        email.add_alternative(body_html, subtype="html")
    return email
