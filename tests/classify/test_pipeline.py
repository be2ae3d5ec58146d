"""Tests for the pure scikit-learn theme classifier: engage.classify.corpus, designs,
model, training, vectorise and storage."""

from __future__ import annotations

import re
import zipfile

import numpy as np
import pytest
import skops.io as sio
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from engage.classify import storage
from engage.classify.corpus import THEMES, load_corpus, training_hash
from engage.classify.designs import BEST_DESIGN, DESIGNS, build_pipeline
from engage.classify.keywords import KeywordBaseline
from engage.classify.model import FORMAT, ThemeModel, _vocabularies_apart, load, save
from engage.classify.storage import UntrustedModelError
from engage.classify.text import normalise
from engage.classify.training import THRESHOLD_RANGE, choose_thresholds, evaluate, train
from engage.classify.vectorise import FastVectoriser

from .corpus import ITEMS

TEXTS = [t for t, _ in ITEMS]
Y = np.array([[int(s in themes.split(";")) for s in THEMES] for _, themes in ITEMS])

# Sentences not in the training corpus, with clear cues.
UNSEEN = [
    ("The deficit means the budget for next year will be cut again.", "money"),
    ("Will the new board hold its meetings in public?", "decision-making"),
    ("Local GPs should keep a clinical leadership role on the board.", "clinical-leadership"),
    ("My GP appointment waiting time is already four weeks.", "services"),
    ("How many staff redundancies are planned?", "jobs"),
    ("Website link broken.", ""),
]


def _matrix(labels: list[str]) -> np.ndarray:
    return np.array([[int(s in lab.split(";")) for s in THEMES] for lab in labels])


@pytest.fixture(scope="module")
def model() -> ThemeModel:
    return train(TEXTS, Y, cv_folds=3, random_state=0)


class FixedProba:
    """A stand-in estimator returning the same probabilities for every text."""

    def __init__(self, row):
        self.row = np.asarray(row, dtype=float)

    def predict_proba(self, texts):
        return np.tile(self.row, (len(texts), 1))


# ------------------------------------------------------------------------ corpus


