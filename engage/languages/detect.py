"""The language a piece of feedback is written in (issue 24).

Why py3langid, and not lingua-language-detector: both were measured on the same short
texts (tests/data/languages/: 100 one-to-three sentence items in Polish, Bengali,
Arabic, Somali and Romanian, 24 short English ones, many of them place names, and 19
in ten other languages), "restricted" to the first fifteen of ``CANDIDATES``, on this
project's 2-core machine, 2026-12-05, without the fallback below:

=============================  ======  =======  =====  ===========  ===========
detector                       5 lang  English  other  median/text  memory, load
=============================  ======  =======  =====  ===========  ===========
py3langid 0.4, restricted      100%    23/24    19/19  0.03 ms      +17 MB, 1 s
lingua 2.1, restricted, high   100%    23/24    19/19  0.20 ms      +240 MB, 6 s
lingua 2.1, restricted, low    98%     21/24    19/19  0.05 ms      +160 MB, 3 s
lingua 2.1, all languages      99%     22/24    19/19  1.4 ms       (35 s to load)
py3langid 0.4, all languages   100%    21/24    19/19  0.04 ms
=============================  ======  =======  =====  ===========  ===========

Restricted to the candidates, the two are equally accurate; py3langid is about six
times faster per text (about 20,000 texts a second on one core, against the
classifier's target of 2,000 items a second for the whole step) and adds a fraction of
the memory to each web and worker process. Restricting helps both: unrestricted,
"Too long." came out Sesotho and "Kilburn, Willesden Green and Harlesden" Dutch.

The one error left ("OK" taken for Arabic) is what the fallback below is for: a text
in Latin letters that is too short to tell is English. With the fallback and all of
``CANDIDATES``, detect() gets 100 of 100, 24 of 24 and 19 of 19 (tests/languages).
A text in another script is decided by the detector however short, because among the
candidates the script alone nearly decides it (only Arabic and Urdu share one).

In the classification step (the classifier's corpus, 5,000 texts, median 137
characters, only the first MAX_CHARS read): about 12,000 texts a second of CPU time;
prediction with detection in front made 2,500-2,800 items a second of CPU time against
3,200-3,700 without, and all 5,000 English texts stayed English.

The model is the one inside the py3langid wheel: nothing is downloaded at run time.
It is loaded once per process, on first use.
"""

from __future__ import annotations

import threading
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

ENGLISH = "en"

# English and the languages most spoken at home in North West and North East London
# (census 2021 main languages), as ISO 639-1 codes. A code here must be one the
# py3langid model knows (it has no Sylheti, so Sylheti written in Bengali script comes
# out Bengali, which is what a reader needs to know).
CANDIDATES: tuple[str, ...] = (
    "en",  # English
    "pl",  # Polish
    "bn",  # Bengali
    "ur",  # Urdu
    "ar",  # Arabic
    "ro",  # Romanian
    "so",  # Somali
    "gu",  # Gujarati
    "tr",  # Turkish
    "pt",  # Portuguese
    "pa",  # Punjabi
    "ta",  # Tamil
    "lt",  # Lithuanian
    "es",  # Spanish
    "fr",  # French
    "it",  # Italian
    "bg",  # Bulgarian
    "hu",  # Hungarian
    "ru",  # Russian
    "fa",  # Persian
    "hi",  # Hindi
    "el",  # Greek
    "sq",  # Albanian
)

# A text in Latin letters with fewer letters or words than this is too short to tell
# from English (names of places, "OK", "Thank you!"): it is taken as English.
MIN_LATIN_LETTERS = 16
MIN_LATIN_WORDS = 3
# Below this probability (over the candidates) a Latin-script guess other than English
# is not trusted either.
MIN_CONFIDENCE = 0.5
# Only the start of a long text is read: a few sentences tell the language, and the
# cost grows with the length (the classification step has a budget per item).
MAX_CHARS = 300

_lock = threading.Lock()
_identifier: LanguageIdentifier | None = None


def _model() -> LanguageIdentifier:
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                identifier.set_languages(list(CANDIDATES))
                _identifier = identifier
    return _identifier


def _letters(text: str) -> tuple[int, int]:
    """How many letters ``text`` has, and how many of them are Latin."""
    if text.isascii():  # most feedback: every letter is Latin, counted at C speed
        letters = sum(map(str.isalpha, text))
        return letters, letters
    letters = latin = 0
    for char in text:
        if char.isalpha():
            letters += 1
            # ASCII first: the common case, without a name lookup.
            if char.isascii() or unicodedata.name(char, "").startswith("LATIN"):
                latin += 1
    return letters, latin


def detect(text: str) -> str:
    """The ISO 639-1 code of the language ``text`` is written in, one of CANDIDATES.

    English when the text has no letters, or is in Latin letters and too short or too
    uncertain to tell (see MIN_LATIN_LETTERS, MIN_LATIN_WORDS, MIN_CONFIDENCE).
    """
    text = text[:MAX_CHARS]
    letters, latin = _letters(text)
    if not letters:
        return ENGLISH
    mostly_latin = latin * 2 >= letters
    if mostly_latin and (latin < MIN_LATIN_LETTERS or len(text.split()) < MIN_LATIN_WORDS):
        return ENGLISH
    language, confidence = _model().classify(text)
    if language != ENGLISH and mostly_latin and confidence < MIN_CONFIDENCE:
        return ENGLISH
    return language


def detect_many(texts: list[str]) -> list[str]:
    """detect() of each text, in order."""
    return [detect(text) for text in texts]


def is_english(language: str | None) -> bool:
    """True for English, and for an item whose language is not known yet."""
    return language is None or language == ENGLISH
