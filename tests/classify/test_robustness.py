"""Metamorphic tests: changes that do not change what an item is about must not change
the themes the shipped model gives it.

The model is the one `engage train` makes (the shipped corpus, the default design),
trained once per test session; the items are the holdout, which it never saw. The
wrappers here are written for these tests and are not the ones training uses
(engage/classify/augment.py), so the tests measure generalisation, not recall of the
augmentation.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from engage.classify.corpus import HOLDOUT_PATH, default_corpus_paths, load_corpus
from engage.classify.model import END_PARAGRAPH_FLOOR, ThemeModel

GREETINGS = (
    "Dear Engagement Officer,",
    "Hello NHS team,",
    "Dear Sirs,",
    "Good evening,",
    "Hi there,",
    "Dear Dr Ahmed,",
    "Dear colleagues at the ICB,",
)
CLOSINGS = (
    "I await your reply with interest.",
    "I look forward to a full response.",
    "Thank you for taking the time to read my comments.",
    "Please confirm you have received this email.",
    "I would be grateful for a prompt reply.",
)
SIGNATURES = (
    "Best regards,\nHelen Brookes",
    "Yours sincerely\nP. Nakamura (Mr)",
    "Kind regards\nGeorge\n01632 960 111",
    "Warm regards,\nFiona Kaur\nChair, Friends of the Health Centre",
    "Thanks,\nLiam",
)
FOOTERS = ("Sent from my iPhone", "Sent from my iPad", "Sent from Outlook for iOS")
# What organisations' mail systems add below a message (engage/classify/letter.py).
NOTICES = (
    "This email and any files sent with it are confidential and intended only for the "
    "named recipient. If you have received it in error, please delete it.",
    "Northway Patients' Association is a registered charity, number 1100234.",
    "I am out of the office until Tuesday with limited access to email.",
    "EXTERNAL EMAIL: do not click links unless you recognise the sender.",
    "Save paper - only print this email if you really need to.",
    "Follow us on Facebook for news of our next open meeting.",
)
# Who is writing and why, before anything is said; and housekeeping after it.
INTRODUCTIONS = (
    "Good morning,\n\nI hope this finds you well.",
    "Dear colleagues,\n\nI am writing on behalf of the residents' association at "
    "Brookfield, as our committee agreed last month.",
    "Hello,\n\nMy name is Ade and I have lived on the Parkside estate for twelve years.",
    "To whom it may concern,\n\nI am responding in a personal capacity.",
)
# Openings that name the writer's role, body and the papers they answer, with the words
# every theme is set in (a committee, staff, a hospital, the consultation), and closing
# paragraphs about the letter's copies and uses: by the guide, none of it is raised.
ROLE_INTRODUCTIONS = (
    "Dear engagement team,\n\nI write as secretary of the local medical committee, which "
    "discussed your consultation document at its meeting last week and asked me to reply "
    "on its behalf.",
    "Hello,\n\nI'm a physiotherapist at the district hospital and a union member, but I "
    "am writing as a local resident, not for my employer.",
    "Good morning.\n\nI chair the staff side of the joint negotiating committee. This "
    "response has been agreed by the branch secretaries of the recognised unions.",
    "Dear Sir or Madam,\n\nI look after my mother, who is 86, and picked up your booklet "
    "at the library. My neighbour is typing this for me.",
)
CLOSING_PARAGRAPHS = (
    "A copy of this email goes to our MP and to the chair of the health scrutiny "
    "committee for their information.",
    "I hope this is useful. Please feel free to share it with colleagues on the board.",
    "I should be grateful if you would add me to the mailing list for updates on the "
    "engagement programme.",
    "I am away from my desk next week but will reply to any messages on my return. "
    "Thank you for your patience.",
)
# Round 18: greetings addressed at length or to a desk, sign-offs joined with "&", and
# closing paragraphs that offer help or pass the letter on; a theme's words stand in
# each (a scrutiny panel, a clinical lead, a primary care network, members).
ADDRESSED = (
    "Dear Councillor Osei and the other members of the Adult Social Care Scrutiny Panel,",
    "FAO: Engagement Lead, Riverside ICB, 2 Mill Lane, Oakbridge OB1 4RT\n\nDear Sir or Madam,",
    "To the team collecting the survey",
    "Consultation team -",
)
JOINED_SIGN_OFFS = (
    "Many thanks & kind regards,\nDr Priya Nair\nClinical Lead, Westside Primary Care Network",
    "Thanks and best wishes\nOwen Lloyd\nBranch chair, Unison community health",
)
OFFERS = (
    "Our residents' group would be more than happy to host a drop-in session in our hall "
    "if that helps.",
    "That's everything from me for now. Take care.",
    "I would be most grateful if this could be passed to whoever is collating the responses.",
    "I've shared the survey link with our members as well, so you should hear from a few of them.",
)
HOUSEKEEPING = (
    "Sorry for the long email, I'm not much of a typist.",
    "Please could you confirm receipt and send me a reference number.",
    "I have copied in my ward councillor for information.",
    "Please keep me informed of the outcome.",
    "Thanks again for reading this.\n\nBest wishes,\nNoreen",
)
PLACES = (
    "Harrow",
    "Brent",
    "Ealing",
    "Hounslow",
    "Hillingdon",
    "Newham",
    "Redbridge",
    "Havering",
    "Hackney",
    "Camden",
    "Croydon",
    "Sutton",
    "Merton",
    "Bexley",
    "Luton",
    "Bedford",
    "Leeds",
    "Bradford",
    "Wakefield",
    "Doncaster",
    "Stockport",
    "Wigan",
    "Bolton",
    "Shropshire",
    "Telford",
    "Dudley",
    "Walsall",
    "Cornwall",
    "Devon",
    "Kent",
)
PLACE_RE = re.compile(r"\b(" + "|".join(PLACES) + r")\b")


def theme_sets(model: ThemeModel, texts: list[str]) -> list[frozenset[str]]:
    return [frozenset(t for t, _ in row) for row in model.predict(texts)]


@pytest.fixture(scope="module")
def holdout() -> list[str]:
    texts, _ = load_corpus(HOLDOUT_PATH)
    return texts


def changed_share(model, before: list[str], after: list[str]) -> float:
    a, b = theme_sets(model, before), theme_sets(model, after)
    return sum(x != y for x, y in zip(a, b, strict=True)) / len(a)


@pytest.mark.parametrize(
    "wrapper",
    [
        "greeting",
        "closing",
        "signature",
        "footer",
        "greeting+closing",
        "everything",
        "notice",
        "introduction",
        "housekeeping",
        "role introduction",
        "closing paragraph",
        "addressed greeting",
        "joined sign-off",
        "offer",
    ],
)
def test_email_wrappers_change_fewer_than_two_percent(shipped_model, holdout, wrapper):
    rng = random.Random(7)

    def wrap(text: str) -> str:
        parts = {
            "greeting": f"{rng.choice(GREETINGS)}{rng.choice((' ', chr(10)))}{text}",
            "closing": f"{text} {rng.choice(CLOSINGS)}",
            "signature": f"{text}\n\n{rng.choice(SIGNATURES)}",
            "footer": f"{text}\n\n{rng.choice(FOOTERS)}",
            "greeting+closing": f"{rng.choice(GREETINGS)} {text} {rng.choice(CLOSINGS)}",
            "everything": (
                f"{rng.choice(GREETINGS)}\n\n{text}\n\n{rng.choice(CLOSINGS)}\n\n"
                f"{rng.choice(SIGNATURES)}\n\n{rng.choice(FOOTERS)}"
            ),
            "notice": f"{text}\n\n{rng.choice(NOTICES)}",
            "introduction": f"{rng.choice(INTRODUCTIONS)}\n\n{text}",
            "housekeeping": f"{text}\n\n{rng.choice(HOUSEKEEPING)}",
            "role introduction": f"{rng.choice(ROLE_INTRODUCTIONS)}\n\n{text}",
            "closing paragraph": f"{text}\n\n{rng.choice(CLOSING_PARAGRAPHS)}",
            "addressed greeting": f"{rng.choice(ADDRESSED)}\n\n{text}",
            "joined sign-off": f"{text}\n\n{rng.choice(JOINED_SIGN_OFFS)}",
            "offer": f"{text}\n\n{rng.choice(OFFERS)}",
        }
        return parts[wrapper]

    wrapped = [wrap(t) for t in holdout]
    assert wrapped != holdout
    assert changed_share(shipped_model, holdout, wrapped) < 0.02


def test_the_issue_example_keeps_its_theme_inside_an_email(shipped_model):
    bare = "The Long Term Plan money must reach Barking and Dagenham, which has the greatest need."
    email = f"Dear engagement team, {bare} I look forward to your response."
    assert "money" in theme_sets(shipped_model, [bare])[0]
    assert theme_sets(shipped_model, [email]) == theme_sets(shipped_model, [bare])


@pytest.mark.parametrize("change", [str.lower, str.upper, str.title])
def test_changing_case_keeps_at_least_95_percent(shipped_model, holdout, change):
    assert changed_share(shipped_model, holdout, [change(t) for t in holdout]) <= 0.05


def test_swapping_a_place_keeps_at_least_95_percent(shipped_model):
    texts, _ = load_corpus(default_corpus_paths())
    with_place = [t for t in texts if PLACE_RE.search(t)]
    assert len(with_place) >= 100  # enough items for 5% to mean something
    rng = random.Random(3)

    def swap(text: str) -> str:
        return PLACE_RE.sub(
            lambda m: rng.choice([p for p in PLACES if p != m.group(0)]), text, count=1
        )

    swapped = [swap(t) for t in with_place]
    assert all(a != b for a, b in zip(with_place, swapped, strict=True))
    assert changed_share(shipped_model, with_place, swapped) <= 0.05


def typo(word: str, rng: random.Random) -> str:
    """One slip of the keyboard: two inner letters swapped, one dropped or doubled."""
    i = rng.randrange(1, len(word) - 2)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def test_a_typo_in_one_word_of_ten_keeps_at_least_95_percent(shipped_model, holdout):
    rng = random.Random(11)

    def misspell(text: str) -> str:
        words = text.split(" ")
        long_ones = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        for i in rng.sample(long_ones, k=min(len(long_ones), max(1, len(words) // 10))):
            words[i] = typo(words[i], rng)
        return " ".join(words)

    misspelt = [misspell(t) for t in holdout]
    assert sum(a != b for a, b in zip(holdout, misspelt, strict=True)) > 0.8 * len(holdout)
    assert changed_share(shipped_model, holdout, misspelt) <= 0.05


def test_the_measure_can_fail(shipped_model, holdout):
    # The same measure sees a real change: each item's text swapped for another's.
    shuffled = list(np.random.default_rng(0).permutation(holdout))
    assert changed_share(shipped_model, holdout, shuffled) > 0.3


# Round 18: an end paragraph the model, reading it alone, gives no theme is wrapping
# (ThemeModel.read); one that raises something, or a text that is all such paragraphs,
# is read whole.
POINT = "The maternity unit at Andover must stay open, the drive to Winchester is too far."
ASIDE = "Our choir meets on Tuesdays in the church hall."


def test_a_quiet_paragraph_at_either_end_is_not_read(shipped_model):
    assert shipped_model.predict_proba([ASIDE]).max() < END_PARAGRAPH_FLOOR
    bare = shipped_model.read([POINT])
    assert shipped_model.read([f"{POINT}\n\n{ASIDE}"]) == bare
    assert shipped_model.read([f"{ASIDE}\n\n{POINT}"]) == bare
    assert shipped_model.read([f"{ASIDE}\n\n{POINT}\n\n{ASIDE}"]) == bare
    np.testing.assert_array_equal(
        shipped_model.predict_proba([f"{ASIDE}\n\n{POINT}"]), shipped_model.predict_proba([POINT])
    )
    reasons = [w for w, _ in shipped_model.explain(f"{POINT}\n\n{ASIDE}", "services", top=20)]
    assert reasons and not {"choir", "church", "hall", "tuesdays"} & set(reasons)


def test_an_end_paragraph_that_raises_something_is_read(shipped_model):
    text = "The maternity unit at Andover must stay open.\n\nAnd the nurses are leaving in droves."
    assert shipped_model.read([text]) == [shipped_model.clean(text)]
    assert "jobs" in theme_sets(shipped_model, [text])[0]


def test_a_text_of_quiet_paragraphs_is_read_whole(shipped_model):
    text = (
        "We moved here from Leeds in 1998 and love the town.\n\n"
        "The Brookside Allotment Society wishes you all a peaceful new year."
    )
    assert shipped_model.read([text]) == [shipped_model.clean(text)]


def test_texts_are_read_alike_alone_and_in_a_batch(shipped_model):
    texts = [f"{POINT}\n\n{ASIDE}", POINT, "And the nurses are leaving.\n\nSee you soon."]
    assert shipped_model.read(texts) == [shipped_model.read([t])[0] for t in texts]