def test_load_corpus_reads_multi_and_empty_labels(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text('text,themes\n"Budgets, and jobs",money;jobs\nWebsite broken,\n', encoding="utf-8")
    texts, y = load_corpus(f)
    assert texts == ["Budgets, and jobs", "Website broken"]
    assert y.tolist() == [[1, 0, 0, 0, 1], [0, 0, 0, 0, 0]]


def test_load_corpus_concatenates_parts(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("text,themes\nOne,services\n", encoding="utf-8")
    b.write_text("text,themes\nTwo,decision-making\n", encoding="utf-8")
    texts, y = load_corpus([a, b])
    assert texts == ["One", "Two"]
    assert y[:, THEMES.index("decision-making")].tolist() == [0, 1]


def test_load_corpus_rejects_unknown_slug_naming_the_row(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("text,themes\nfine,money\nnot fine,money;parking\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"row 2.*parking"):
        load_corpus(f)


def test_load_corpus_rejects_missing_column(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("body,labels\nx,money\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing column"):
        load_corpus(f)


# ---------------------------------------------------------------- normalisation

EMAIL = """Dear Sir/Madam,

Will the walk-in centre close?

Kind regards,
Jane Smith
Harrow resident

On Tue, 4 Jun 2019 at 10:02, Engagement Team <engage@nhs.net>
wrote:
> Thank you for your email about staff redundancies and budgets.
> We will reply soon.
"""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (EMAIL, "Will the walk-in centre close?"),
        ("Budgets matter.\n> quoted redundancies\nAnd services.", "Budgets matter.\nAnd services."),
        ("Short reply\n-----Original Message-----\nFrom: X\nSent: today\nmoney", "Short reply"),
        (
            "My view\n________________________________\nFrom: T <a@b.org>\nSent: 1 June\nTo: me",
            "My view",
        ),
        (
            "My view\nFrom: Team <a@b.org>\nSent: 1 June 2019 10:00\nTo: me\nSubject: jobs",
            "My view",
        ),
        ("My GP is great\n\nSent from my iPhone", "My GP is great"),
        ("Who decides?\n-- \nJohn Smith\nCouncillor, Budget Committee", "Who decides?"),
        ("Keep A&E open. Kind regards, Jane Smith", "Keep A&E open."),
        ("Keep A&E open.\nBest,\nJo", "Keep A&E open."),
        (
            "Keep A&E open.\n\nThanks\n\nThis email and any attachments are confidential.",
            "Keep A&E open.",
        ),
        ("", ""),
    ],
)
def test_normalise_strips_quotes_and_signatures(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "On balance the merger is fine.\nOn the other hand staff morale is low.",
        "Best practice says clinicians lead.\nBest wishes to the nurses, but who decides?",
        "Thanks for explaining the budget.\nRegards to your team for the effort, not the plan.",
        "Hi I want the walk-in centre kept open please",
        "I wrote: to the CCG many times.\nFrom: what I hear, posts will go.",
        "Kind regards",  # a sign-off with nothing above it is all there is
    ],
)
def test_normalise_keeps_ordinary_lines(raw):
    assert normalise(raw) == raw


def test_normalise_drops_addresses():
    assert normalise("see www.example.org/x or a.b@c.org now") == "see or now"


@given(st.text(alphabet=st.sampled_from(list("ab >-\nOnwrote:Kindregards,")), max_size=80))
def test_normalise_never_keeps_a_quoted_line(raw):
    out = normalise(raw)
    assert not any(line.startswith(">") for line in out.split("\n"))


# --------------------------------------------------------------------- training


def test_train_evaluate_round_trip(model):
    on_train = evaluate(model, TEXTS, Y)
    assert on_train["macro_f1"] > 0.9
    unseen = evaluate(model, [t for t, _ in UNSEEN], _matrix([lab for _, lab in UNSEEN]))
    assert unseen["micro_f1"] >= 0.6
    assert unseen["n"] == len(UNSEEN)


def test_metadata_records_training(model):
    md = model.metadata
    assert md["design"] == BEST_DESIGN
    assert md["n_train"] == len(TEXTS)
    assert md["training_sha256"] == training_hash(TEXTS, Y)
    assert training_hash(TEXTS[::-1], Y[::-1]) == md["training_sha256"]
    assert training_hash(TEXTS, np.roll(Y, 1, axis=0)) != md["training_sha256"]
    assert list(md["thresholds"]) == list(THEMES)
    assert np.allclose(list(md["thresholds"].values()), model.thresholds)
    assert all(0.2 <= t <= 0.8 for t in model.thresholds)
    assert set(md["cv"]["per_theme"]) == set(THEMES)
    assert {"precision", "recall", "f1", "support"} == set(md["cv"]["per_theme"]["jobs"])
    assert md["cv"]["per_theme"]["jobs"]["support"] == int(Y[:, 4].sum())
    assert 0 < md["cv"]["macro_f1"] <= 1 and 0 < md["cv"]["micro_f1"] <= 1
    assert re.fullmatch(r"\d+\.\d+.*", md["sklearn_version"])
    assert re.match(r"\d{4}-\d\d-\d\dT", md["trained_at"])


def test_train_rejects_bad_labels():
    with pytest.raises(ValueError, match="at least 3"):
        train(TEXTS, np.c_[Y[:, :4], np.zeros(len(Y), dtype=int)], cv_folds=3)
    with pytest.raises(ValueError, match="shape"):
        train(TEXTS, Y[:-1], cv_folds=3)


def test_build_pipeline_rejects_unknowns():
    with pytest.raises(ValueError, match="unknown design"):
        build_pipeline("bert")
    with pytest.raises(ValueError, match="unknown parameter"):
        build_pipeline("lr_word_char", gamma=1)


def test_choose_thresholds_maximises_f1_and_clips():
    y = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 1]])
    p = np.array([[0.60, 0.15, 0.95], [0.55, 0.05, 0.85], [0.30, 0.01, 0.82], [0.10, 0.02, 0.90]])
    t = choose_thresholds(y, p)
    assert 0.30 < t[0] <= 0.55  # any cut in (0.30, 0.55] is perfect
    assert t[1] == THRESHOLD_RANGE[0]  # the best cut (0.06..0.15) is below the floor
    assert t[2] == THRESHOLD_RANGE[1]  # the best cut (0.86..0.90) is above the ceiling
    assert choose_thresholds(y, p, bounds=(0.2, 0.8))[2] == 0.8


