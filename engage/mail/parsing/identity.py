"""An identity for a message without a Message-ID, now and as older releases gave it."""

from __future__ import annotations

import hashlib
import re
from email.message import Message

from engage.mail.parsing.charsets import _CONTROL
from engage.mail.parsing.headers import _raw_header, decode_header_text
from engage.mail.parsing.types import ParseLimits

_FINGERPRINT_HEADERS = ("From", "To", "Cc", "Date", "Subject", "In-Reply-To", "References")
_MBOX_ESCAPE = re.compile(rb"^>+(From )", re.MULTILINE)


def _fingerprint(message: Message, limits: ParseLimits) -> str:
    """An identity for a message without a Message-ID that survives re-serialising.

    Decoded header values (folding ignored) and each leaf part's content type and
    decoded content; text with line endings, mbox ">From " escapes and trailing
    whitespace normalised. The raw bytes are never hashed: CRLF and LF copies, an mbox
    "From " line or a copy written back through Python's mailbox hash alike.
    """
    digest = hashlib.sha256(b"engage-message-fingerprint-2\0")
    for name in _FINGERPRINT_HEADERS:
        value = " ".join(decode_header_text(_raw_header(message, name) or "").split())
        digest.update(name.encode() + b":" + value.encode("utf-8", "replace") + b"\0")
    stack: list[tuple[Message, int]] = [(message, 0)]
    seen = 0
    while stack and seen < limits.max_parts:
        part, depth = stack.pop()
        seen += 1
        payload = part.get_payload()
        if isinstance(payload, list):
            if depth < limits.max_depth:
                stack.extend((child, depth + 1) for child in reversed(payload))
            continue
        try:
            content = part.get_payload(decode=True) or b""
        except Exception:
            content = str(payload).encode("utf-8", "surrogateescape")
        content_type = part.get_content_type()
        if content_type.startswith(("text/", "multipart/")):
            content = content.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            content = _MBOX_ESCAPE.sub(rb"\1", content).rstrip()
        digest.update(content_type.encode() + b"\0" + content + b"\0")
    return "sha256:" + digest.hexdigest()


def _legacy_id(message: Message, raw: bytes) -> str:
    """The identity an earlier release gave a message without a Message-ID."""
    digest = hashlib.sha256()
    for name in ("From", "To", "Date", "Subject"):
        try:
            value = message.get(name)
        except Exception:
            value = _raw_header(message, name)
        text = _CONTROL.sub("", " ".join(str(value).split())) if value is not None else ""
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    body_start = raw.find(b"\r\n\r\n")
    if body_start < 0:
        body_start = raw.find(b"\n\n")
    digest.update(raw[body_start:] if body_start >= 0 else raw)
    return "sha256:" + digest.hexdigest()
