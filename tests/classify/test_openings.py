"""The opening detector (openings.py): a first paragraph that only introduces its writer
is not read, one that says something is, and the detector travels with the model file.

The openings here are written for these tests, in shapes and words that are not in
engage/classify/data/openings.csv, so they measure what the detector learnt rather
than what it was given.
"""

from __future__ import annotations

import numpy as np
import pytest

from engage.classify.corpus import HOLDOUT_PATH, load_corpus
from engage.classify.model import ThemeModel, load, save
from engage.classify.openings import build_detector, detector_examples, load_openings
from engage.classify.training import fit_opening_detector

OPENINGS = (
    "I'm a retired school secretary and have lived on the Brookmead estate for thirty "
    "years. My son printed the survey for me.",
    "Our book group at the Hartwell library read through the engagement paper together "
    "last Thursday, and I said I would type up what people said.",
    "Writing as treasurer of the Lowfield Bowls Club, on behalf of the members who came "
    "to our spring meeting.",
    "Hi, I'm Tomasz, I work nights at the bakery on Station Road and I live in Fenby with "
    "my wife and two boys.",
    "I teach at Hollins Primary and am a governor there, but I'm writing as a mum of two "
    "in Ashmead.",
    "I am the vicar of St Aidan's, Norbridge, and several of the congregation asked me to "
    "send on their comments.",
    "I'm 19 and study at the college in Greyford, and I saw this on the council's "
    "Instagram.",
    # groups and offices, whose introductions are full of the themes' words
    "Fenby Town Council's health working group met on 3 June with two of our ward "
    "councillors and agreed the comments that follow.",
    "I am the Unite convenor for the estates team at Norbridge General and our shop "
    "stewards asked me to forward what members said.",
    "Our patient participation group gathered views at two coffee mornings and a board "
    "meeting of the surgery's volunteers; I was asked to collate them.",
    "As an elected governor of the Norbridge foundation trust I am responding in a "
    "personal capacity, having read the engagement booklet twice.",
    "This reply is from the Greyford Healthwatch volunteers' panel, after our monthly "
    "meeting with local residents' groups.",
)


@pytest.fixture(scope="module")
def holdout() -> list[str]:
    texts, _ = load_corpus(HOLDOUT_PATH)
    return texts


def theme_sets(model: ThemeModel, texts: list[str]) -> list[frozenset[str]]:
    return [frozenset(t for t, _ in row) for row in model.predict(texts)]


def changed_share(model: ThemeModel, holdout: list[str]) -> float:
    before = theme_sets(model, holdout)
    changed = 0
    for opening in OPENINGS:
        after = theme_sets(model, [f"{opening}\n\n{t}" for t in holdout])
        changed += sum(a != b for a, b in zip(before, after, strict=True))
    return changed / (len(OPENINGS) * len(holdout))


def without_detector(model: ThemeModel) -> ThemeModel:
    return ThemeModel(model.estimator, model.thresholds, model.metadata, themes=model.themes)


def test_openings_change_fewer_than_two_percent_of_theme_sets(shipped_model, holdout):
    assert shipped_model.opening is not None
    assert changed_share(shipped_model, holdout) < 0.02


def test_the_measure_can_fail_without_the_detector(shipped_model, holdout):
    assert changed_share(without_detector(shipped_model), holdout) > 0.05


@pytest.mark.parametrize(
    "first",
    [
        # the point, in the first person, before more of it
        "I'm a carer for my mum and since the day centre shut I have had no break at all.",
        # a news report's lead, about a hospital, in the third person
        "Retired nurse and parish councillor Ann Rowe has written to the MP to explain "
        "why the community hospital must be kept.",
        # a group that introduces itself by what it fights
        "We are the Save Fenby Maternity campaign and we will not accept the downgrade.",
    ],
)
def test_a_first_paragraph_that_says_something_is_read(shipped_model, first):
    text = f"{first}\n\nPlease think again before the board meets."
    assert shipped_model.read([text]) == [shipped_model.clean(text)]


def test_the_detector_is_saved_and_loaded_with_the_model(shipped_model, tmp_path):
    path = tmp_path / "m.skops"
    save(shipped_model, path)
    loaded = load(path)
    assert loaded.opening is not None
    texts = [f"{o}\n\nThe walk-in centre must stay open." for o in OPENINGS]
    assert loaded.read(texts) == shipped_model.read(texts)
    np.testing.assert_allclose(loaded.predict_proba(texts), shipped_model.predict_proba(texts))


def test_a_model_saved_without_a_detector_loads_and_reads_openings(shipped_model, tmp_path):
    path = tmp_path / "old.skops"
    save(without_detector(shipped_model), path)
    loaded = load(path)
    assert loaded.opening is None
    text = f"{OPENINGS[2]}\n\nThe walk-in centre must stay open."
    assert loaded.read([text]) == [loaded.clean(text)]


def test_no_openings_give_no_detector():
    assert fit_opening_detector(["The ward closes in May.\n\nStaff are leaving."], []) is None


def test_the_shipped_openings_are_read_and_distinct():
    openings = load_openings()
    assert len(openings) >= 200
    assert len(set(openings)) == len(openings)
    assert all(4 <= len(o.split()) <= 60 for o in openings)


def test_training_fits_the_detector_scikit_learn_would():
    openings = load_openings()[:80]
    texts, _ = load_corpus(HOLDOUT_PATH)
    ours = fit_opening_detector(texts, openings)
    theirs = build_detector().fit(*detector_examples(texts, openings))
    probe = list(OPENINGS) + texts[:40]
    np.testing.assert_allclose(
        ours.predict_proba(probe), theirs.predict_proba(probe), rtol=1e-9, atol=1e-12
    )
