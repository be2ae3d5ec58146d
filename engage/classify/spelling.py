"""Put a mistyped word back to the word the model knows, before it is classified.

Real feedback is typed on phones in a hurry: "sesion", "hosptial", "fundign". To a
word n-gram model a mistyped word is a different word, with no weight, so one slip in a
key word can change an item's themes. :class:`Speller` knows the model's own word list
(its unigram vocabulary, most common first by document frequency) and replaces a word
that is not in it with the most common known word one slip away: a letter dropped,
added, changed, or two letters swapped. That is the symmetric-delete idea of SymSpell:
two words are one slip apart when deleting at most one letter from each makes them
equal, so a dictionary of every known word's one-letter deletions finds the candidates
with a handful of lookups.

Only words of four or more letters are corrected (shorter ones are too easily one slip
from another real word); a four-letter word may go back to a three-letter one by
losing a doubled letter. Four, not five: "mroe", "taht", "crae" and "jobz" are common
slips, and with five a model trained on a larger corpus changed the themes of 5.8% of
the holdout items given one typo in ten words (the limit is 5%); with four, 2.9%. A real
English word the model does not know stays unless the correction is far commoner
(``COMMONER``); among four-letter words that is often so ("form" would become "from"
for a model that had never seen "form"), which costs little: the model's own words,
the ones that carry a theme, are never changed. Plain functions and dictionaries:
nothing here is saved in a model file; a model builds its speller
from its own vocabulary when it is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MIN_LENGTH", "Speller", "english_words"]

MIN_LENGTH = 4
_WORD = re.compile(rf"[^\W\d_]{{{MIN_LENGTH},}}")


# Nothing but space and opening punctuation since the text began or a sentence ended.
_SENTENCE_START = re.compile(r"(?:^|[.!?:\n])[\s\"'(\[*-]*\Z")


_ENGLISH: list[dict[str, int]] = []  # read once per process: a file of an installed package

#: An English word stays as typed unless the correction is this many times commoner.
COMMONER = 10


def english_words() -> dict[str, int]:
    """How common each English word of MIN_LENGTH letters or more is (lower case).

    From the word-frequency list that ships with pyspellchecker (about 160,000 words;
    misspellings such as "goverment" or "recieve" are not in it). Read on first use
    (half a second) and kept for the life of the process, like the code itself: it is
    not a cache of anything that can change, so not an engage.caching cache (whose
    caches tests empty between apps).
    """
    if not _ENGLISH:
        from spellchecker import SpellChecker

        counts = SpellChecker(language="en", distance=1).word_frequency.dictionary
        _ENGLISH.append({w: n for w, n in counts.items() if len(w) >= MIN_LENGTH and w.isalpha()})
    return _ENGLISH[0]


def _one_slip(a: str, b: str) -> bool:
    """Whether *a* becomes *b* by one inserted, deleted or changed letter, or one swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):  # one letter inserted at i
        return a[i:] == b[i + 1 :]
    if a[i + 1 :] == b[i + 1 :]:  # one letter changed at i
        return True
    return a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]  # a swap


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class Speller:
    """Corrects single slips against a ranked word list (the first word is the commonest)."""

    def __init__(
        self, ranked_words: Iterable[str], *, english: dict[str, int] | None = None
    ) -> None:
        self.english = english or {}  # how common real words are (english_words)
        self.rank: dict[str, int] = {}
        for word in ranked_words:
            if word.isalpha() and word not in self.rank:
                self.rank[word] = len(self.rank)
        # one-letter deletion -> the known words it comes from
        self._deleted: dict[str, list[str]] = {}
        for word in self.rank:
            if len(word) >= MIN_LENGTH:
                for d in _deletes(word):
                    self._deleted.setdefault(d, []).append(word)
        # Corrections made so far. Per speller, not an engage.caching cache: a correction
        # is only true of this word list, and every unknown word of every classified item
        # is looked up here, where a lock a lookup would show in the batch rate.
        self._cache: dict[str, str | None] = {}

    def correct(self, word: str) -> str | None:
        """The known word *word* (lower case) is one slip from, or None."""
        if word in self.rank or len(word) < MIN_LENGTH:
            return None
        if word in self._cache:
            return self._cache[word]
        candidates = list(self._deleted.get(word, ()))  # a letter was dropped
        for d in _deletes(word):
            if d in self.rank:  # a letter was added ("staaff", "cuuts")
                candidates.append(d)
            candidates.extend(self._deleted.get(d, ()))  # changed, or two swapped
        # The deletion trick finds every word one slip away, and some two slips away
        # ("funed" and "found" share "fund"); keep those truly one slip away.
        close = [c for c in set(candidates) if _one_slip(word, c)]
        best = min(close, key=self.rank.__getitem__) if close else None
        common = self.english.get(word, 0)
        if best is not None and common and common * COMMONER >= self.english.get(best, 0):
            best = None  # a real word in its own right ("grand", not "grant")
        if len(self._cache) > 50_000:  # bounded: a long import meets ever rarer words
            self._cache.clear()
        self._cache[word] = best
        return best

    def fix(self, text: str) -> str:
        """*text* with each mistyped word of four or more letters replaced.

        A capitalised word inside a sentence is taken for a name ("Notting Hill") and
        left alone; at the start of a sentence it is checked like any other.
        """

        rank = self.rank

        def replace(match: re.Match[str]) -> str:
            word = match.group(0)
            lower = word.lower()
            if lower in rank:  # most words: known, so kept whatever their case
                return word
            start = match.start()
            if word[0].isupper() and not _SENTENCE_START.search(text, max(0, start - 20), start):
                return word
            found = self.correct(lower)
            return found if found is not None else word

        return _WORD.sub(replace, text)
