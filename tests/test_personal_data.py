"""engage.personal_data: proposed removal of personal details, on the cases in tests/data/pii."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from engage.personal_data import (
    PLACEHOLDERS,
    Finding,
    find_pii,
    nhs_number_is_valid,
    propose,
    summary,
)

CASES = json.loads((Path(__file__).parent / "data" / "pii" / "cases.json").read_text("utf-8"))


def test_fixture_is_broad():
    assert len(CASES) >= 30
    assert len({case["id"] for case in CASES}) == len(CASES)
    kinds = {kind for case in CASES for kind, _ in case["found"]}
    assert kinds == set(PLACEHOLDERS)
    assert sum(1 for case in CASES if not case["found"]) >= 10


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case(case):
    text = case["text"]
    findings = find_pii(text, known_names=case.get("known_names", ()))
    assert [[f.kind, f.text] for f in findings] == case["found"]
    for finding in findings:
        assert text[finding.start : finding.end] == finding.text
    for kept in case["kept"]:
        start = text.index(kept)
        assert not [f for f in findings if f.start < start + len(kept) and f.end > start], kept
        assert kept in propose(text, known_names=case.get("known_names", ()))


def test_findings_are_sorted_and_do_not_overlap():
    text = " ".join(case["text"] for case in CASES)
    findings = find_pii(text, known_names=["Aisha Rahman", "Will Turner"])
    assert len(findings) > 40
    for before, after in zip(findings, findings[1:]):
        assert before.end <= after.start


def test_propose_replaces_each_finding():
    text = (
        "My name is Jane Okafor, NHS number 943 476 5919. Call 07700 900461 or write to "
        "jane.okafor@example.org at HA1 2AB.\n\nRegards,\nJane Okafor"
    )
    assert propose(text) == (
        "My name is [name removed], NHS number [NHS number removed]. Call "
        "[phone number removed] or write to [email removed] at [postcode removed].\n\n"
        "Regards,\n[name removed]"
    )
    # A proposal has nothing left to find: staff can save it as it is.
    assert find_pii(propose(text)) == []
    assert propose("Nothing personal here.") == "Nothing personal here."


def test_known_names_from_the_form():
    text = "Mary-Jane Smith-Jones here. Smith and Jones are common; so is mary. Dr Smith agreed."
    found = [f.text for f in find_pii(text, known_names=["Mrs Mary-Jane Smith-Jones", ""])]
    assert found == ["Mary-Jane Smith-Jones", "Smith", "Jones", "mary", "Smith"]
    # Titles and one-letter initials on the form match nothing by themselves.
    assert find_pii("Mr J said yes, Dr.", known_names=["Mr J"]) == []


def test_summary_counts_kinds():
    findings = find_pii("Ring 07700 900461 or 020 7946 0000; HA1 2AB; a@example.org")
    assert summary(findings) == {"email": 1, "phone": 2, "postcode": 1}
    assert summary([]) == {}


def test_finding_is_frozen():
    finding = Finding("email", 0, 13, "a@example.org")
    with pytest.raises(AttributeError):
        finding.kind = "phone"


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("9434765919", True),
        ("4010232137", True),
        ("4682752170", True),  # the remainder is 0, so the check digit is 0
        ("9434765918", False),  # wrong check digit
        ("4010232130", False),
        ("0000000000", False),  # passes the arithmetic, never issued
        ("1111111111", False),
        ("123456789", False),
        ("94347659190", False),
        ("943476591x", False),
    ],
)
def test_nhs_number_check_digit(digits, valid):
    assert nhs_number_is_valid(digits) is valid


def test_check_digit_of_ten_is_never_valid():
    # A weighted sum leaving 1 needs a check digit of 10, which no digit can be.
    prefix = next(
        p
        for p in (f"{n:09d}" for n in range(100, 100_000))
        if sum(int(d) * w for d, w in zip(p, range(10, 1, -1))) % 11 == 1
    )
    assert not any(nhs_number_is_valid(prefix + d) for d in "0123456789")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00\x01\x02",
        "a" * 10_000,
        "1" * 10_000,
        "0 " * 5_000,
        "0 " * 4_999 + "0x",
        "a@" * 5_000,
        "Mr " * 3_333,
        "Regards,\n" * 1_111,
        "HA1 2AB " * 1_250,
        "07700 900461 " * 769,
        "+44" * 3_333,
        "(0" * 5_000,
        "https://" + "a" * 9_990,
        "Zoë Łukasiewicz 😀 ﷽ \u200f\u202e " * 500,
        "My name is " * 900,
    ],
    ids=lambda text: repr(text[:12]),
)
def test_hostile_input_is_handled(text):
    findings = find_pii(text, known_names=["Jane Smith", "Ann"] + [f"Name{i}" for i in range(50)])
    assert all(0 <= f.start < f.end <= len(text) for f in findings)
    assert isinstance(propose(text), str)


def test_long_text_with_many_findings():
    rnd = random.Random(4)
    pieces = [case["text"] for case in CASES if case["text"]]
    text = ""
    while len(text) < 10_000:
        text += rnd.choice(pieces) + "\n"
    findings = find_pii(text)
    assert len(findings) > 50
    assert "[phone number removed]" in propose(text)


def test_repeated_phone_numbers_are_each_found():
    text = "07700 900461 " * 50
    assert [f.text for f in find_pii(text)] == ["07700 900461"] * 50


def test_word_lists_are_read_from_the_package_data_files():
    from engage.personal_data import detect

    # Comment lines are not words; every list has its words in the expected case.
    for words in (detect._GENERIC_WORDS, detect._PLACES, detect._WORDLIKE_NAMES):
        assert words and not any(w.startswith("#") or w != w.lower() for w in words)
    assert {"NW", "E", "ZE"} <= detect._POSTCODE_AREAS and "XX" not in detect._POSTCODE_AREAS
    assert {"brent", "ealing"} <= detect._PLACES and "grace" in detect._WORDLIKE_NAMES
