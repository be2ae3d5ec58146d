"""Header values as clean text: encoded words, addresses, dates, Message-ID, Subject.

Also the email policy the parser uses, which parses each distinct header value once."""

from __future__ import annotations

import binascii
import re
from datetime import datetime
from email import policy
from email.message import Message
from email.quoprimime import header_decode as _q_decode
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from engage.caching import memoize
from engage.mail.parsing.charsets import (
    _ANY_CONTROL,
    _CONTROL,
    _SURROGATE,
    _from_surrogates,
    decode_bytes,
)


@memoize("mail_parsed_headers", maxsize=1024)
def _parsed_header(name: str, value: str):
    return policy.default.header_fetch_parse(name, value)


class _CachingPolicy(policy.EmailPolicy):
    """policy.default, parsing each distinct header value once.

    The email package parses a header again on every read, and a message's Content-Type
    is read a dozen times (type, charset, transfer encoding, filename); most messages in
    a mailbox share a few Content-Type values. The parsed headers are immutable, so the
    last 1,024 are kept and shared.
    """

    def header_fetch_parse(self, name, value):
        if hasattr(value, "name"):
            return value
        return _parsed_header(name, value)


_POLICY = _CachingPolicy()


_ENCODED_WORD = re.compile(r"=\?([^?\s]*?)\?([qQbB])\?(.*?)\?=")
# What is left of an encoded word that was cut short (no closing "?="): never shown.
_BROKEN_WORD = re.compile(r"=\?[^?\s]*\?[qQbB]\?\S*")
_BAD_WORD = object()


def _word_bytes(encoding: str, text: str) -> bytes | None:
    """The bytes of one encoded word's text, or None when it cannot be decoded."""
    try:
        if encoding in "bB":
            text = text.strip()
            return binascii.a2b_base64(text + "=" * (-len(text) % 4))
        return _q_decode(text).encode("latin-1")
    except (binascii.Error, ValueError, UnicodeError):
        return None


def decode_header_text(value: str | None) -> str:
    """An unstructured header value (a Subject, a display name) as readable text.

    ``value`` is the raw value, with raw 8-bit bytes as surrogate escapes (as the email
    package keeps them). Encoded words are decoded (RFC 2047), adjacent words of one
    charset together and the space between words dropped; raw 8-bit text is read as
    UTF-8 or Windows-1252. Folding whitespace becomes one space.
    """
    if not value:
        return ""
    value = " ".join(value.split())
    if "=?" not in value:
        return _from_surrogates(value)
    chunks: list[list] = []  # [bytes or str or _BAD_WORD, charset or None]
    position = 0
    after_word = False
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        if between and not (after_word and not between.strip()):
            chunks.append([between, None])
        charset, encoding, text = match.groups()
        data = _word_bytes(encoding, text)
        if data is None:
            chunks.append([_BAD_WORD, None])
        elif chunks and chunks[-1][1] == charset.lower() and isinstance(chunks[-1][0], bytes):
            chunks[-1][0] += data  # a character may be split across two words
        else:
            chunks.append([data, charset.lower()])
        position = match.end()
        after_word = True
    if value[position:]:
        chunks.append([value[position:], None])
    out = []
    for data, charset in chunks:
        if data is _BAD_WORD:
            out.append("\ufffd")
        elif isinstance(data, bytes):
            out.append(decode_bytes(data, charset))
        else:
            out.append(_BROKEN_WORD.sub("\ufffd", _from_surrogates(data)))
    return "".join(out)


def _raw_header(message: Message, name: str) -> str | None:
    """The first ``name`` header as the message has it (no parsing, no decoding)."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return value if isinstance(value, str) else str(value)
    return None


def _header(message: Message, name: str, present: frozenset[str] | None = None) -> str:
    """A structured header as text; a malformed header gives its raw value.

    ``present`` (the message's header names, lower case) answers "" for a header the
    message does not have without a lookup: Message.get() scans every header, and most
    of the headers asked about (auto-reply and list markers) are absent.
    """
    if present is not None and name.lower() not in present:
        return ""
    try:
        value = message.get(name)
    except Exception:  # the policy's header parser can fail on broken input
        value = _raw_header(message, name)
    if value is None:
        return ""
    return _CONTROL.sub("", " ".join(_from_surrogates(str(value)).split()))


# Header values simple enough to read without the email package's full header parser,
# which costs more than the rest of parsing a message. Anything else (encoded words,
# comments, groups, non-ASCII, odd quoting) still goes through it.
_ADDR = r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_SIMPLE_FROM = re.compile(rf'(?:"[A-Za-z0-9 ,\'-]*"|[A-Za-z0-9 \'-]*) ?<{_ADDR}>|{_ADDR}')
_SIMPLE_DATE = re.compile(r"[A-Za-z0-9 ,:+-]+")
_SIMPLE_MESSAGE_ID = re.compile(
    r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+>"
)


def _simple_header(message: Message, name: str, pattern: re.Pattern) -> str | None:
    """The first ``name`` header, unfolded, if it is all ASCII and matches ``pattern``."""
    value = _raw_header(message, name)
    if value is None or not value.isascii():
        return None
    value = " ".join(value.split())
    return value if pattern.fullmatch(value) else None


@memoize("mail_recipient_addresses", maxsize=1024)
def _addresses(value: str) -> tuple[str, ...]:
    """The addresses in a To or Cc header (a mailbox sends most mail to a few)."""
    return tuple(addr.strip().lower() for _, addr in getaddresses([value]) if "@" in addr)


def _display_name(name: str) -> str:
    """A decoded display name, or "" when it holds a line break (a header injection)."""
    name = decode_header_text(name) if ("=?" in name or _SURROGATE.search(name)) else name
    if "\r" in name or "\n" in name or "\u2028" in name or "\u2029" in name:
        return ""
    name = " ".join(_ANY_CONTROL.sub(" ", name).split())
    return name.strip().strip('"').strip()[:200]


def _from_header(message: Message) -> tuple[str, str]:
    """(display name, address) of the sender."""
    simple = _simple_header(message, "From", _SIMPLE_FROM)
    if simple is not None:
        name, address = parseaddr(simple)
        return name, address
    raw = _raw_header(message, "From") or ""
    name, address = parseaddr(" ".join(raw.split()))
    if "@" not in address or not address.isascii():
        # Groups, comments, odd quoting: the email package's own address parser.
        name, address = parseaddr(_header(message, "From"))
        if not address.isascii():
            address = ""
    return _display_name(name), address


def _date_header(message: Message) -> datetime | None:
    value = _simple_header(message, "Date", _SIMPLE_DATE)
    try:
        if value is None:
            value = _header(message, "Date")
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _message_id_header(message: Message) -> str:
    value = _simple_header(message, "Message-ID", _SIMPLE_MESSAGE_ID)
    if value is None:
        value = _header(message, "Message-ID")
    return _ANY_CONTROL.sub("", value).strip().strip("<>").strip()


def _subject(message: Message) -> str:
    raw = _raw_header(message, "Subject")
    if raw is None:
        return ""
    return " ".join(_ANY_CONTROL.sub(" ", decode_header_text(raw)).split())[:500]