def test_choose_thresholds_prefers_a_broad_good_region_to_one_lucky_cut():
    # 20 positives: 19 at 0.60 and one at 0.345; negatives at 0.10, five at 0.335 and one
    # at 0.355. Cutting at 0.34 alone is perfect (F1 1.0); every cut from 0.36 to 0.60
    # misses one positive (F1 0.97); below 0.34 five negatives come in (F1 0.87). The
    # single best cut sits one step above the cliff; the broad region holds on new text.
    pos = np.r_[np.full(19, 0.60), 0.345]
    neg = np.r_[np.full(10, 0.10), np.full(5, 0.335), 0.355]
    y = np.r_[np.ones(20), np.zeros(16)][:, None]
    p = np.r_[pos, neg][:, None]
    t = choose_thresholds(y, p, bounds=(0.01, 0.99))[0]
    assert 0.42 <= t <= 0.55, t


# ------------------------------------------------------------------- thresholds


def test_predict_uses_thresholds_not_half():
    m = ThemeModel(FixedProba([0.6, 0.3, 0.1, 0.9, 0.45]), [0.7, 0.2, 0.5, 0.5, 0.4])
    (tags,) = m.predict(["anything"])
    # money at 0.6 is over 0.5 but under its 0.7 threshold; decision-making at 0.3 is over 0.2.
    assert tags == [("services", 0.9), ("jobs", 0.45), ("decision-making", 0.3)]
    result = evaluate(m, ["x"], np.array([[1, 1, 0, 1, 1]]))
    assert result["per_theme"]["money"]["recall"] == 0.0
    assert result["per_theme"]["decision-making"]["recall"] == 1.0


def test_threshold_moves_decision_on_a_trained_model(model):
    text = "Will the walk-in centre close?"
    k = THEMES.index("services")
    p = model.predict_proba([text])[0, k]
    below = ThemeModel(model.estimator, np.where(np.arange(5) == k, p - 0.01, 0.99))
    above = ThemeModel(model.estimator, np.where(np.arange(5) == k, p + 0.01, 0.99))
    assert [t for t, _ in below.predict([text])[0]] == ["services"]
    assert above.predict([text])[0] == []


def test_unclassified_when_below_every_threshold(model):
    stub = ThemeModel(FixedProba([0.79, 0.5, 0.1, 0.6, 0.3]), [0.8] * 5)
    assert stub.predict(["a", "b"]) == [[], []]
    strict = ThemeModel(model.estimator, [1.0] * 5)
    assert strict.predict(["Will the walk-in centre close?"]) == [[]]


def test_predict_sorted_by_confidence(model):
    for tags in model.predict(TEXTS):
        confidences = [c for _, c in tags]
        assert confidences == sorted(confidences, reverse=True)


# ---------------------------------------------------------------------- evaluate


