"""Raw bytes to a parsed Message, refusing files that are not an email."""

from __future__ import annotations

import re
from email.feedparser import BytesFeedParser
from email.message import Message

from engage.mail.parsing.headers import _POLICY
from engage.mail.parsing.types import RejectedMessage

_NOT_EMAIL_MAGIC: tuple[tuple[bytes, str], ...] = (
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "not an email but an Outlook .msg file (or another Office document); "
        "save the message as .eml and import that",
    ),
    (b"\x1f\x8b", "not an email but gzip-compressed data; decompress it and import the result"),
    (b"PK\x03\x04", "not an email but a ZIP archive; unzip it and import the files inside"),
    (b"%PDF-", "not an email but a PDF document"),
    (b"\xfd7zXZ\x00", "not an email but xz-compressed data; decompress it first"),
    (b"7z\xbc\xaf\x27\x1c", "not an email but a 7-Zip archive"),
    (b"\x89PNG", "not an email but a PNG image"),
    (b"\xff\xd8\xff", "not an email but a JPEG image"),
    (b"GIF8", "not an email but a GIF image"),
)
# Headers that only an email has; a "message" with none of them is not one.
_EMAIL_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "received",
        "return-path",
        "mime-version",
        "sender",
        "reply-to",
        "delivered-to",
        "x-original-to",
        "in-reply-to",
        "references",
    }
)


def _prepare(raw: bytes) -> bytes:
    """Raw bytes ready to parse: a byte-order mark undone; binary files rejected."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # saved as UTF-16 by a text editor
        try:
            raw = raw.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as error:
            raise RejectedMessage("not an email: binary data") from error
    head = raw[:16]
    for magic, reason in _NOT_EMAIL_MAGIC:
        if head.startswith(magic):
            raise RejectedMessage(reason)
    if re.match(rb"BZh[1-9]1AY&SY", head):
        raise RejectedMessage("not an email but bzip2-compressed data; decompress it first")
    return raw


def _parse(raw: bytes) -> tuple[Message, str | None]:
    """The parsed message and, when the parser ran out of stack on a message nested
    too deeply, what it had read by then (with why the rest is missing)."""
    parser = BytesFeedParser(policy=_POLICY)
    try:
        parser.feed(raw)
        return parser.close(), None
    except RecursionError:
        # The message read so far is the root of the parser's stack (FeedParser keeps
        # it there until close()); its deepest parts are the ones not read.
        stack = getattr(parser, "_msgstack", None)
        if stack:
            return stack[0], "its MIME parts are nested too deeply; the deeper parts were not read"
        raise
