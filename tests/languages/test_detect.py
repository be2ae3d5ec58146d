"""The language detector on short resident feedback (issue 24)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from engage.languages import detect, names

DATA = Path(__file__).resolve().parents[1] / "data" / "languages"


def _tsv(name: str) -> list[tuple[str, str]]:
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, text = line.split("\t", 1)
            rows.append((code, text))
    return rows


def _lines(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


SHORT = _tsv("short_feedback.tsv")


def test_the_set_is_100_short_texts_in_five_languages():
    assert len(SHORT) == 100
    assert Counter(code for code, _ in SHORT) == {"pl": 20, "bn": 20, "ar": 20, "so": 20, "ro": 20}
    # Short: one to three sentences, none long.
    assert max(len(text) for _, text in SHORT) < 160


def test_at_least_95_percent_of_the_short_texts_are_detected():
    wrong = [
        (code, detect.detect(text), text) for code, text in SHORT if detect.detect(text) != code
    ]
    assert len(wrong) <= 5, wrong
    # Per language too: no language may carry all of the misses.
    by_language = Counter(code for code, _, _ in wrong)
    assert all(n <= 2 for n in by_language.values()), wrong


def test_english_stays_english_even_when_short_or_full_of_place_names():
    texts = _lines("english_feedback.txt")
    assert len(texts) >= 20
    wrong = [(detect.detect(t), t) for t in texts if detect.detect(t) != "en"]
    assert wrong == []


def test_other_languages_of_north_london():
    rows = _tsv("other_feedback.tsv")
    wrong = [(code, detect.detect(text)) for code, text in rows if detect.detect(text) != code]
    assert len(wrong) <= 1, wrong


@pytest.mark.parametrize(
    "text",
    ["", "   ", "!!!", "12 34", "OK", "Thanks", "Harrow", "Kilburn High Road", "NHS 111"],
)
def test_no_letters_or_too_short_to_tell_is_english(text):
    assert detect.detect(text) == "en"


def test_a_short_text_in_another_script_is_still_detected():
    assert detect.detect("شكراً") == "ar"
    assert detect.detect("ধন্যবাদ") == "bn"


def test_every_candidate_has_a_name():
    assert set(detect.CANDIDATES) <= set(names.NAMES)
    assert set(names.NAMES) == set(names.NATIVE_NAMES)
    assert names.name("pl") == "Polish"
    assert names.name(None) == "Not detected yet"


def test_it_is_fast_enough_for_the_classification_step():
    import time

    texts = [text for _, text in SHORT] * 10
    detect.detect(texts[0])  # the model loads once
    # CPU time, not wall time: the test machine is shared with other work.
    started = time.process_time()
    detect.detect_many(texts)
    per_second = len(texts) / max(time.process_time() - started, 1e-9)
    # The classifier's own target is 2,000 items a second for the whole step; detection
    # must take a small part of it (measured about 20,000 a second on one core).
    assert per_second > 5_000, per_second