def test_evaluate_schema(model):
    result = evaluate(model, TEXTS[:10], Y[:10], model_version="v1")
    assert set(result) == {"n", "macro_f1", "micro_f1", "per_theme", "model_version"}
    assert result["n"] == 10 and result["model_version"] == "v1"
    assert list(result["per_theme"]) == list(THEMES)
    for scores in result["per_theme"].values():
        assert set(scores) == {"precision", "recall", "f1", "support"}
        assert isinstance(scores["support"], int)
        assert all(0.0 <= scores[k] <= 1.0 for k in ("precision", "recall", "f1"))
    # the first ten items have no jobs example: zero_division=0, no warning
    assert result["per_theme"]["jobs"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert evaluate(model, TEXTS[:1], Y[:1])["model_version"] is None


# ----------------------------------------------------------------------- explain


def test_explain_returns_positive_words_from_the_text(model):
    text = "If the budget deficit gets worse, what happens to funding?\n> staff redundancies"
    words = model.explain(text, "money", top=5)
    assert 0 < len(words) <= 5
    own = normalise(text).lower()
    assert "redundancies" not in own
    for term, weight in words:
        assert weight > 0
        assert all(w in own for w in term.split()), term
    weights = [w for _, w in words]
    assert weights == sorted(weights, reverse=True)
    assert any(t in {"budget", "deficit", "funding"} for t, _ in words[:3])


def test_explain_rejects_unknown_theme(model):
    with pytest.raises(ValueError):
        model.explain("x", "parking")


# ----------------------------------------------------------------------- storage


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_save_load_round_trip_every_design(tmp_path, design):
    m = train(TEXTS, Y, design=design, cv_folds=3)
    path = tmp_path / "model.skops"
    save(m, path)
    loaded = load(path)
    assert np.array_equal(loaded.predict_proba(TEXTS), m.predict_proba(TEXTS))
    # the fast path for logistic designs matches sklearn's own predict_proba
    via_sklearn = m.estimator.predict_proba([m.clean(t) for t in TEXTS])
    assert np.allclose(m.predict_proba(TEXTS), via_sklearn, rtol=0, atol=1e-12)
    assert np.array_equal(loaded.thresholds, m.thresholds)
    assert loaded.metadata == m.metadata
    assert loaded.predict(TEXTS[:5]) == m.predict(TEXTS[:5])
    assert loaded.explain(TEXTS[0], "money") == m.explain(TEXTS[0], "money")


def test_saved_file_holds_each_vocabulary_as_one_string(tmp_path, model):
    # A vocabulary written by skops as a dict costs a JSON node per term (a ~170 MB file
    # for the shipped corpus); saved as one string per vectorizer it is a few MB. The
    # model being saved keeps its vocabularies, and the loaded one gets them back.
    path = tmp_path / "model.skops"
    before = {n: dict(v.vocabulary_) for n, v in _vectorizers(model)}
    save(model, path)
    assert {n: v.vocabulary_ for n, v in _vectorizers(model)} == before
    with zipfile.ZipFile(path) as zf:
        schema = zf.read("schema.json").decode("utf-8")
    assert '"vocabulary_"' not in schema  # ("fixed_vocabulary_", a flag, stays)
    assert set(before) == {"word", "char"}
    loaded = load(path)
    assert {n: v.vocabulary_ for n, v in _vectorizers(loaded)} == before
    # the old way, for scale: the same estimator written with its dicts in place
    sio.dump(model.estimator, tmp_path / "dicts.skops")
    assert path.stat().st_size < 0.5 * (tmp_path / "dicts.skops").stat().st_size


def _vectorizers(model):
    union = model.estimator.named_steps["features"]
    return [(n, v) for n, v in union.transformer_list if hasattr(v, "vocabulary_")]


def _dump_raw(path, model, **changes):
    estimator, vocabularies = _vocabularies_apart(model.estimator)
    obj = {
        "format": FORMAT,
        "estimator": estimator,
        "vocabularies": vocabularies,
        "thresholds": model.thresholds,
        "themes": list(THEMES),
        "metadata": "{}",
    }
    obj.update(changes)
    sio.dump({k: v for k, v in obj.items() if v is not None}, path)


def test_load_refuses_vocabularies_that_do_not_fit_the_estimator(tmp_path, model):
    _, vocabularies = _vocabularies_apart(model.estimator)
    cases = {
        "none": {"vocabularies": None},
        "missing": {"vocabularies": {"word": vocabularies["word"]}},
        "stranger": {"vocabularies": {**vocabularies, "lexicon": "a\nb"}},
        "not text": {"vocabularies": {**vocabularies, "word": ["a", "b"]}},
    }
    for name, changes in cases.items():
        path = tmp_path / f"{name.replace(' ', '-')}.skops"
        _dump_raw(path, model, **changes)
        with pytest.raises(UntrustedModelError):
            load(path)
    path = tmp_path / "fine.skops"
    _dump_raw(path, model)
    assert load(path).predict(TEXTS[:3]) == model.predict(TEXTS[:3])


def test_a_first_format_file_still_loads(tmp_path, model):
    # Files saved before the vocabularies moved out (format 1) hold them in place.
    path = tmp_path / "first.skops"
    sio.dump(
        {
            "format": "engage-theme-model/1",
            "estimator": model.estimator,
            "thresholds": model.thresholds,
            "themes": list(THEMES),
            "metadata": "{}",
        },
        path,
    )
    assert np.array_equal(load(path).predict_proba(TEXTS), model.predict_proba(TEXTS))


def test_load_rejects_default_trusted_sklearn_type(tmp_path, model):
    path = tmp_path / "forest.skops"
    sio.dump(
        {
            "format": FORMAT,
            "estimator": RandomForestClassifier(n_estimators=2),
            "thresholds": model.thresholds,
            "themes": list(THEMES),
            "metadata": "{}",
        },
        path,
    )
    assert sio.get_untrusted_types(file=path) == []  # skops alone would load it
    with pytest.raises(UntrustedModelError, match="RandomForestClassifier"):
        load(path)


def test_load_rejects_function_in_graph(tmp_path, model):
    path = tmp_path / "func.skops"
    evil = Pipeline([("f", FunctionTransformer(np.exp)), ("m", model.estimator)])
    sio.dump(
        {
            "format": FORMAT,
            "estimator": evil,
            "thresholds": model.thresholds,
            "themes": list(THEMES),
            "metadata": "{}",
        },
        path,
    )
    with pytest.raises(UntrustedModelError, match="FunctionTransformer"):
        load(path)


class NotAModel:
    pass


def test_load_rejects_custom_class(tmp_path):
    path = tmp_path / "custom.skops"
    sio.dump({"format": FORMAT, "estimator": NotAModel()}, path)
    with pytest.raises(UntrustedModelError, match="NotAModel"):
        load(path)


def test_load_rejects_non_model_files(tmp_path):
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip")
    with pytest.raises(UntrustedModelError):
        load(junk)
    other = tmp_path / "other.skops"
    sio.dump({"format": "something-else"}, other)
    with pytest.raises(UntrustedModelError, match="not an"):
        load(other)


def test_untrusted_model_error_is_a_value_error():
    assert issubclass(UntrustedModelError, ValueError)


# ---------------------------------------------------------------------- baseline


def test_keyword_baseline_tags_by_keyword():
    pred = KeywordBaseline(THEMES).predict(["The budget for A&E", "Website broken"])
    assert pred.tolist() == [[1, 0, 0, 1, 0], [0, 0, 0, 0, 0]]


def test_load_refuses_a_type_its_own_listing_missed(tmp_path, monkeypatch):
    # storage.load lists the file's types once and lets skops.io.load audit the tree
    # against that list: a type the listing misses must still stop the load.
    path = tmp_path / "custom.skops"
    sio.dump({"format": FORMAT, "estimator": NotAModel()}, path)
    monkeypatch.setattr(storage, "types_in", lambda _path: {"builtins.dict", "builtins.str"})
    with pytest.raises(UntrustedModelError, match="NotAModel"):
        load(path)


@pytest.mark.parametrize(
    "params",
    [
        {},  # the designs' own: min_df 2, max_df 0.9, sublinear tf, float32
        {"min_df": 1, "max_df": 1.0, "sublinear_tf": False, "dtype": np.float64},
        {"min_df": 0.01, "max_df": 5, "binary": True, "norm": None, "ngram_range": (1, 3)},
        {"lowercase": False, "smooth_idf": False, "use_idf": False, "strip_accents": "unicode"},
    ],
)
def test_fast_fit_gives_sklearns_vocabulary_idf_and_matrix(params):
    # Training fits the character n-grams through FastVectoriser.fit_transform (each
    # distinct word cut once): vocabulary, idf and matrix must be sklearn's exactly.
    docs = [normalise(t) for t in TEXTS] * 2 + [
        "",
        "Café naïve – résumé ½ ﬁne  \u00a0 spaced\u2003out",
        "A&E  A&E\ta&e\n\nclinic CLINIC clinic",
        "x",
    ]
    design = dict(build_pipeline("lr_lexicon").named_steps["features"].transformer_list)
    settings = {**design["char"].get_params(), **params}
    ours, theirs = TfidfVectorizer(**settings), TfidfVectorizer(**settings)
    got = FastVectoriser().fit_transform(ours, docs)
    expected = theirs.fit_transform(docs)
    assert ours.vocabulary_ == theirs.vocabulary_
    if settings["use_idf"]:
        assert ours.idf_.dtype == theirs.idf_.dtype
        assert np.array_equal(ours.idf_, theirs.idf_)
    expected.sort_indices()
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert np.array_equal(got.indptr, expected.indptr)
    assert np.array_equal(got.indices, expected.indices)
    if not params:  # the designs' settings: the very same numbers
        assert np.array_equal(got.data, expected.data)
    # otherwise equal to rounding: sklearn's rows hold their columns out of order, so the
    # l2 norm adds the same numbers in another order
    rtol = 1e-6 if got.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got.data, expected.data, rtol=rtol)
    np.testing.assert_allclose(
        ours.transform(docs[:5]).toarray(), theirs.transform(docs[:5]).toarray(), rtol=rtol
    )


