"""Parse raw RFC 822 messages into what a feedback item needs (stdlib only).

Limits are checked before and during parsing; every decoding step has a lossless
fallback, so an unknown charset or a malformed header degrades the text instead of
failing the message.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import PurePosixPath, PureWindowsPath

from engage.classify.text import strip_quoted as _strip_quoted_text
from engage.classify.text import strip_signature


@dataclass(frozen=True)
class ParseLimits:
    """What a message may not exceed; checked before the body is used."""

    max_bytes: int = 10 * 1024 * 1024
    max_parts: int = 100
    max_depth: int = 10


class RejectedMessage(Exception):
    """The message cannot be accepted; ``reason`` says why in a few words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedMessage:
    """The parts of an email that become a feedback item."""

    message_id: str
    sender_email: str
    sender_name: str
    to_addresses: tuple[str, ...]
    subject: str
    text: str
    full_text: str
    attachment_names: tuple[str, ...] = field(default_factory=tuple)
    attachment_count: int = 0
    kind: str = "genuine"  # genuine | auto_reply | bounce | bulk | own
    date: datetime | None = None


@functools.lru_cache(maxsize=1024)
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

_AUTO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?reply|auto:|"
    r"autoreply|away from (the )?office|on leave)",
    re.IGNORECASE,
)
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _header(message: Message, name: str, present: frozenset[str] | None = None) -> str:
    """A header as text; a malformed header gives its raw value rather than failing.

    ``present`` (the message's header names, lower case) answers "" for a header the
    message does not have without a lookup: Message.get() scans every header, and most
    of the headers asked about (auto-reply and list markers) are absent.
    """
    if present is not None and name.lower() not in present:
        return ""
    try:
        value = message.get(name)
    except Exception:  # the policy's header parser can fail on broken input
        raw = message.get_all(name, failobj=[]) if hasattr(message, "get_all") else []
        value = raw[0] if raw else None
    if value is None:
        return ""
    return _CONTROL.sub("", " ".join(str(value).split()))


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
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            if not isinstance(value, str) or not value.isascii():
                return None
            value = " ".join(value.split())
            return value if pattern.fullmatch(value) else None
    return None


@functools.lru_cache(maxsize=1024)
def _addresses(value: str) -> tuple[str, ...]:
    """The addresses in a To or Cc header (a mailbox sends most mail to a few)."""
    return tuple(addr.strip().lower() for _, addr in getaddresses([value]) if "@" in addr)


def _from_header(message: Message) -> tuple[str, str]:
    """(display name, address) of the sender."""
    simple = _simple_header(message, "From", _SIMPLE_FROM)
    return parseaddr(simple if simple is not None else _header(message, "From"))


def _date_header(message: Message) -> datetime | None:
    value = _simple_header(message, "Date", _SIMPLE_DATE)
    try:
        if value is None:
            value = _header(message, "Date")
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None


def _message_id_header(message: Message) -> str:
    value = _simple_header(message, "Message-ID", _SIMPLE_MESSAGE_ID)
    return value if value is not None else _header(message, "Message-ID")


def decode_bytes(payload: bytes, charset: str | None) -> str:
    """Decode with the declared charset, else UTF-8, else Windows-1252, else Latin-1."""
    for candidate in (charset, "utf-8", "windows-1252"):
        if not candidate:
            continue
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")  # never fails: every byte maps to a character


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    return decode_bytes(payload, part.get_content_charset())


class _HTMLText(HTMLParser):
    """Collect the visible text of an HTML body: no scripts, styles or head."""

    _SKIP = {"script", "style", "head", "title", "template", "noscript"}
    _BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "section",
        "article",
        "table",
        "ul",
        "ol",
        "hr",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Visible text of HTML, with block elements as line breaks; nothing is executed."""
    parser = _HTMLText()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser is lenient, but never trust it with hostile input
        return html.unescape(re.sub(r"<[^>]*>", " ", markup))
    text = "".join(parser.parts)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _safe_filename(name: str) -> str:
    name = _CONTROL.sub("", name).replace("\x00", "")
    name = PureWindowsPath(PurePosixPath(name).name).name
    return name.strip().lstrip(".") or "attachment"


def _walk(message: Message, limits: ParseLimits) -> list[Message]:
    """Every leaf part, checking the part count and nesting depth as it goes."""
    leaves: list[Message] = []
    count = 0
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > limits.max_parts:
            raise RejectedMessage("too many MIME parts")
        if depth > limits.max_depth:
            raise RejectedMessage("MIME parts nested too deeply")
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in reversed(payload))
        else:
            leaves.append(part)
    return leaves


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").lower()
    return disposition.startswith("attachment") or bool(part.get_filename())


def strip_quoted(text: str) -> str:
    """The sender's own words: quoted replies and signatures removed, never to nothing."""
    own = strip_signature(_strip_quoted_text(text)).strip()
    return own or text.strip()


