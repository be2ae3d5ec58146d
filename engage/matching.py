"""Text normalised for matching: the words a template letter's copies share.

A low helper used by two domains that compare texts: campaign duplicates
(``engage.staff.duplicates``) and concerns (``engage.concerns.text``).
"""

from __future__ import annotations

import re
import unicodedata

_GREETING = re.compile(
    r"\s*(?:dear|hi|hello|hey|good\s+(?:morning|afternoon|evening)|to\s+whom\s+it\s+may\s+concern"
    r"|to\s+the)\b([^\n,:;!]{0,60})([,:;!]|$)",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"\s*(?:(?:kind|kindest|best|warm|warmest|many|with)\s+(?:regards|thanks|wishes)|regards"
    r"|many\s+thanks|thanks|thank\s+you|with\s+best\s+wishes|all\s+the\s+best"
    r"|yours\s+(?:sincerely|faithfully|truly)|sincerely|cheers|signed|respectfully"
    r"|(?:yours|best)(?=\s*(?:[,!-]|$)))\b.{0,60}",
    re.IGNORECASE,
)
# A closing within the last sentence of a text written on one line.
_CLOSING_AT_END = re.compile(
    r"(?:^|(?<=[.!?]))\s*(?:(?:kind|best|warm|many)\s+(?:regards|thanks|wishes)|regards"
    r"|yours\s+(?:sincerely|faithfully|truly)|best\s+wishes|thanks|thank\s+you|cheers"
    r"|(?:yours|best)(?=\s*[,!-]))\b[^.!?\n]{0,60}$",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"(?<!\S)[^\s@]+@\S+")
_WORD = re.compile(r"[^\W_]+")
# One to four capitalised words or initials alone on the last line: a signature.
_BARE_NAME = re.compile(
    r"\s*(?:(?:[^\W\d_]\.?|[A-Z][^\W\d_]*(?:['’-][^\W\d_]+)*)(?![\w'’-])\s*){1,4}"
)


def normalise_for_matching(text: str) -> str:
    """The words a template letter's copies share: no greeting, sign-off, case or punctuation."""
    text = unicodedata.normalize("NFKC", text or "")
    lines = [line for line in text.splitlines() if line.strip()]
    greeting = _GREETING.match(lines[0]) if lines else None
    # "Dear Sir/Madam," or a short greeting line of its own; not "Hello please keep it open".
    if greeting and (greeting.group(2) or (len(lines) > 1 and len(greeting.group(1)) <= 30)):
        lines[0] = lines[0][greeting.end() :]
    # Cut from the last closing line near the end: the name, address and phone follow it.
    for i in range(len(lines) - 1, max(len(lines) - 7, 0), -1):
        if _CLOSING.fullmatch(lines[i]):
            del lines[i:]
            break
    else:
        if len(lines) > 1 and _BARE_NAME.fullmatch(lines[-1]):
            del lines[-1]  # a name under the letter, without "Regards"
        elif lines:
            last = lines[-1]
            # Only the end of the line can hold "... Regards, Jane Smith".
            closing = _CLOSING_AT_END.search(last, max(0, len(last) - 100))
            if closing:
                lines[-1] = last[: closing.start()]
    joined = " ".join(lines)
    if "@" in joined:
        joined = _EMAIL.sub(" ", joined)
    return " ".join(_WORD.findall(joined.casefold()))
