"""Propose redactions of personal details in a feedback text, for staff to check.

Hand-written rules, tested against tests/data/pii/cases.json. They aim for few false
alarms on ordinary consultation feedback (years, money, references, borough names,
"my GP"), accepting that staff read every proposal before it is saved.

Choices worth knowing:

- Phone numbers are UK numbers only: 01/02/03/05/07/08 with 10 or 11 digits, or the
  same after +44 / 0044 (with or without "(0)"). Short numbers (111, 999) are public.
- NHS numbers are ten digits, grouped 3-3-4 or run together, that pass the Modulus 11
  check. Ten digits that fail it are not an NHS number (they may still be a phone number).
- Postcodes must be complete (outward and inward code, space optional) and start with a
  real postcode area. Outward codes alone ("NW10", "HA1") are left: residents use them
  for the district they live in, which covers thousands of homes and is what the team
  counts feedback by. The letters must be all capitals or all small letters, so that
  "M25 4th" is not read as a postcode.
- Names come from the name the author gave on the form, from cues ("my name is", "I am
  Mrs", titles, "Dear", "Name:") and from a sign-off at the end of the text. A name word
  must be capitalised and not a common word, a place or an NHS term. Words found this way
  are also removed where they appear again in the same text.
- Web addresses are not personal data here (they point at public documents), but nothing
  inside one is flagged as a phone number, postcode or name.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files

PLACEHOLDERS = {
    "email": "[email removed]",
    "phone": "[phone number removed]",
    "nhs_number": "[NHS number removed]",
    "postcode": "[postcode removed]",
    "name": "[name removed]",
}
# When two findings overlap, the earlier kind in this list wins.
_PRIORITY = {kind: rank for rank, kind in enumerate(PLACEHOLDERS)}


@dataclass(frozen=True)
class Finding:
    """A span of ``text[start:end]`` that looks like personal data of one ``kind``."""

    kind: str  # "email" | "phone" | "nhs_number" | "postcode" | "name"
    start: int
    end: int
    text: str


def find_pii(text: str, *, known_names: Iterable[str] = ()) -> list[Finding]:
    """Return the personal details in ``text``, sorted and not overlapping.

    ``known_names`` are names the author gave (the form's name field): each part of two
    letters or more is found anywhere in the text, whatever its case.
    """
    if not text:
        return []
    candidates: list[tuple[str, int, int]] = []
    candidates += _emails(text)
    candidates += _nhs_numbers(text)
    candidates += _phones(text)
    candidates += _postcodes(text)
    candidates += _names(text, known_names)
    urls = [(m.start(), _strip_url_end(m.group())) for m in _URL.finditer(text)]
    url_spans = _Spans()
    for start, url in urls:
        url_spans.add(start, start + len(url))

    taken = _Spans()
    findings = []
    for kind, start, end in sorted(candidates, key=lambda c: (_PRIORITY[c[0]], c[1], -c[2])):
        if kind != "email" and url_spans.overlaps(start, end):
            continue
        if taken.overlaps(start, end):
            continue
        taken.add(start, end)
        findings.append(Finding(kind, start, end, text[start:end]))
    findings.sort(key=lambda f: f.start)
    return _join_adjacent_names(text, findings)


def _join_adjacent_names(text: str, findings: list[Finding]) -> list[Finding]:
    """Join name parts found one by one ("Jane", "Smith") when only blanks separate them."""
    joined: list[Finding] = []
    for finding in findings:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and previous.kind == finding.kind == "name"
            and not text[previous.end : finding.start].strip(" \t")
        ):
            start, end = previous.start, finding.end
            joined[-1] = Finding("name", start, end, text[start:end])
        else:
            joined.append(finding)
    return joined


def propose(text: str, *, known_names: Iterable[str] = ()) -> str:
    """Return ``text`` with each personal detail replaced by a placeholder."""
    parts = []
    position = 0
    for finding in find_pii(text, known_names=known_names):
        parts.append(text[position : finding.start])
        parts.append(PLACEHOLDERS[finding.kind])
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    """Count findings by kind, in the order of PLACEHOLDERS."""
    counts = Counter(f.kind for f in findings)
    return {kind: counts[kind] for kind in PLACEHOLDERS if counts[kind]}


class _Spans:
    """Non-overlapping half-open spans, kept sorted for overlap checks."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect_left(self.starts, end)
        # Only the span starting just before ``end`` can reach into [start, end).
        return i > 0 and self.ends[i - 1] > start

    def add(self, start: int, end: int) -> None:
        i = bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)


