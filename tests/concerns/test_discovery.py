"""Grouping into concerns without the database: stable, campaign-proof, labelled."""

from __future__ import annotations

import re

from engage import caching
from engage.concerns import concepts, discovery
from engage.concerns import text as textmod
from engage.concerns.drafting import (
    central_statement,
    draft_line,
    impersonal,
    label_from,
    open_question,
    stated_worry,
)
from tests.concerns.conftest import evaluation_rows

_FIRST = re.compile(r"\b(?:I|me|my|we|our|us)\b")


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
    assert said == "money will leave your borough for good."
    template = draft_line(["deficits", "debts"], ["Deficits and debts."])
    quoted = "\u201cdeficits\u201d and \u201cdebts\u201d"
    assert template == f"the changes will affect {quoted}."
    # Phrases of several words first, none sharing a word with one already named.
    phrases = ["access in redbridge", "gp access", "known", "waits for a gp"]
    assert draft_line(phrases, []) == (
        "the changes will affect \u201caccess in redbridge\u201d and \u201cwaits for a gp\u201d."
    )
    assert draft_line(["asked", "pcn clinical director"], []) == (
        "the changes will affect \u201cpcn clinical director\u201d."
    )
    # A worry told in the first person is not the public's words: it is not made into
    # "you will lose your job" but quoted as one person's words.
    assert draft_line(["jobs"], ["I fear that I will lose my job."]) == (
        "\u201cI fear that I will lose my job\u201d."
    )


def test_a_draft_another_concern_already_has_gives_way_to_the_next_choice():
    texts = ["The maternity unit at Hartlepool is closing and births move to Stockton."]
    first = draft_line(["maternity unit"], texts, idea="xclosure")
    assert first == concepts.SAYS["xclosure"] + "."
    second = draft_line(["maternity unit"], texts, idea="xclosure", taken={first})
    assert second != first and second.strip()
    # with every choice taken, the first is still given rather than nothing
    every = {first, second, "the changes will affect \u201cmaternity unit\u201d."}
    assert draft_line(["maternity unit"], texts, idea="xclosure", taken=every) == first


def test_with_no_stated_worry_or_idea_the_draft_says_what_a_central_item_says():
    texts = [
        "Dear engagement team, where will the hubs go? Our hospital hubs were promised in "
        "2015 and never came. Regards, A resident",
    ]
    assert draft_line(["hospital hubs", "promised"], texts) == (
        "your hospital hubs were promised in 2015 and never came."
    )
    # One person's story is quoted as written, not turned into the public's "you".
    story = ["GP access in Redbridge is the worst I have known it."]
    assert draft_line(["gp access"], story) == (
        "\u201cGP access in Redbridge is the worst I have known it\u201d."
    )
    # Only questions, greetings and sign-offs: the phrases' sentence, as before.
    assert draft_line(["hubs"], ["Where are the hubs? Thank you."]).startswith("the changes")
    assert central_statement("Hello, why? Thanks.", ["why"]) is None


def test_draft_reads_as_a_plain_sentence_after_you_told_us():
    # "worried <clause>" without "that", "my fear is that", and "we" said to the reader.
    assert stated_worry("I'm worried the money for Brent will be spent elsewhere.") == (
        "the money for Brent will be spent elsewhere."
    )
    assert stated_worry("My fear is that our walk-in centre closes, and we lose it") == (
        "your walk-in centre closes, and you lose it."
    )
    assert stated_worry("Concerned that GPs will have no say!") == "GPs will have no say."
    assert stated_worry("No worry stated here.") is None
    # The main idea's sentence when nobody stated it in words that name the idea.
    line = draft_line(["posts"], ["We fear that the weather will turn."], "xredundancy")
    assert line == "staff will lose their jobs."
    assert draft_line(["posts"], ["Worried that staff will lose jobs."], "xredundancy") == (
        "staff will lose jobs."
    )


