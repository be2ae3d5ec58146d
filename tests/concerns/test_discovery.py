"""Grouping into concerns without the database: stable, campaign-proof, labelled."""

from __future__ import annotations

from engage import caching
from engage.concerns import discovery
from engage.concerns import text as textmod
from engage.concerns.service import draft_line
from tests.concerns.conftest import evaluation_rows


def _entries(theme: str) -> list[discovery.Entry]:
    return [discovery.Entry(i, row["text"]) for i, row in enumerate(evaluation_rows(theme))]


def test_the_same_input_gives_the_same_concerns():
    first = discovery.discover(_entries("services"))
    second = discovery.discover(_entries("services"))
    assert first.k == second.k >= 2
    assert [sorted(c.keys) for c in first.concerns] == [sorted(c.keys) for c in second.concerns]
    assert [c.label for c in first.concerns] == [c.label for c in second.concerns]


def test_every_item_is_in_exactly_one_concern_and_central_items_belong_to_it():
    entries = _entries("jobs")
    found = discovery.discover(entries)
    keys = [key for concern in found.concerns for key in concern.keys]
    assert sorted(keys) == [entry.key for entry in entries]
    for concern in found.concerns:
        assert set(concern.central) <= set(concern.keys)
        assert concern.phrases, "every concern gets phrases for its label"


def test_a_campaign_is_one_unit_and_cannot_form_a_concern_of_its_own():
    entries = _entries("money")
    letter = "Stop the merger now. Keep our hospital open and our services local, signed."
    campaign = [discovery.Entry(1000 + i, letter, group=7) for i in range(300)]
    found = discovery.discover(entries + campaign)
    assert found.units == len(entries) + 1
    holding = [c for c in found.concerns if any(k >= 1000 for k in c.keys)]
    assert len(holding) == 1, "a campaign's copies stay together"
    others = [k for k in holding[0].keys if k < 1000]
    assert len(others) >= discovery.MIN_CONCERN_UNITS - 1, "not a concern of one campaign"
    # It is counted at its size, but named by its people, not by the letter's words.
    assert len(holding[0].keys) == len(others) + 300
    assert "hospital open" not in holding[0].label


def test_a_concern_lists_its_most_central_item_first():
    entries = [
        discovery.Entry(
            1, "Staff will lose their jobs in the merger and redundancies will follow."
        ),
        discovery.Entry(2, "Redundancies of CCG staff: how many jobs will go?"),
        discovery.Entry(3, "Jobs will go. Staff redundancies are coming."),
    ]
    found = discovery.discover(entries, k=1)
    assert len(found.concerns) == 1
    assert sorted(found.concerns[0].central) == [1, 2, 3]


def test_draft_uses_a_worry_someone_stated_or_falls_back_to_phrases():
    said = draft_line(["budget"], ["I am worried that money will leave our borough for good."])
    assert said == "money will leave our borough for good."
    template = draft_line(["deficits", "debts"], ["Deficits and debts."])
    assert template == "the changes will affect deficits and debts."
    # A worry told in the first person is not the public's words: the template is used.
    assert draft_line(["jobs"], ["I fear that I will lose my job."]).startswith("the changes")


def test_stems_of_a_batch_are_each_texts_own_stems():
    texts = [row["text"] for row in evaluation_rows("jobs")] + ["", "Redundancies, 2019!"]
    assert textmod.stems_of(texts) == [textmod.stems(text) for text in texts]
    assert textmod.stems("Redundancies and redundant posts") == "redundanc redundant post"


def test_space_and_stems_live_in_named_caches_without_a_lifetime():
    assert discovery.space() is discovery.space()
    caches = caching.registered()
    assert caches["concerns_space"].seconds is None and len(caches["concerns_space"]) == 1
    textmod.stem("consultations")
    assert caches["concerns_stem"].seconds is None
    assert caches["concerns_stem"].get(("consultations",)) == "consult"