def _stable_id(message: Message, raw: bytes) -> str:
    digest = hashlib.sha256()
    for name in ("From", "To", "Date", "Subject"):
        digest.update(_header(message, name).encode("utf-8", "surrogatepass") + b"\0")
    body_start = raw.find(b"\r\n\r\n")
    if body_start < 0:
        body_start = raw.find(b"\n\n")
    digest.update(raw[body_start:] if body_start >= 0 else raw)
    return "sha256:" + digest.hexdigest()


def _kind(
    message: Message,
    sender: str,
    subject: str,
    own: frozenset[str],
    present: frozenset[str] | None = None,
) -> str:
    if sender and sender in own:
        return "own"
    content_type = message.get_content_type()
    report = (message.get_param("report-type") or "").lower() if content_type else ""
    if (
        content_type == "multipart/report"
        or report == "delivery-status"
        or sender.split("@")[0] in _BOUNCE_SENDERS
    ):
        return "bounce"
    auto = _header(message, "Auto-Submitted", present).lower()
    if (
        (auto and auto != "no")
        or _header(message, "X-Autoreply", present)
        or _header(message, "X-Autorespond", present)
        or _AUTO_SUBJECT.search(subject)
    ):
        return "auto_reply"
    suppress = _header(message, "X-Auto-Response-Suppress", present).lower()
    if "oof" in suppress or suppress == "all":
        return "auto_reply"
    if (
        _header(message, "Precedence", present).lower() in {"bulk", "junk", "list"}
        or _header(message, "List-Id", present)
        or _header(message, "List-Unsubscribe", present)
    ):
        return "bulk"
    return "genuine"


def parse_message(
    raw: bytes, *, limits: ParseLimits | None = None, own_addresses: frozenset[str] = frozenset()
) -> ParsedMessage:
    """Parse one raw message; raise RejectedMessage when it breaks a limit or is empty."""
    limits = limits or ParseLimits()
    if len(raw) > limits.max_bytes:
        raise RejectedMessage("too large")
    if not raw.strip():
        raise RejectedMessage("empty message")
    try:
        message = BytesParser(policy=_POLICY).parsebytes(raw)
    except Exception as error:  # the parser is lenient; this is a last resort
        raise RejectedMessage(f"unparseable: {type(error).__name__}") from error
    leaves = _walk(message, limits)
    present = frozenset(key.lower() for key in message)
    name, address = _from_header(message)
    sender = address.strip().lower() if "@" in address else ""
    subject = _header(message, "Subject")
    own = frozenset(a.lower() for a in own_addresses)
    recipients: list[str] = []
    for header in ("To", "Cc", "Delivered-To", "X-Original-To"):
        value = _header(message, header, present)
        if value:
            recipients.extend(_addresses(value))
    plain: list[str] = []
    html_parts: list[str] = []
    attachments: list[str] = []
    for part in leaves:
        if _is_attachment(part):
            attachments.append(_safe_filename(part.get_filename() or "attachment"))
            continue
        content_type = part.get_content_type()
        if content_type == "text/plain":
            plain.append(_part_text(part))
        elif content_type == "text/html":
            html_parts.append(html_to_text(_part_text(part)))
    full = "\n\n".join(p for p in plain if p.strip()) or "\n\n".join(html_parts)
    full = _CONTROL.sub("", full.replace("\r\n", "\n")).strip()
    date = _date_header(message)
    message_id = _message_id_header(message).strip().strip("<>").strip()
    return ParsedMessage(
        message_id=message_id[:290] if message_id else _stable_id(message, raw),
        sender_email=sender,
        sender_name=_CONTROL.sub("", name).strip(),
        to_addresses=tuple(recipients),
        subject=subject[:500],
        text=strip_quoted(full) if full else "",
        full_text=full,
        attachment_names=tuple(attachments),
        attachment_count=len(attachments),
        kind=_kind(message, sender, subject, own, present),
        date=date,
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
