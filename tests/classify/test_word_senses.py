"""Workforce words in other senses (docs/themes.md, convention 21): the lexicon's guards.

"Redundant" meaning unneeded, "posts" on social media and staff training named only
as why a clinic shut hold jobs phrases without being about staff. The contexts in
lexicon.py mark such sentences so that training can learn the difference; quoted
earlier replies that talk about staffing never reach the model at all.
"""

from __future__ import annotations

import pytest

from engage.classify import lexicon
from engage.classify.text import normalise

GUARDS = ("redundant as unneeded", "posts online", "shut for training")


def guards_found(text: str) -> dict[str, bool]:
    features = lexicon.LexiconFeatures(None, 1.0, lexicon.default_contexts())
    names = [name for name, *_ in lexicon.default_contexts()]
    found = dict(zip(names, features.context_sentences(text), strict=True))
    return {name: bool(found[name]) for name in GUARDS}


@pytest.mark.parametrize(
    ("text", "guard"),
    [
        ("The leaflet is full of redundant jargon.", "redundant as unneeded"),
        ("Question 6 is redundant, it repeats question 3.", "redundant as unneeded"),
        ("The old offices in Crewe are redundant and sitting empty.", "redundant as unneeded"),
        ("I saw your posts on Facebook about the hub.", "posts online"),
        ("Stop deleting posts that criticise the plan on your page.", "posts online"),
        ("The clinic was shut for staff training again.", "shut for training"),
        ("Surgery closed this afternoon for protected learning time.", "shut for training"),
    ],
)
def test_a_guard_marks_the_other_sense(text, guard):
    found = guards_found(text)
    assert found[guard]
    assert sum(found.values()) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Forty admin staff are to be made redundant in the merger.",
        "Thirty posts at the CCG will go and nobody has told the people in them.",
        "The staff training budget has been cut again and nurses pay for their own courses.",
        "My post is one of the savings lines in the restructure.",
    ],
)
def test_workforce_senses_raise_no_guard(text):
    assert not any(guards_found(text).values())


def test_guards_look_within_one_sentence():
    text = "Twelve posts are being cut. I read about it on Facebook."
    assert not guards_found(text)["posts online"]


def test_staffing_in_a_quoted_reply_never_reaches_the_lexicon():
    text = (
        "My mum waited eleven hours on a trolley at the Royal. That's what I complained about.\n\n"
        "On 4 Jan 2025, at 16:02, Patient Experience <pals@nhs.example> wrote:\n"
        "> We are sorry. The department had staff shortages that day and several\n"
        "> nursing shifts were unfilled."
    )
    own = normalise(text)
    assert "shortages" not in own
    assert not lexicon.matches(own, lexicon.LEXICON["jobs"])
    assert lexicon.matches(own, lexicon.LEXICON["services"])


@pytest.mark.parametrize(
    "text",
    [
        "Your survey has a redundant question in every section. Please tidy it up.",
        "Loved your posts on Instagram about the new children's ward.",
        "Went for my blood test and the clinic was closed for staff training.",
    ],
)
def test_the_shipped_model_reads_the_other_sense_as_not_jobs(shipped_model, text):
    themes = {t for t, _ in shipped_model.predict([text])[0]}
    assert "jobs" not in themes


# Round 10 (docs/data-card.md): a lexicon phrase holds its theme's sense. A prefix is a
# word and its forms, not every word that starts the same way ("grant*" and Grantham),
# and a word with a common other sense gives way to phrases that keep the theme's one
# ("saving" a hospital, "a great job", an MP named). Each row: a text the phrase was
# written for, and one with the other sense.
@pytest.mark.parametrize(
    ("theme", "meant", "other_word"),
    [
        (
            "money",
            "We need investment in the community hospital.",
            "The investigation into the deaths",
        ),
        ("money", "The grant funding ends in March.", "The unit at Grantham is closing."),
        ("money", "The trust is flat broke.", "Since the news broke, nobody has slept."),
        (
            "decision-making",
            "The board was secretive about it.",
            "The Health Secretary wrote back.",
        ),
        ("decision-making", "Nobody consulted the town.", "The consultant saw me within a week."),
        ("decision-making", "Who will represent Ealing?", "This represents a third of the budget."),
        ("services", "I waited six weeks for a scan.", "It is a scandal."),
        ("services", "There is no bus to Carlisle.", "Business as usual."),
        ("services", "They are cutting 40 beds.", "A family from Bedford."),
        ("services", "The clinic is moving.", "The clinical commissioners met."),
        ("services", "The walk-in centre closed.", "We will work closely with partners."),
        ("jobs", "Nurses' pensions are at risk.", "Pensioners in Whitby rely on the bus."),
        ("money", "The savings target is £40m.", "Thank you for saving our hospital."),
        (
            "decision-making",
            "Decisions centralised in Leeds leave us no say.",
            "Stroke care will be centralised at one site.",
        ),
        ("decision-making", "Our councillors were never asked.", "Our MP visited the ward today."),
        ("jobs", "The merger means job cuts.", "The reception team do a great job."),
        ("jobs", "Nurses on night shifts are exhausted.", "A shift of care into the community."),
    ],
)
def test_a_phrase_matches_its_sense_not_other_words(theme, meant, other_word):
    phrases = lexicon.LEXICON[theme]
    assert lexicon.matches(normalise(meant), phrases)
    assert not lexicon.matches(normalise(other_word), phrases)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Local GPs opposed the plan.", True),
        ("They never listened to the clinical staff.", True),
        ("GP members signed off the constitution.", True),
        ("The plans were developed by local doctors.", False),  # not a deciding word (round 10)
        ("The doctors said it is significantly worse.", False),
        ("The nurses work on the opposite ward.", False),
        ("The consultant-led unit at Pilgrim must stay.", False),
        ("Doctors and nurses across the board are working flat out.", False),
        ("Medication reviews are done by the pharmacist.", False),
        # Hired advisers are not senior doctors (round 19): their reports, not a board.
        ("Managers commission independent consultants' reports to hide behind.", False),
        ("Why do boards listen to management consultants and not to us?", False),
        ("The consultants asked the board to think again.", True),
    ],
)
def test_clinicians_deciding_needs_a_deciding_word(text, found):
    features = lexicon.LexiconFeatures(None, 1.0, lexicon.default_contexts())
    names = [name for name, *_ in lexicon.default_contexts()]
    sentences = dict(zip(names, features.context_sentences(normalise(text)), strict=True))
    assert bool(sentences["clinicians deciding"]) is found


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        ("This is your chance to have your say on the plans.", "decision-making"),
        ("Residents never had their say before the vote.", "decision-making"),
        ("The merger will mean job losses in the back office.", "jobs"),
        ("The ward shut because of a lack of nurses.", "jobs"),
        ("Millions went on management consultants' fees.", "money"),
    ],
)
def test_phrases_real_comments_use(text, theme):
    assert lexicon.matches(normalise(text), lexicon.LEXICON[theme])
