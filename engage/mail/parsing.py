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
"""

from __future__ import annotations

import binascii
import codecs
import functools
import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.feedparser import BytesFeedParser
from email.message import Message
from email.parser import BytesParser
from email.quoprimime import header_decode as _q_decode
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import PurePosixPath, PureWindowsPath

from engage.classify.text import strip_quoted as _strip_quoted_text
from engage.classify.text import strip_signature
from engage.util import CONTROL_IN_TEXT


@dataclass(frozen=True)
class ParseLimits:
    """What a message may not exceed; checked before the body is used."""

    max_bytes: int = 10 * 1024 * 1024
    max_parts: int = 100
    max_depth: int = 10


class RejectedMessage(Exception):
    """The message cannot be accepted; ``reason`` says why, worded for an email."""

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
    # Why the message is not "genuine", in words (the header or structure that said so).
    kind_reason: str = ""
    # What was left unread because the message is over a MIME limit, else None.
    truncated: str | None = None
    # Earlier identities of a message without a Message-ID (the fingerprint an older
    # release stored), looked up too so that mail imported before stays a duplicate.
    legacy_ids: tuple[str, ...] = ()


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
# A bounce written as plain text by an old MTA: only with a MAILER-DAEMON sender.
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliver(ed|able)|delivery (status notification|failure|has failed)|"
    r"mail delivery (failed|failure|system)|returned mail|failure notice|"
    r"non[- ]?delivery|delivery notification)",
    re.IGNORECASE,
)
_CONTROL = CONTROL_IN_TEXT
# Every control character, line breaks included, and Unicode line/paragraph separators.
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


# Charsets -------------------------------------------------------------------------------

# Labels mail clients use, mapped to the Python codec that reads them (a superset where
# the label names a subset that clients routinely exceed). Keys are lower case with "_"
# as "-". None means "no real charset": decide from the bytes.
_CHARSET_ALIASES: dict[str, str | None] = {
    # Chinese: GB2312 mail routinely carries GBK characters; GB18030 reads both.
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "gb-2312-80": "gb18030",
    "csgb2312": "gb18030",
    "chinese": "gb18030",
    "big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    # Hebrew and Arabic "logical"/"explicit" order labels: the same bytes.
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "iso-8859-6-e": "iso-8859-6",
    "visual": "iso-8859-8",
    "logical": "iso-8859-8",
    # Korean: Outlook's label for what is really Windows code page 949.
    "ks-c-5601-1987": "cp949",
    "ks-c-5601-1989": "cp949",
    "ks-c-5601": "cp949",
    "ksc5601": "cp949",
    "ksc-5601": "cp949",
    "euc-kr": "cp949",
    "korean": "cp949",
    # Japanese: Microsoft's extensions (NEC and IBM rows) are used under the plain labels.
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms-kanji": "cp932",
    "windows-31j": "cp932",
    "csshiftjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp_ext",
    "euc-jp": "euc_jis_2004",
    "x-euc-jp": "euc_jis_2004",
    # Thai, Western and Turkish labels whose Windows code page is the superset.
    "windows-874": "cp874",
    "tis-620": "cp874",
    "iso-8859-11": "cp874",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "iso8859-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi-x3.4-1968": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "x-mac-roman": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-greek": "mac-greek",
    "x-mac-turkish": "mac-turkish",
    "x-mac-ce": "mac-latin2",
    "unicode-1-1-utf-7": "utf-7",
    "unicode-1-1-utf-8": "utf-8",
    "x-unicode20utf8": "utf-8",
    "utf8": "utf-8",
    # Labels that name no charset at all.
    "unknown-8bit": None,
    "x-unknown": None,
    "unknown": None,
    "x-user-defined": None,
    "default": None,
    "8bit": None,
    "binary": None,
    "none": None,
}
# Python codecs that are no mail charset (they would turn escapes in the text into
# characters, NUL and lone surrogates among them).
_NOT_MAIL_CODECS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"}
)
# Codecs of one byte per character whose bytes are also often mislabelled UTF-8.
_SINGLE_BYTE_PREFIXES = ("cp125", "iso8859-", "koi8-", "mac-", "cp874", "cp437", "cp850", "cp866")
# Codecs that read ASCII bytes as ASCII, so a pure-ASCII part needs no decoding.
_ASCII_SAFE = frozenset({"utf-8", "ascii", "gb18030", "big5hkscs", "cp949", "cp932"})


@functools.lru_cache(maxsize=256)
def _codec(charset: str | None) -> str | None:
    """The Python codec for a declared charset, or None when it names none we can use."""
    if not charset:
        return None
    label = charset.strip().strip("\"'").strip().lower().replace("_", "-")
    label = label.split("*", 1)[0]  # RFC 2231 language suffix
    if label in _CHARSET_ALIASES:
        name = _CHARSET_ALIASES[label]
        if name is None:
            return None
    else:
        name = label
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True):  # base64, zlib, rot13 …
        return None
    if info.name in _NOT_MAIL_CODECS:
        return None
    return info.name


def _single_byte(codec: str) -> bool:
    return codec.startswith(_SINGLE_BYTE_PREFIXES) or codec == "ascii"


def _iso2022_jp(payload: bytes) -> str:
    """ISO-2022-JP as mail writes it: Microsoft's extra rows (circled numbers, №) are
    JIS X 0213 characters at the same places, so a part JIS X 0208 cannot read is read
    again as JIS X 0213."""
    try:
        return payload.decode("iso2022_jp_ext")
    except UnicodeDecodeError:
        pass
    wider = payload.replace(b"\x1b$B", b"\x1b$(Q").replace(b"\x1b$@", b"\x1b$(Q")
    try:
        return wider.decode("iso2022_jp_2004")
    except UnicodeDecodeError:
        return wider.decode("iso2022_jp_2004", "replace")


def decode_bytes(payload: bytes, charset: str | None) -> str:
    """Decode one part (or header word) by its declared charset; never raises.

    A known charset is decoded with replacement characters (its superset, see
    _CHARSET_ALIASES). A legacy single-byte label on bytes that are valid UTF-8 is read as
    UTF-8. No label, an unknown one, or UTF-8 that is mostly not UTF-8: UTF-8 with
    replacement characters when at least as much of the non-ASCII text is valid UTF-8
    as is not, else Windows-1252.
    """
    codec = _codec(charset)
    if codec is None or codec == "utf-8" or _single_byte(codec):
        if payload.isascii():
            return payload.decode("ascii")
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            pass
        if codec is not None and codec != "utf-8":
            return payload.decode("cp1252" if codec == "ascii" else codec, "replace")
        text = payload.decode("utf-8", "replace")
        bad = text.count("\ufffd")
        good = sum(1 for char in text if char > "\x7f") - bad
        if good >= bad:
            return text
        return payload.decode("cp1252", "replace")
    if codec in _ASCII_SAFE and payload.isascii():
        return payload.decode("ascii")
    if codec == "iso2022_jp_ext":
        return _iso2022_jp(payload)
    try:
        text = payload.decode(codec, "replace")
    except Exception:  # a codec that fails even with errors="replace"
        return decode_bytes(payload, None)
    # UTF-7 and UTF-16 can spell a lone surrogate, which no database stores.
    return _SURROGATE.sub("\ufffd", text)


def _from_surrogates(value: str) -> str:
    """Text the parser kept as surrogate escapes (raw 8-bit bytes), decoded properly."""
    if not _SURROGATE.search(value):
        return value
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that are not escapes of bytes
        return _SURROGATE.sub("\ufffd", value)
    return decode_bytes(raw, None)


# Headers --------------------------------------------------------------------------------

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


@functools.lru_cache(maxsize=1024)
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


# Bodies ---------------------------------------------------------------------------------


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


_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
_LOOKS_HTML = re.compile(r"<(html|body|div|p|br|table|span|font)\b", re.IGNORECASE)


def _part_text(part: Message, *, html_part: bool = False) -> str:
    """The decoded text of a leaf part (its transfer encoding and charset undone)."""
    raw = part.get_payload()
    if isinstance(raw, list):
        return ""
    payload = None
    if not _not_really_base64(part, raw):
        try:
            payload = part.get_payload(decode=True)
        except Exception:  # a broken transfer encoding: read what is there
            payload = None
    if payload is None:
        payload = str(raw or "").encode("utf-8", "surrogateescape")
    charset = part.get_content_charset()
    if charset is None and html_part:
        match = _META_CHARSET.search(payload[:4096])
        charset = match.group(1).decode("ascii") if match else None
    return decode_bytes(payload, charset)


def _not_really_base64(part: Message, raw) -> bool:
    """Text labelled base64 that is words separated by spaces (base64 has no spaces):
    decoding it would make noise of it."""
    if not isinstance(raw, str) or " " not in raw:
        return False
    if _header(part, "Content-Transfer-Encoding").lower() != "base64":
        return False
    return raw.count(" ") > len(raw) // 20


def _unreadable(text: str) -> bool:
    """Whether decoded text is binary data: mostly replacement or control characters."""
    if len(text) < 32:
        return False
    sample = text[:20_000]
    noise = sample.count("\ufffd") + len(_CONTROL.findall(sample))
    return noise > len(sample) // 5


def _safe_filename(name: str | None) -> str:
    """An attachment's name as one clean line: no path, no control characters."""
    name = name or ""
    if "=?" in name or _SURROGATE.search(name):
        name = decode_header_text(name)
    name = " ".join(_ANY_CONTROL.sub(" ", name).split())
    name = PureWindowsPath(PurePosixPath(name.replace("\\", "/")).name).name
    return name.strip().lstrip(".").strip()[:200] or "attachment"