def test_every_idea_has_a_sentence_that_reads_after_that():
    assert set(concepts.SAYS) == set(concepts.TOKENS)
    for token, clause in concepts.SAYS.items():
        assert clause[0].islower() or clause.startswith("GP"), token
        assert not clause.endswith((".", ",")), token
        assert not _FIRST.search(clause), token


def test_a_label_is_its_phrases_else_its_main_ideas_sentence():
    assert label_from(["fair share", "allocation", "pooled", "pot"]) == (
        "fair share, allocation, pooled"
    )
    assert label_from(["posts", "jobs"], "xredundancy") == "posts, jobs"
    assert label_from(["managed"], "xredundancy") == "Staff will lose their jobs"
    assert label_from([], "xredundancy") == "Staff will lose their jobs"
    assert label_from(["managed"]) == "managed"
    assert label_from([]) == "Other feedback"


def test_the_main_idea_is_named_by_enough_of_the_concerns_people():
    texts = ["Staff will lose their jobs.", "Redundancies are coming.", "Parking is awful."]
    assert concepts.main_idea(texts) == "xredundancy"
    assert concepts.main_idea(["Redundancies are coming.", "Thanks.", "Hello.", "Fine."]) is None
    assert concepts.main_idea([]) is None


def test_the_main_idea_is_of_the_concerns_own_theme_when_one_qualifies():
    texts = [
        "The hospital will close and the money will be spent somewhere else.",
        "Closing the unit so the budget can go to other boroughs.",
        "They will shut the ward; our share of the funding goes elsewhere.",
    ]
    assert {concepts.THEME_OF[t] for t in ("xclosure", "xfairshare")} == {"services", "money"}
    assert concepts.main_idea(texts, "money") == "xfairshare"
    assert concepts.main_idea(texts, "services") == "xclosure"
    # No money idea qualifies: no idea of another theme speaks for a money concern (a
    # money concern worded "hospital services will close" reads wrong under Money).
    closures = ["The hospital will close.", "They will shut the ward.", "Closure of A&E."]
    assert concepts.main_idea(closures, "money") is None
    assert concepts.main_idea(closures, "services") == "xclosure"
    assert concepts.main_idea(closures) == "xclosure"
    assert all(concepts.THEME_OF[t] for t in concepts.TOKENS)


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


def test_an_ideas_word_in_another_sense_does_not_name_it():
    # "close", "save our", "book", "meeting" and "train" each have a sense that is not
    # the idea's; the other sense often names another idea instead.
    assert "xclosure" not in concepts.ideas("I want my care close to home.")
    assert "xtravel" in concepts.ideas("I want my care close to home.")
    assert concepts.ideas("Save our CCG!") == ["xlocalvoice"]
    assert concepts.ideas("Our practice is closing its list to new patients.") == ["xgpaccess"]
    assert "xgpaccess" not in concepts.ideas("The booklet was impossible to read.")
    assert "xgptime" not in concepts.ideas("Nobody answered us at the public meeting.")
    assert "xcareers" not in concepts.ideas("It is two hours on the train to Truro.")
    assert "xaccountable" not in concepts.ideas("Staff read about it in the local paper.")
    # The idea's own sense still counts, beside another sense or alone.
    assert "xclosure" in concepts.ideas("They will close the A&E.")
    assert "xclosure" in concepts.ideas("Close to home there was a ward; now it is closing.")
    assert "xgptime" in concepts.ideas("GPs are stuck in meetings instead of surgeries.")


def test_a_request_is_not_a_statement_of_worry():
    texts = ["Please publish the equality impact assessment. The hub has never opened."]
    assert central_statement(texts[0], ["impact assessment"]) == "the hub has never opened."
    assert central_statement("Please publish the assessment.", ["assessment"]) is None


def test_a_draft_never_uses_a_sentence_with_personal_data_removed_or_about_the_writer():
    assert (
        impersonal(
            "My name is [name removed]. Our walk-in centre will close. I am 80. "
            "Call [phone number removed] about the bus."
        )
        == "Our walk-in centre will close."
    )
    assert stated_worry("We fear that [name removed] will lose the clinic.") is None
    assert central_statement("[name removed] runs the surgery well enough.", ["surgery"]) is None


