"""Parse raw RFC 822 messages into what a feedback item needs (stdlib only).

What real mail does, and what this module does about it:

- **Bodies.** The sender's own text is every inline ``text/plain`` part (or, in a
  ``multipart/alternative``, the plain alternative, else the HTML one converted to
  text). A text part that carries a file name (Netscape and some webmail send the body
  so) is the body when there is no other; a ``text/plain`` attachment is the body only
  when the email has nothing else. Attached messages (``message/rfc822``, even base64
  encoded) are attachments: their text is used only when the sender wrote nothing.
  A ``multipart/*`` whose body has no boundary line keeps its text.
- **Charsets.** Each part is decoded on its own, with ``errors="replace"`` and the
  superset of its declared charset (GB2312 is read as GB18030, ISO-8859-8-I as
  ISO-8859-8, KS C 5601 as CP949 …). Valid UTF-8 labelled as a legacy single-byte
  charset is read as UTF-8; an unknown label is read as UTF-8 when most of the part is
  UTF-8, else as Windows-1252. One bad byte costs one U+FFFD, never the whole part.
- **Headers.** Encoded words are decoded with the same charset rules (adjacent words
  of one charset together, so a character split between two words survives); raw
  8-bit header text is read as UTF-8 or Windows-1252; an encoded word that cannot be
  decoded becomes U+FFFD instead of leaking into the text. A display name that
  decodes to a line break is dropped (the email is kept); file names lose line breaks.
- **Not an email.** Binary files (an Outlook ``.msg``, gzip, ZIP, PDF, images), text
  without a single email header and parts that decode to binary noise are rejected
  with a reason.
- **Limits.** Size is checked before parsing; part count and nesting depth while the
  body is read. Over the part or depth limit, what was read within the limits is kept
  and ``ParsedMessage.truncated`` says what was left out.
- **Kinds.** Bounces and automatic replies are recognised by structure and headers
  (``multipart/report``, ``X-Failed-Recipients``, ``Auto-Submitted``, an empty
  ``Return-Path``), never by the sender's name alone.
- **Identity.** The Message-ID when there is one; otherwise a fingerprint of the
  decoded headers and part contents, so the same message with CRLF or LF line endings,
  with or without trailing newlines or an mbox ``From`` line, or written back through
  Python's ``mailbox``, has the same identity.

The package, one job a module: ``types`` (limits, the parsed message, the rejection),
``reading`` (raw bytes to a message; what is not an email), ``charsets`` (bytes to
text), ``headers`` (addresses, dates, subject, encoded words), ``bodies`` (the MIME
walk, HTML to text, which text is the body), ``attachments`` (their names, attached
messages, encoded files), ``replies`` (quoted replies and signatures), ``kinds``
(bounces, automatic replies, bulk) and ``identity`` (a fingerprint when there is no
Message-ID). ``parse_message`` below puts them together.
"""

from __future__ import annotations

from engage.mail.parsing.attachments import _strip_encoded
from engage.mail.parsing.bodies import _body, _Reader, html_to_text
from engage.mail.parsing.charsets import _CONTROL, decode_bytes
from engage.mail.parsing.headers import (
    _addresses,
    _date_header,
    _from_header,
    _header,
    _message_id_header,
    _subject,
    decode_header_text,
)
from engage.mail.parsing.identity import _fingerprint, _legacy_id
from engage.mail.parsing.kinds import _kind
from engage.mail.parsing.reading import _EMAIL_HEADERS, _parse, _prepare
from engage.mail.parsing.replies import strip_quoted
from engage.mail.parsing.types import ParsedMessage, ParseLimits, RejectedMessage

__all__ = [
    "ParseLimits",
    "ParsedMessage",
    "RejectedMessage",
    "decode_bytes",
    "decode_header_text",
    "engagement_hint",
    "html_to_text",
    "parse_message",
    "strip_quoted",
]


def parse_message(
    raw: bytes, *, limits: ParseLimits | None = None, own_addresses: frozenset[str] = frozenset()
) -> ParsedMessage:
    """Parse one raw message; raise RejectedMessage when it is not an email we can read."""
    limits = limits or ParseLimits()
    if len(raw) > limits.max_bytes:
        raise RejectedMessage(
            f"the email is larger than the limit of {limits.max_bytes:,} bytes (INBOUND_MAX_BYTES)"
        )
    if not raw.strip():
        raise RejectedMessage("the email is empty")
    raw = _prepare(raw)
    try:
        message, truncated = _parse(raw)
    except Exception as error:  # the parser is lenient; this is a last resort
        raise RejectedMessage(f"the email could not be read ({type(error).__name__})") from error
    present = frozenset(key.lower() for key in message)
    if not present:
        raise RejectedMessage("not an email: it has no headers (such as From:, To: or Subject:)")
    if not present & _EMAIL_HEADERS:
        raise RejectedMessage("not an email: none of its header lines is an email header")
    reader = _Reader(limits)
    try:
        full = _body(message, reader)
    except RecursionError:
        full, reader.truncated = "", "its MIME parts are nested too deeply to read"
    full = _CONTROL.sub("", full.replace("\r\n", "\n").replace("\r", "\n"))
    attachments = reader.attachments
    full = _strip_encoded(full, attachments).strip()
    if not full and reader.unreadable:
        raise RejectedMessage("the email's text is binary data, not readable text")
    name, address = _from_header(message)
    sender = address.strip().lower() if "@" in address else ""
    subject = _subject(message)
    own = frozenset(a.lower() for a in own_addresses)
    recipients: list[str] = []
    for header in ("To", "Cc", "Delivered-To", "X-Original-To"):
        value = _header(message, header, present)
        if value:
            recipients.extend(_addresses(value))
    message_id = _message_id_header(message)[:290]
    legacy: tuple[str, ...] = ()
    if not message_id:
        message_id = _fingerprint(message, limits)
        try:
            legacy = (_legacy_id(message, raw),)
        except Exception:  # the old way could fail where the new one does not
            legacy = ()
    kind, kind_reason = _kind(message, sender, subject, own, present)
    return ParsedMessage(
        message_id=message_id,
        sender_email=sender,
        sender_name=name,
        to_addresses=tuple(recipients),
        subject=subject,
        text=strip_quoted(full) if full else "",
        full_text=full,
        attachment_names=tuple(attachments),
        attachment_count=len(attachments),
        kind=kind,
        date=_date_header(message),
        kind_reason=kind_reason,
        truncated=truncated or reader.truncated,
        legacy_ids=legacy,
    )


def engagement_hint(
    parsed: ParsedMessage, *, base_local: str = "engage", mapping: dict[str, str] | None = None
) -> str | None:
    """The engagement slug from a plus-address or a configured address, else None."""
    for address in parsed.to_addresses:
        local, _, _domain = address.partition("@")
        base, plus, tag = local.partition("+")
        if plus and tag and base == base_local:
            return tag
    for address in parsed.to_addresses:
        if mapping and address in mapping:
            return mapping[address]
    return None
