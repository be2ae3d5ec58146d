"""Words of feedback for grouping into concerns: cleaned, stop words out, endings cut.

Short feedback about the same worry rarely repeats the same word forms ("redundant",
"redundancies"), so words are cut to a rough stem before counting. The stemmer is a
handful of suffix rules, not a linguistic one: it only has to map the forms of one word
to the same key, never to produce a real word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engage.caching import memoize
from engage.matching import normalise_for_matching

# Function words, and the words people use to say they are worried about anything:
# "concerned", "worried" say nothing about *which* concern it is.
_STOP_TEXT = (
    "a an the and or but if of to in on at for from by with about as into than then "
    "so that this these those there their they them it its is are was were be been "
    "being am i im me my we us our you your he she his her who whom which what when "
    "where why how will would shall should can could may might must do does did done "
    "have has had not no nor only just also very too more most much many such own "
    "same other some any each every all both either neither one up down out over "
    "under again further here once s t don doesn isn ll ve re d please think worried "
    "worry concerned concern concerns fear feel like want need get got make sure "
    "really dear thank thanks regards look forward reply respond response "
)
STOP_WORDS = frozenset(_STOP_TEXT.split())
_SUFFIXES = (
    "ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied",
    "ers", "er", "ed", "es", "s", "ly",
)  # fmt: skip
_DIGITS = re.compile(r"\d")


# A channel's label before what was said: "Survey:", "Survey answer -", "Meeting note,
# Tuesday:", "Q from the floor (Wembley meeting):", "Email to the CCG:", "Tweet:",
# "Re:". Staff paste feedback under such headers; their words say how it came, not
# what the worry is, yet they are counted as words, and some name ideas ("meeting"
# the GP appointments one, "online survey" who can take part). The label is set
# aside when it is short, ends in a colon or a spaced dash, and starts with a
# channel's or a form's name; what follows the name may only be a second form word
# ("answer", "note"), a bracket, or a comma's or a "to / from / at / with / for"'s
# few words (a place, a day, who spoke), and those are kept (``without_channel``).
_CHANNEL_NAMES = (
    "survey", "questionnaire", "poll", "q", "q&a", "question", "questions",
    "public question", "meeting", "public meeting", "meeting note", "meeting notes",
    "note", "notes", "minutes", "comment", "comments", "comment card", "feedback",
    "feedback form", "response", "answer", "reply", "email", "e-mail", "mail",
    "letter", "tweet", "twitter", "x", "facebook", "facebook post", "post",
    "instagram", "text", "text message", "sms", "whatsapp", "message", "voicemail",
    "phone call", "call", "webform", "web form", "online form", "form", "drop-in",
    "stall", "event", "focus group", "workshop", "roadshow", "transcript", "interview",
    "postcard", "chat", "live chat", "from the floor", "reason for signing",
)  # fmt: skip
_FORM_WORDS = (
    "answer", "answers", "response", "responses", "reply", "note", "notes", "comment",
    "comments", "question", "message", "post", "submission", "entry", "extract",
    "free text", "free-text", "from the floor",
)  # fmt: skip


def _alternatives(names: Sequence[str]) -> str:
    return "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))


_REPLY = re.compile(r"^\s*(?:(?:re|fwd?|aw)\s*:\s*)+", re.IGNORECASE)
_CHANNEL = re.compile(
    r"^\s*(?:an?\s+)?(?:" + _alternatives(_CHANNEL_NAMES) + r")"
    r"(?:\s+(?:" + _alternatives(_FORM_WORDS) + r"))?"
    r"(?P<who>(?:\s*\([^()\n]{0,40}\))?"
    r"(?:(?:\s*,|\s+(?:to|from|at|with|for)\b)[^:.!?()\n]{0,40}(?:\([^()\n]{0,40}\))?)?)"
    r"\s*(?::|\s[-\u2013\u2014]\s)\s*",
    re.IGNORECASE,
)


def without_channel(text: str, *, keep_who: bool = True) -> str:
    """``text`` without a leading channel label ("Survey:", "Meeting note, Tuesday:",
    "Re:"), when what follows is not empty; otherwise ``text`` as it was.

    With ``keep_who`` the label's qualifier stays, as words before a colon: "Meeting
    note, Brent GP forum:" leaves "Brent GP forum:", "Survey (staff):" leaves "staff:".
    Who spoke or where can belong to the worry (staff, a GP forum, a campaign's stall)
    where the channel's name never does. Without it (a draft quoting the text) the
    whole label goes."""
    if not text:
        return text
    rest = _REPLY.sub("", text, count=1)
    match = _CHANNEL.match(rest)
    if match and rest[match.end() :].strip():
        who = match.group("who").strip(" ,()") if keep_who else ""
        rest = (who + ": " if who else "") + rest[match.end() :]
    return rest if rest.strip() else text


@memoize("concerns_stem", maxsize=65536, seconds=None)
def stem(word: str) -> str:
    """A rough stem: the first matching suffix cut when at least four letters remain.

    A pure function of the word, kept in the named cache ``concerns_stem`` (no lifetime).
    """
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix) + 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """The text's words as matched for campaign copies (no greeting, sign-off or case)."""
    return normalise_for_matching(text).split()


def stems(text: str) -> str:
    """The text as space-separated stems of its content words (no stop words, no numbers)."""
    return stems_of([text])[0]


def stems_of(texts: Sequence[str]) -> list[str]:
    """``stems`` of each text. Each distinct word is stemmed once a call: ``stem``'s
    cache takes a lock on every lookup, which would cost more than the stemming saves
    when asked once for every word of ten thousand items."""
    kept = [
        [
            word
            for word in words(without_channel(text))
            if word not in STOP_WORDS and not _DIGITS.search(word)
        ]
        for text in texts
    ]
    stemmed = {word: stem(word) for word in {word for found in kept for word in found}}
    return [" ".join([stemmed[word] for word in found]) for found in kept]


# Phrases never run across these: "... a consultation? Will staff ..." is two phrases.
_BREAKS = re.compile(r"[.!?;:,()\[\]\n\"“”]+")
# The only small words a phrase may hold inside it ("cost of the merger").
_INNER = frozenset({"of", "the", "and", "to", "in", "for", "on", "our", "a"})


def phrases(text: str, *, longest: int = 3) -> list[str]:
    """Readable phrases of 1 to ``longest`` words within one clause: no stop word at either
    end, only a few small words inside, no numbers."""
    found = []
    for clause in _BREAKS.split(without_channel(text)):
        tokens = normalise_for_matching(clause).split()
        for n in range(1, longest + 1):
            for start in range(len(tokens) - n + 1):
                gram = tokens[start : start + n]
                if gram[0] in STOP_WORDS or gram[-1] in STOP_WORDS:
                    continue
                if any(w in STOP_WORDS and w not in _INNER for w in gram[1:-1]):
                    continue
                if any(_DIGITS.search(word) for word in gram):
                    continue
                found.append(" ".join(gram))
    return found
