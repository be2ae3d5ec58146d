"""Bytes to text in the charset a part or header declares, or the one it really has.

The charset rules in the package docstring (engage.mail.parsing) are kept here, with
the control-character patterns the other parsing modules share."""

from __future__ import annotations

import codecs
import re

from engage.caching import memoize
from engage.util import CONTROL_IN_TEXT

_CONTROL = CONTROL_IN_TEXT
# Every control character, line breaks included, and Unicode line/paragraph separators.
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


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


@memoize("mail_codecs", maxsize=256)
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
