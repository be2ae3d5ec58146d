"""The body: walking the MIME tree within the limits, HTML to text, choosing the text."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from html.parser import HTMLParser

from engage.mail.parsing.attachments import _attached_message, _filename, _safe_filename
from engage.mail.parsing.charsets import _CONTROL, decode_bytes
from engage.mail.parsing.headers import _POLICY, _header
from engage.mail.parsing.types import ParseLimits


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