def test_fast_fit_refuses_what_sklearn_refuses():
    settings = {"analyzer": "char_wb", "ngram_range": (2, 4)}
    cases = (({"min_df": 5}, ["ab cd", "ef gh"]), ({"max_df": 0.1, "min_df": 2}, ["ab"] * 3))
    for bad, docs in cases:
        with pytest.raises(ValueError):
            TfidfVectorizer(**settings, **bad).fit_transform(docs)
        with pytest.raises(ValueError):
            FastVectoriser().fit_transform(TfidfVectorizer(**settings, **bad), docs)


def test_fast_fit_gives_sklearns_word_vocabulary_idf_and_matrix():
    # The word n-grams are fitted the same way: each distinct document analysed once,
    # min_df/max_df and idf still counting every copy (a text and its wrapped copy).
    docs = [normalise(t) for t in TEXTS] * 2 + ["A&E a&e clinic", "", "the budget is cut"]
    design = dict(build_pipeline("lr_lexicon").named_steps["features"].transformer_list)
    settings = design["word"].get_params()
    ours, theirs = TfidfVectorizer(**settings), TfidfVectorizer(**settings)
    got = FastVectoriser().fit_transform(ours, docs)
    expected = theirs.fit_transform(docs)
    assert ours.vocabulary_ == theirs.vocabulary_
    assert np.array_equal(ours.idf_, theirs.idf_)
    expected.sort_indices()
    assert np.array_equal(got.indptr, expected.indptr)
    assert np.array_equal(got.indices, expected.indices)
    np.testing.assert_allclose(got.data, expected.data, rtol=1e-6)


