"""What makes different wordings of one worry meet: ideas, word vectors, and the figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
    assert concepts.TOKENS[int(np.argmax(lean))] == "xaccountable"


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