def _filename(part: Message) -> str | None:
    try:
        return part.get_filename()
    except Exception:  # a malformed parameter
        return None


@dataclass
class _Texts:
    """The text found under one MIME node, by how much it is the sender's own."""

    own: list[str] = field(default_factory=list)  # inline, unnamed text parts
    named: list[tuple[str, str]] = field(default_factory=list)  # (text, file name)
    attached: list[str] = field(default_factory=list)  # text/plain attachments
    forwarded: list[tuple[Message, int]] = field(default_factory=list)  # (message, depth)

    def extend(self, other: _Texts) -> None:
        self.own += other.own
        self.named += other.named
        self.attached += other.attached
        self.forwarded += other.forwarded

    def empty(self) -> bool:
        return not any(t.strip() for t in self.own)


# A boundary line, recognised by the part headers that follow it (a line of dashes in
# the text is not one).
# Text parts read as the sender's words (text/enriched and text/richtext lose their tags).
_TEXT_SUBTYPES = frozenset({"plain", "html", "enriched", "richtext"})
_BOUNDARY_LINE = re.compile(rb"^--([^\s\"]{1,70}?)[ \t]*\r?\n(?i:content-)", re.MULTILINE)


class _Reader:
    """Walks a parsed message's MIME tree within the limits, collecting its text.

    Every node counts towards ``max_parts`` and each level of nesting towards
    ``max_depth``; past either, the rest is skipped and ``truncated`` says why.
    """

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self.parts = 0
        self.truncated: str | None = None
        self.attachments: list[str] = []
        self.unreadable = 0

    def read(self, part: Message, depth: int = 0) -> _Texts:
        texts = _Texts()
        self.parts += 1
        if self.parts > self.limits.max_parts:
            self.truncated = self.truncated or (
                f"it has more than {self.limits.max_parts} MIME parts; the rest was not read"
            )
            return texts
        maintype = part.get_content_maintype()
        subtype = part.get_content_subtype()
        if maintype == "multipart":
            if not part.is_multipart():
                return self._no_boundary(part, depth)
            if depth >= self.limits.max_depth:
                self.truncated = self.truncated or (
                    f"its MIME parts are nested more than {self.limits.max_depth} levels "
                    "deep; the deeper parts were not read"
                )
                return texts
            children = list(part.iter_parts())
            if subtype == "alternative":
                return self._alternative(children, depth)
            if subtype == "related" and children:
                root = self._related_root(part, children)
                for child in children:
                    found = self.read(child, depth + 1)
                    if child is root:
                        texts.extend(found)
                return texts
            for child in children:
                texts.extend(self.read(child, depth + 1))
            return texts
        if maintype == "message":
            if subtype in ("rfc822", "global"):
                name = _filename(part)
                self.attachments.append(_safe_filename(name or "forwarded message.eml"))
                inner = _attached_message(part)
                if inner is not None:
                    texts.forwarded.append((inner, depth + 1))
            # delivery-status, disposition-notification …: reports, not anyone's words
            return texts
        filename = _filename(part)
        disposition = part.get_content_disposition()
        if maintype == "text" and subtype in _TEXT_SUBTYPES:
            text = _part_text(part, html_part=subtype == "html")
            if _unreadable(text):
                self.unreadable += 1
                if disposition == "attachment" or filename:
                    self.attachments.append(_safe_filename(filename))
                return texts
            if subtype != "plain" or _looks_like_html_document(text):
                text = html_to_text(text)  # HTML, and the tags of enriched text
            if disposition == "attachment":
                self.attachments.append(_safe_filename(filename))
                if subtype == "plain":
                    texts.attached.append(text)
            elif filename:
                texts.named.append((text, _safe_filename(filename)))
            else:
                texts.own.append(text)
            return texts
        if disposition == "attachment" or filename:
            self.attachments.append(_safe_filename(filename))
        return texts

    def _alternative(self, children: list[Message], depth: int) -> _Texts:
        """The plain alternative if it has text, else the first other that has."""
        found = [(child, self.read(child, depth + 1)) for child in children]
        ranked = sorted(found, key=lambda pair: pair[0].get_content_type() != "text/plain")
        for _child, texts in ranked:
            if not texts.empty():
                return texts
        merged = _Texts()
        for _child, texts in found:
            merged.extend(texts)
        return merged

    @staticmethod
    def _related_root(part: Message, children: list[Message]) -> Message:
        start = (part.get_param("start") or "").strip().strip("<>")
        if start:
            for child in children:
                if _header(child, "Content-ID").strip().strip("<>") == start:
                    return child
        return children[0]

    def _no_boundary(self, part: Message, depth: int) -> _Texts:
        """A multipart whose body has no boundary line: its parts under the boundary its
        body does show, if any, else the body itself as text."""
        try:
            body = part.get_payload(decode=True)
        except Exception:
            body = None
        if not isinstance(body, bytes):
            body = str(part.get_payload() or "").encode("utf-8", "surrogateescape")
        match = _BOUNDARY_LINE.search(body[:20_000])
        if match and depth < self.limits.max_depth:
            head = b'Content-Type: multipart/mixed; boundary="' + match.group(1) + b'"\n\n'
            try:
                again = BytesParser(policy=_POLICY).parsebytes(head + body)
            except Exception:
                again = None
            if again is not None and again.is_multipart():
                self.parts -= 1  # the same node, read again
                return self.read(again, depth)
        text = decode_bytes(body, part.get_content_charset())
        texts = _Texts()
        if _unreadable(text):
            self.unreadable += 1
            return texts
        texts.own.append(html_to_text(text) if _looks_like_html_document(text) else text)
        return texts


