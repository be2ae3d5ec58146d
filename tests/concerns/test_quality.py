"""What makes different wordings of one worry meet: ideas, word vectors, and the figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engage.concerns import concepts, discovery, evaluate
from engage.concerns.wordvectors import WordVectors

DATA = Path(discovery.__file__).parent / "data"


def test_one_idea_named_in_different_words_gives_one_token():
    for texts, token in [
        (["Staff will lose their jobs.", "How many redundancies?", "Posts at risk"], "xredundancy"),
        (["The CCG is in the red.", "Who pays the deficit?", "They overspent."], "xdeficit"),
        (["Too much jargon.", "I couldn't follow the booklet.", "Use plain English"], "xplain"),
    ]:
        assert all(token in concepts.ideas(text) for text in texts), token


def test_ideas_match_whole_words_curly_apostrophes_and_word_starts():
    assert "xprivate" in concepts.ideas("No to PRIVATISATION")  # privatis* in any case
    assert "xrecruit" not in concepts.ideas("We retrained the dog")  # whole words only
    assert "xredundancy" in concepts.ideas("They\u2019ll lose their jobs")
    assert concepts.ideas("") == []


def test_word_vectors_are_the_same_on_every_fit_and_put_related_words_close():
    corpus = discovery.seed_corpus()
    first, second = WordVectors(corpus), WordVectors(corpus)
    assert np.array_equal(first.vectors_of_stems, second.vectors_of_stems)
    texts = ["staff redundancies", "jobs will go", "the bus journey to hospital"]
    v = first.of_stems([discovery.textmod.stems(t) for t in texts])
    assert v[0] @ v[1] > v[0] @ v[2]
    assert first.of_stems(["zzzz"]).sum() == 0, "no known word: a row of zeros"


def test_space_joins_lsa_ideas_and_word_vectors_in_unit_vectors():
    space = discovery.space()
    vectors = space.vectors(["Staff will lose their jobs.", ""])
    assert vectors.shape == (2, space.dimensions)
    assert abs(float(np.linalg.norm(vectors[0])) - 1) < 1e-5
    assert float(np.abs(vectors[1]).sum()) == 0


def test_a_texts_words_lean_towards_the_idea_they_speak_of():
    space = discovery.space()
    assert space.idea_vectors.shape == (len(concepts.TOKENS), space.word_vectors.dimensions)
    words = space.word_vectors.of_stems([discovery.textmod.stems("The board meets in secret")])
    lean = words[0] @ space.idea_vectors.T
    # Meetings held in secret are the idea of decisions taken out of sight (wave 9 split
    # it from who answers to the public).
    assert concepts.TOKENS[int(np.argmax(lean))] == "xopen"


def test_grouping_reaches_the_target_on_both_labelled_sets():
    # The target is ARI >= 0.6 on wording the method was not built beside; these floors
    # keep what docs/concerns.md reports from slipping unnoticed.
    for name, floor in (("evaluation.csv", 0.75), ("heldout.csv", 0.6)):
        result = evaluate.score(evaluate.load(str(DATA / name)))
        assert result["chosen_k_ari_mean"] >= floor, (name, result["chosen_k_ari_mean"])


def test_a_new_corpus_part_leaves_the_space_unchanged(tmp_path, monkeypatch):
    # The classifier's corpus grows; the concerns' space must not move with it.
    texts = ["Staff will lose their jobs.", "The car park charges are too high."]
    before = discovery.space().vectors(texts)  # fitted on the shipped folder
    source = discovery.corpus_folder()
    for name in discovery.SPACE_PARTS:
        (tmp_path / name).write_bytes(source.joinpath(name).read_bytes())
    (tmp_path / "part_99.csv").write_text(
        "text,theme\n"
        + "".join(f'"Redundancies and car parking, a new part {n}",jobs\n' for n in range(300)),
        encoding="utf-8",
    )
    monkeypatch.setattr(discovery, "corpus_folder", lambda: tmp_path)
    corpus = discovery.seed_corpus()
    assert corpus and not any("a new part" in text for text in corpus)
    assert np.array_equal(discovery.Space(corpus).vectors(texts), before)


def test_every_part_the_space_names_ships_with_the_code():
    folder = discovery.corpus_folder()
    assert all(folder.joinpath(name).is_file() for name in discovery.SPACE_PARTS)
    assert len(discovery.SPACE_PARTS) == 27 and "part_27.csv" not in discovery.SPACE_PARTS


def _together(texts: list[str], *, k: int | None = None) -> list[int]:
    """Each text's concern index when ``texts`` are grouped as one theme."""
    found = discovery.discover([discovery.Entry(i, t) for i, t in enumerate(texts)], k=k)
    where = {key: n for n, concern in enumerate(found.concerns) for key in concern.keys}
    return [where[i] for i in range(len(texts))]


# Wave 9: a concern is what one "What we are doing" answers. An A&E and a maternity unit
# are different services with different plans; a consultation decided already and one
# too short get different answers. Each pair of four texts makes two concerns.
EMERGENCY = [
    "Please keep the A&E at our hospital open around the clock.",
    "Turning the emergency department into an urgent care centre is a downgrade.",
    "Where will people go in an emergency if casualty closes at night?",
    "Do not downgrade our accident and emergency department.",
]
BIRTHS = [
    "Keep the maternity unit open so women can give birth locally.",
    "If the birth centre closes, mothers in labour face a long journey.",
    "Our midwife-led unit must not be moved to the city.",
    "Pregnant women need a maternity service in this town.",
]
DECIDED = [
    "The decision has already been made; this consultation is a box ticking exercise.",
    "It is a done deal and you will not listen to what we say.",
    "Going through the motions: nothing changed last time we answered.",
    "This is a sham listening exercise with the outcome already agreed.",
]
TOO_SHORT = [
    "Six weeks over the summer holidays is far too short to respond.",
    "Please extend the deadline so community groups have more time.",
    "The timetable is rushed; slow down and give people time to reply.",
    "A closing date just after Christmas leaves too little time.",
]


@pytest.mark.parametrize(
    ("first", "second"),
    [(EMERGENCY, BIRTHS), (DECIDED, TOO_SHORT)],
    ids=["ae-and-maternity", "decided-and-too-short"],
)
def test_what_needs_a_different_answer_is_a_different_concern(first, second):
    where = _together(first + second)
    assert len(set(where[:4])) == 1 and len(set(where[4:])) == 1
    assert where[0] != where[4]


def test_finer_ideas_name_the_service_or_the_step_of_the_consultation():
    assert {"xclosure", "xae"} <= set(concepts.ideas("They will close the A&E at night."))
    assert "xmaternity" in concepts.ideas("Keep the maternity unit open.")
    assert "xae" not in concepts.ideas("Keep the maternity unit open.")
    assert "xdonedeal" in concepts.ideas("It has already been decided.")
    assert "xrushed" in concepts.ideas("Please extend the deadline.")
    assert "xreach" in concepts.ideas("The survey was online only.")
    assert "xopen" in concepts.ideas("The board meets behind closed doors.")
    assert "xaccountable" in concepts.ideas("Nobody elected them and we cannot vote them out.")
    assert "xconflict" in concepts.ideas(
        "GPs buying services from their own practices is a conflict of interest."
    )
    assert "xpromised" in concepts.ideas("The investment we were promised never arrived.")