# --- emails and web addresses -------------------------------------------------------

# The lookbehind makes a match start only at the beginning of a token, so a long run of
# letters is scanned once rather than once per character.
_EMAIL = re.compile(r"(?<![\w.%+'-])[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?<![\w@.])(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)


def _emails(text: str) -> list[tuple[str, int, int]]:
    found = []
    for m in _EMAIL.finditer(text):
        top_level = m.group().rsplit(".", 1)[1]
        if len(top_level) >= 2 and top_level.isalpha():
            found.append(("email", m.start(), m.end()))
    return found


def _strip_url_end(url: str) -> str:
    return url.rstrip(".,;:!?)]}'\"")


# --- NHS numbers and phone numbers --------------------------------------------------

# Not inside a word, a reference (YS-2026-000042), an amount (£1,234) or a date.
_NUMBER_BEFORE = r"(?<![\w+/.,£$€-])"
_NHS = re.compile(_NUMBER_BEFORE + r"(\d{3})([ \t-]?)(\d{3})\2(\d{4})(?![\w/-]|[.,]\d)")
_PHONE = re.compile(
    _NUMBER_BEFORE
    + r"(?:(?:\+|00)44[ \t\u00a0-]?(?:\(0\)[ \t\u00a0-]?)?|\(0|0)\d(?:\)?[ \t\u00a0-]{0,2}\d){0,15}"
)


def nhs_number_is_valid(digits: str) -> bool:
    """True if ten digits pass the NHS number Modulus 11 check."""
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    total = sum(int(d) * weight for d, weight in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _nhs_numbers(text: str) -> list[tuple[str, int, int]]:
    found = []
    for m in _NHS.finditer(text):
        if nhs_number_is_valid(m.group(1) + m.group(3) + m.group(4)):
            found.append(("nhs_number", m.start(), m.end()))
    return found


def _national_phone_digits(candidate: str) -> str:
    digits = re.sub(r"\D", "", candidate)
    if candidate.startswith("+44"):
        return "0" + digits[2:].lstrip("0")
    if candidate.startswith("0044"):
        return "0" + digits[4:].lstrip("0")
    return digits


def _is_uk_phone(national: str) -> bool:
    if len(national) < 10 or national[0] != "0" or national[1] not in "123578":
        return False
    return len(national) == 11 or (len(national) == 10 and national[1] in "18")


def _phones(text: str) -> list[tuple[str, int, int]]:
    found = []
    position = 0
    while (m := _PHONE.search(text, position)) is not None:
        candidate = m.group()
        # The longest prefix, ending at a digit group, that is a UK number: a number
        # written with a stray extension or count after it still counts.
        best = 0
        for group in re.finditer(r"\d+", candidate):
            national = _national_phone_digits(candidate[: group.end()])
            if len(national) > 11:
                break
            if _is_uk_phone(national):
                best = group.end()
        after = text[m.start() + best : m.start() + best + 1]
        # Followed by letters or a slash: a code, a date or a file name, not a phone.
        if best and not (after and (after.isalnum() or after in "_/")):
            found.append(("phone", m.start(), m.start() + best))
            position = m.start() + best
        else:
            position = m.start() + 1
    return found


def _word_list(name: str) -> frozenset[str]:
    """The words of ``data/<name>``, one a line (``#`` starts a comment line)."""
    text = files("engage.personal_data").joinpath("data", name).read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


# --- postcodes ----------------------------------------------------------------------

_POSTCODE_AREAS = _word_list("postcode_areas.txt")
_POSTCODE = re.compile(
    r"(?<![\w-])([A-Z]{1,2})(\d[A-Z\d]?)[ \t\u00a0]?(\d[ABD-HJLNP-UW-Z]{2})(?![\w-])",
    re.IGNORECASE,
)
_ORDINAL = re.compile(r"(1st|2nd|3rd|[04-9]th)")


def _postcodes(text: str) -> list[tuple[str, int, int]]:
    found = []
    for m in _POSTCODE.finditer(text):
        area, district, inward = m.groups()
        if area.upper() not in _POSTCODE_AREAS:
            continue
        letters = "".join(ch for ch in m.group() if ch.isalpha())
        if not (letters.isupper() or letters.islower()):
            continue
        if letters.islower() and _ORDINAL.fullmatch(inward):
            continue  # "w2 1st" reads as an ordinal more often than as a postcode
        found.append(("postcode", m.start(), m.end()))
    return found


# --- names --------------------------------------------------------------------------

_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr"})

# Capitalised words that are not names: function words, NHS and council terms, roles.
_GENERIC_WORDS = _word_list("generic_words.txt")
# Places that readers in North West and North East London write about.
_PLACES = _word_list("places.txt")
_NOT_NAMES = _GENERIC_WORDS | _PLACES
# First names that are also ordinary words: matched only when written with a capital.
_WORDLIKE_NAMES = _word_list("wordlike_names.txt")

# After a cue ("Regards,", "Mrs", "my name is") a word-like first name is a name.
_STOP_WORDS = (_NOT_NAMES - _WORDLIKE_NAMES) | _TITLES

_LETTERS = r"[^\W\d_]"
_NAME_TOKEN = re.compile(rf"[ \t]{{1,3}}({_LETTERS}\.|{_LETTERS}+(?:['’-]{_LETTERS}+)*)(?![\w'’-])")
_TITLE = re.compile(r"(?<![\w.])(?:Mr|Mrs|Ms|Miss|Mx|Dr)\b\.?(?=[ \t])")
_CUES = [
    re.compile(r"(?i:\bmy\s+name(?:'s|’s|\s+is))\b"),
    re.compile(r"(?im:^[ \t]*name[ \t]*:)"),
    re.compile(r"(?m:^[ \t]*(?i:dear))\b"),
]
_I_AM = re.compile(r"\bI(?: am|'m|’m)\b")
_CLOSING = (
    r"(?:(?:kind|kindest|best|warm|warmest|many|with)\s+(?:regards|thanks|wishes)|regards"
    r"|many\s+thanks|thanks(?:\s+again|\s+very\s+much)?|thank\s+you(?:\s+(?:very\s+much|again))?"
    r"|best\s+wishes|with\s+best\s+wishes|all\s+the\s+best|yours\s+(?:sincerely|faithfully|truly)"
    r"|sincerely|cheers|best|signed|respectfully)"
)
_CLOSING_LINE = re.compile(rf"(?i:[ \t]*{_CLOSING}[ \t]*[,.!:;]?[ \t]*)")
_CLOSING_INLINE = re.compile(rf"(?i:[ \t]*{_CLOSING}[ \t]*[,:;-]+)(?=[ \t])")
_DASH_SIGN_OFF = re.compile(r"[ \t]*[-–—~]{1,2}(?=[ \t])")
_CLOSING_AT_END = re.compile(rf"(?:^|(?<=[.!?]))[ \t]*(?i:{_CLOSING})[ \t]*[,.!:;-]*(?=[ \t])")


def _is_name_word(word: str) -> bool:
    if len(word) < 2 or not word[0].isupper():
        return False
    if word.isupper() and len(word) <= 3:
        return False  # an acronym: GP, NHS, A&E
    return word.lower() not in _STOP_WORDS


def _take_name(text: str, pos: int, *, max_words: int = 3, min_words: int = 1):
    """The span of up to ``max_words`` name words starting at ``pos`` (after blanks).

    Initials ("J." or "J") may come before a word. Returns ``(start, end, words)`` or None.
    """
    start = end = None
    words: list[str] = []
    initials = 0
    while len(words) < max_words:
        m = _NAME_TOKEN.match(text, pos)
        if m is None:
            break
        token = m.group(1)
        if len(token) <= 2 and token[0].isupper() and (len(token) == 1 or token[1] == "."):
            if words or initials >= 2:
                break
            initials += 1
        else:
            for suffix in ("'s", "’s"):
                if token.endswith(suffix) and len(token) > 3:
                    token = token[: -len(suffix)]
            if not _is_name_word(token):
                break
            words.append(token)
        if start is None:
            start = m.start(1)
        end = m.start(1) + len(token)
        pos = m.end()
    if len(words) < min_words:
        return None
    return start, end, words


def _names(text: str, known_names: Iterable[str]) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []
    discovered: set[str] = set()

    def keep(span) -> None:
        if span:
            start, end, words = span
            found.append(("name", start, end))
            # Found again elsewhere only if the word cannot be an ordinary word.
            discovered.update(w for w in words if len(w) >= 3 and w.lower() not in _WORDLIKE_NAMES)

    for m in _TITLE.finditer(text):
        keep(_take_name(text, m.end()))
    for cue in _CUES:
        for m in cue.finditer(text):
            keep(_take_name(text, _skip_title(text, m.end())))
    for m in _I_AM.finditer(text):
        keep(_take_name(text, m.end(), min_words=2))
    for span in _sign_off_names(text):
        keep(span)

    parts = _known_name_parts(known_names)
    for m in _word_pattern(parts, ignore_case=True).finditer(text):
        word = m.group()
        if word.lower() in _WORDLIKE_NAMES and (
            not word[0].isupper() or _starts_sentence(text, m.start())
        ):
            continue  # "will", or "Will the centre stay open?"
        found.append(("name", m.start(), m.end()))
    for m in _word_pattern(discovered, ignore_case=False).finditer(text):
        found.append(("name", m.start(), m.end()))
    return found


def _starts_sentence(text: str, pos: int) -> bool:
    before = text[max(0, pos - 40) : pos].rstrip(" \t\"'“‘(")
    return not before or before[-1] in ".!?:\n"


def _skip_title(text: str, pos: int) -> int:
    m = _TITLE.match(text, pos + 1) if text[pos : pos + 1] in (" ", "\t") else None
    return m.end() if m else pos


def _known_name_parts(known_names: Iterable[str]) -> set[str]:
    parts: set[str] = set()
    for name in known_names:
        for part in re.findall(rf"{_LETTERS}+(?:['’-]{_LETTERS}+)*", name or ""):
            pieces = {part, *re.split(r"['’-]", part)} if "-" in part else {part}
            for piece in pieces:
                lowered = piece.lower()
                if (
                    len(piece) >= 2
                    and lowered not in _TITLES
                    and (lowered not in _GENERIC_WORDS or lowered in _WORDLIKE_NAMES)
                ):
                    parts.add(piece)
    return parts


def _word_pattern(words: Iterable[str], *, ignore_case: bool) -> re.Pattern[str]:
    words = sorted(set(words), key=lambda w: (-len(w), w))
    if not words:
        return re.compile(r"(?!)")
    alternatives = "|".join(re.escape(w) for w in words)
    flags = re.IGNORECASE if ignore_case else 0
    return re.compile(rf"(?<![\w'’-])(?:{alternatives})(?![\w'’-])", flags)


def _sign_off_names(text: str):
    """Names in a sign-off at the end: the line after a closing ("Regards,"), the rest of
    a closing line ("Best wishes, Tom"), a last line "-- Jane", or "Thank you. Jane" at
    the very end of a one-line text."""
    lines = []
    offset = 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            lines.append((offset, line.rstrip("\r\n")))
        offset += len(line)
    tail = lines[-6:]
    for i, (start, line) in enumerate(tail):
        if _CLOSING_LINE.fullmatch(line):
            if i + 1 < len(tail):
                next_start, next_line = tail[i + 1]
                yield _shift(_name_then_nothing(" " + next_line, 0), next_start - 1)
        elif i >= len(tail) - 3:
            m = _CLOSING_INLINE.match(line)
            if m:
                yield _shift(_name_then_nothing(line, m.end()), start)
    if tail:
        start, line = tail[-1]
        m = _DASH_SIGN_OFF.match(line)
        if m:
            yield _shift(_name_then_nothing(line, m.end(), strict=True), start)
        for m in _CLOSING_AT_END.finditer(line):
            yield _shift(_name_then_nothing(line, m.end(), strict=True), start)


def _name_then_nothing(line: str, pos: int, *, strict: bool = False):
    """A name at ``pos`` that ends the line, or is followed only by ", place" or "(...)"."""
    span = _take_name(line, _skip_title(line, pos), max_words=4)
    if span is None:
        return None
    rest = line[span[1] :].strip(" \t.!")
    if not rest or (not strict and rest[0] in ",("):
        return span
    return None


def _shift(span, by: int):
    if span is None:
        return None
    start, end, words = span
    return start + by, end + by, words