def test_fast_fit_leaves_other_vectorizers_to_sklearn():
    docs = ["the budget is cut", "the budget is not cut", "jobs"]
    ours, theirs = TfidfVectorizer(analyzer="char"), TfidfVectorizer(analyzer="char")
    got = FastVectoriser().fit_transform(ours, docs)
    assert ours.vocabulary_ == theirs.fit(docs).vocabulary_
    assert np.allclose(got.toarray(), theirs.transform(docs).toarray())


def test_fast_counting_gives_sklearns_tfidf_matrix_exactly(model):
    # FastVectoriser counts n-grams itself (char_wb n-grams per distinct word,
    # remembered): the matrix must be sklearn's, element for element, and stay so when
    # the memory is warm, when it is forgotten, and when it overflows its bound.
    docs = [normalise(t) for t in TEXTS] + [
        "",
        "   ",
        "A&E  A&E\ta&e\n\nclinic CLINIC clinic",
        "Café naïve – résumé ½ ﬁne  \u00a0 spaced\u2003out",
        "x",
        "the the the the budget budget",
    ]
    union = model.estimator.named_steps["features"]
    vectorizers = [v for _, v in union.transformer_list if hasattr(v, "analyzer")]
    assert {vec.analyzer for vec in vectorizers} == {"word", "char_wb"}
    tiny = FastVectoriser()
    tiny.MAX_WORDS = 3  # forgets its words on almost every call
    for vec in vectorizers:
        expected = vec.transform(docs)
        for fast in (model.vectoriser, model.vectoriser, tiny, tiny):  # cold, then warm
            got = fast.transform(vec, docs)
            assert got.shape == expected.shape and got.dtype == expected.dtype
            assert got.has_sorted_indices
            assert np.array_equal(got.indptr, expected.indptr)
            assert np.array_equal(got.indices, expected.indices)
            assert np.array_equal(got.data, expected.data)
    # Over its bound, the memory starts again: it holds only the last call's words.
    (char_wb,) = [vec for vec in vectorizers if vec.analyzer == "char_wb"]
    assert 0 < len(tiny._words[id(char_wb)]) <= len(set(" ".join(docs).lower().split()))
    model.vectoriser.forget()
    via_sklearn = model.estimator.predict_proba([model.clean(d) for d in docs])
    assert np.allclose(model.predict_proba(docs), via_sklearn, rtol=0, atol=1e-12)


def test_a_weighted_row_fits_as_its_copies_do():
    # Training fits a text and its wrapped copy that normalised back to the same text
    # as one row of weight 2: the model must be the one fitted on both rows.
    from engage.classify.training import _fit_weighted

    pipe = build_pipeline(BEST_DESIGN, tol=1e-8)
    features, clf = pipe.named_steps["features"], pipe.named_steps["clf"]
    X = features.fit_transform([normalise(t) for t in TEXTS]).tocsr()
    weight = np.arange(len(TEXTS)) % 3 + 1  # each row once, twice or three times
    rows = np.repeat(np.arange(len(TEXTS)), weight)
    copied = clone(clf).fit(X[rows], Y[rows])
    weighted = _fit_weighted(clf, X, Y, weight)
    np.testing.assert_allclose(weighted.predict_proba(X), copied.predict_proba(X), atol=1e-4)
    assert not np.allclose(
        weighted.predict_proba(X),
        _fit_weighted(clf, X, Y, np.ones_like(weight)).predict_proba(X),
        atol=1e-3,
    )
    # nothing of the weights' routing stays in what a model file saves
    assert all("_metadata_request" not in e.__dict__ for e in weighted.estimators_)
    assert "_metadata_request" not in weighted.estimator.__dict__
