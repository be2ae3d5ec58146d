"""Attachments: their names made safe, attached messages, and encoded files in text."""

from __future__ import annotations

import binascii
import re
from email.message import Message
from email.parser import BytesParser
from pathlib import PurePosixPath, PureWindowsPath

from engage.mail.parsing.charsets import _ANY_CONTROL, _SURROGATE
from engage.mail.parsing.headers import _POLICY, _header, decode_header_text


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