def test_a_drafts_first_word_keeps_its_capital_only_when_it_is_a_name():
    assert central_statement("Management cost cuts will mean redundancies.", []) == (
        "management cost cuts will mean redundancies."
    )
    assert central_statement("Havering will be drowned out by bigger boroughs.", []) == (
        "Havering will be drowned out by bigger boroughs."
    )
    assert central_statement("GPs will lose their say on the board.", []) == (
        "GPs will lose their say on the board."
    )
    assert stated_worry("We worry that Staff will be lost to the merger") == (
        "staff will be lost to the merger."
    )


def test_a_question_is_given_back_as_what_is_not_clear():
    assert open_question("Who decides where the new diagnostic centre goes? Thanks.") == (
        "it is not clear who decides where the new diagnostic centre goes."
    )
    assert open_question("Why are they closing our unit?") == (
        "it is not clear why they are closing your unit."
    )
    assert open_question("Why do they want to close it?") == (
        "it is not clear why they want to close it."
    )
    # Questions whose order cannot be put back safely, or about the writer, are not used.
    assert open_question("Where will the hubs go?") is None
    assert open_question("How can I get to Truro from here?") is None
    assert open_question("The hub never opened.") is None
    # A call to act is not a statement of worry either.
    assert central_statement("Keep decisions about Brent in Brent.", ["brent"]) is None


def test_a_draft_falls_back_on_questions_then_the_idea_people_lean_to():
    asked = ["Who decides where the new diagnostic centre goes?"]
    assert draft_line(["diagnostic centre"], asked) == (
        "it is not clear who decides where the new diagnostic centre goes."
    )
    # Nothing quotable says it: the idea fewer people name words it, not the phrases.
    assert draft_line(["ics board"], [], None, "xgpvoice") == (
        "local GPs will lose their say in decisions."
    )
    assert draft_line(["ics board"], []).startswith("the changes will affect")
    texts = ["The voice of local GPs matters.", "Family doctors built this."] + ["Fine."] * 6
    assert concepts.main_idea(texts, "clinical-leadership") is None
    leaning = concepts.main_idea(texts, "clinical-leadership", concepts.LEANING_SHARE)
    assert leaning == "xgpvoice"


def test_a_channels_label_at_the_start_is_set_aside():
    said = "will Brent's share of the money move to Harrow?"
    for label in ("Survey:", "Survey answer -", "Question from the floor:", "Tweet:", "Q:"):
        assert textmod.without_channel(f"{label} {said}") == said, label
    for label in ("Re:", "Re: Fwd:", "Email:"):
        assert textmod.without_channel(f"{label} {said}") == said, label
    # Who spoke, or where, stays beside what they said; a draft quotes neither.
    for label, who in (
        ("Survey (staff):", "staff: "),
        ("Meeting note, Brent GP forum:", "Brent GP forum: "),
        ("Q from the floor (Wembley):", "Wembley: "),
        ("Email to the CCG:", "to the CCG: "),
    ):
        assert textmod.without_channel(f"{label} {said}") == who + said, label
        assert textmod.without_channel(f"{label} {said}", keep_who=False) == said, label
    # Not a channel: what people said, or who said it, stays.
    for kept in (
        "Meetings in private: nobody can see how decisions are made.",
        "Meeting the targets - that is all the board cares about.",
        "Promise: invest in community services. Reality: cuts.",
        "Unison rep: our members want assurance.",
        "Survey:",
        "Nothing to set aside here.",
    ):
        assert textmod.without_channel(kept) == kept


def test_a_channels_label_names_no_idea_and_adds_no_words():
    said = "they only heard about the consultation after it closed"
    for label in ("Meeting note:", "Survey:", "Tweet:"):
        text = f"{label} {said}"
        assert concepts.ideas(text) == concepts.ideas(said)
        assert textmod.stems(text) == textmod.stems(said)
        assert textmod.phrases(text) == textmod.phrases(said)
    assert not draft_line([], ["Survey: Staff will lose their jobs."]).startswith("Survey")