def _looks_like_html_document(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype html", "<html")) or (
        head.startswith("<") and bool(_LOOKS_HTML.match(head))
    )


def _attached_message(part: Message) -> Message | None:
    """The message inside a message/rfc822 part, decoded if it was (wrongly) encoded."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    encoding = _header(part, "Content-Transfer-Encoding").strip().lower()
    if encoding in ("base64", "quoted-printable") and inner is not None:
        # The parser read the encoded text as a message: undo the encoding, read again.
        try:
            encoded = inner.as_bytes(policy=_POLICY.clone(linesep="\n"))
            if encoding == "base64":
                raw = binascii.a2b_base64(b"".join(encoded.split()))
            else:
                raw = binascii.a2b_qp(encoded)
            return BytesParser(policy=_POLICY).parsebytes(raw)
        except Exception:
            return None
    return inner


# Encoded data that is not text: long lines of base64, or a uuencoded file.
_BASE64_RUN = re.compile(
    r"(?:^[A-Za-z0-9+/]{40,}={0,2}[ \t]*\n){3,}(?:^[A-Za-z0-9+/]*={0,2}[ \t]*$\n?)?", re.M
)
_UUENCODED = re.compile(r"^begin [0-7]{3,4} (.+)\n(?:.*\n)*?^end[ \t]*$\n?", re.M)


def _strip_encoded(text: str, attachments: list[str]) -> str:
    """Text without blocks of base64 or uuencoded data (the files are noted, not kept)."""
    if "begin " in text:

        def _uu(match: re.Match) -> str:
            attachments.append(_safe_filename(match.group(1)))
            return "[attachment left out]\n"

        text = _UUENCODED.sub(_uu, text)
    if len(text) > 160:
        text = _BASE64_RUN.sub("[encoded data left out]\n", text)
    return text


# Not an email ---------------------------------------------------------------------------

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


# Kinds ----------------------------------------------------------------------------------


def _kind(
    message: Message,
    sender: str,
    subject: str,
    own: frozenset[str],
    present: frozenset[str] | None = None,
) -> tuple[str, str]:
    """(kind, why): by the message's structure and headers, never by its sender's name
    alone (a person may write from postmaster@)."""
    if sender and sender in own:
        return "own", "sent from this platform's own address"
    content_type = message.get_content_type()
    if content_type == "multipart/report":
        report = (message.get_param("report-type") or "").lower()
        if report == "disposition-notification":
            return "auto_reply", "a read receipt (multipart/report)"
        return "bounce", f"a delivery report (multipart/report; report-type={report or '?'})"
    if content_type in ("message/delivery-status", "message/disposition-notification"):
        return "bounce", f"a delivery report ({content_type})"
    if _header(message, "X-Failed-Recipients", present):
        return "bounce", "a bounce (it has an X-Failed-Recipients header)"
    auto = _header(message, "Auto-Submitted", present).lower()
    # RFC 3834: any value but "no" (parameters and comments aside) marks automatic mail.
    if auto and re.split(r"[;(\s]", auto, maxsplit=1)[0] != "no":
        return "auto_reply", f"an automatic reply (Auto-Submitted: {auto[:40]})"
    for name in ("X-Autoreply", "X-Autorespond"):
        if _header(message, name, present):
            return "auto_reply", f"an automatic reply (it has an {name} header)"
    suppress = _header(message, "X-Auto-Response-Suppress", present).lower()
    if "oof" in suppress or suppress == "all":
        return "auto_reply", f"an automatic reply (X-Auto-Response-Suppress: {suppress[:40]})"
    if _AUTO_SUBJECT.search(subject):
        return "auto_reply", "an automatic reply (its subject says so)"
    if present is None or "return-path" in present:
        return_path = _raw_header(message, "Return-Path")
        if return_path is not None and return_path.strip() in ("<>", ""):
            return (
                "bounce",
                "sent with an empty return path (Return-Path: <>), as only bounces "
                "and automatic replies are",
            )
    if sender.partition("@")[0] == "mailer-daemon" and _BOUNCE_SUBJECT.search(subject):
        return "bounce", "a bounce (from MAILER-DAEMON, with a delivery-failure subject)"
    if (
        _header(message, "Precedence", present).lower() in {"bulk", "junk", "list"}
        or _header(message, "List-Id", present)
        or _header(message, "List-Unsubscribe", present)
    ):
        return "bulk", "mailing-list or bulk mail"
    return "genuine", ""


# Identity -------------------------------------------------------------------------------

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


# The message ----------------------------------------------------------------------------


def strip_quoted(text: str) -> str:
    """The sender's own words: quoted replies and signatures removed, never to nothing."""
    own = strip_signature(_strip_quoted_text(text)).strip()
    return own or text.strip()


def _body(message: Message, reader: _Reader) -> str:
    """The text to keep: the sender's own, else named inline text, else a text/plain
    attachment, else the text of an attached message."""
    texts = reader.read(message)
    chosen = _chosen(texts, reader)
    if chosen:
        return chosen
    for inner, depth in texts.forwarded:
        if depth <= reader.limits.max_depth:
            chosen = _chosen(reader.read(inner, depth), reader)
            if chosen:
                return chosen
    return ""


def _chosen(texts: _Texts, reader: _Reader) -> str:
    """The first of own, named inline and attached text that has any; named inline
    text parts that are not the body are listed as attachments."""
    own = _joined(texts.own)
    if own:
        reader.attachments.extend(name for _text, name in texts.named)
        return own
    return _joined(text for text, _name in texts.named) or _joined(texts.attached)


def _joined(texts) -> str:
    return "\n\n".join(text.strip() for text in texts if text.strip())


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
