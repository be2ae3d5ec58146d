"""Theme classifier: a pure scikit-learn pipeline, its training, evaluation and storage.

No Flask, no database. The app wraps this module (``service.py``, ``cli.py``).

Public API::

    THEMES, BEST_DESIGN, DESIGNS
    load_corpus(paths) -> (texts, Y)
    normalise(text) -> str                       (re-exported from .text)
    build_pipeline(design, **params) -> sklearn Pipeline
    train(texts, Y, design=BEST_DESIGN, cv_folds=5, random_state=0) -> ThemeModel
    evaluate(model, texts, Y, *, model_version=None) -> dict
    save(model, path) / load(path) -> ThemeModel  (skops only; load raises UntrustedModelError)

Texts are normalised (quotes, signatures, sign-offs removed) *outside* the sklearn
pipeline so that no custom callable ends up in the saved graph. Predictions always go
through ``predict_proba`` and per-theme thresholds chosen on out-of-fold
probabilities; ``OneVsRestClassifier.predict`` (a fixed 0.5 cut) is never used.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
import skops
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
from scipy.special import expit
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from engage.classify import storage
from engage.classify.augment import augment
from engage.classify.lexicon import LexiconFeatures, default_contexts, default_lexicon
from engage.classify.lexicon import matches as lexicon_matches
from engage.classify.spelling import Speller
from engage.classify.storage import UntrustedModelError
from engage.classify.text import normalise

__all__ = [
    "BEST_DESIGN",
    "DESIGNS",
    "THEMES",
    "ThemeModel",
    "UntrustedModelError",
    "build_pipeline",
    "choose_thresholds",
    "default_corpus_paths",
    "evaluate",
    "load",
    "load_corpus",
    "normalise",
    "save",
    "scores",
    "train",
    "training_hash",
]

# Words that carry no theme on their own, never shown as a reason: sklearn's English
# stop words less a few that do mean something here ("system" as in integrated care
# system, "bill", "fire", "call", "back" as in "cut back").
FILLER: frozenset[str] = frozenset(
    ENGLISH_STOP_WORDS - {"system", "bill", "fire", "call", "back", "cry", "found", "interest"}
) | frozenset({"just", "really", "lot", "lots", "things", "thing", "like", "dear", "hi"})

THEMES: tuple[str, ...] = ("money", "decision-making", "clinical-leadership", "services", "jobs")
# Thresholds are chosen on out-of-fold probabilities, then kept in a range where a
# threshold still means "more likely than not, give or take": a corpus can make F1 peak
# at 0.15 or 0.85 for reasons real feedback does not share.
THRESHOLD_RANGE = (0.3, 0.6)
FORMAT = "engage-theme-model/1"

# Words: "a&e" stays one token; single letters are dropped as in sklearn's default.
_WORD_REGEX = r"(?u)\b\w[\w&]*\w\b|\b\w&\w\b"

# design -> default parameters; build_pipeline(design, **overrides). Every design takes
# "lexicon" (weight of the theme-lexicon features, 0 for none; see lexicon.py) and
# "augment" (wrapped copies of each training item; see augment.py; used by train())
# and "contexts" (with the lexicon, its two-sided sentence contexts; see lexicon.py).
_PLAIN = {"lexicon": 0.0, "augment": 0, "contexts": False}
_LEXICON = {
    "min_df": 2,
    "char": (2, 5),
    "lexicon": 1.0,
    "augment": 1,
    "contexts": True,
    "balanced": True,
}
DESIGNS: dict[str, dict[str, Any]] = {
    # (a) word 1-2 grams + char_wb 2-5 grams -> one-vs-rest logistic regression
    "lr_word_char": {"C": 8.0, "min_df": 2, "char": (2, 5), **_PLAIN},
    # (b) same features -> one-vs-rest sigmoid-calibrated linear SVM
    "svc_word_char": {"C": 0.5, "min_df": 2, "char": (2, 5), **_PLAIN},
    # (c) word 1-2 grams only -> one-vs-rest SGD logistic regression
    "sgd_word": {"alpha": 1e-4, "min_df": 2, "char": None, **_PLAIN},
    # (d) word 1-2 grams only -> one-vs-rest complement naive Bayes
    "nb_word": {"alpha": 0.3, "min_df": 1, "char": None, **_PLAIN},
    # (e) (a) plus the theme lexicon and its contexts, trained on items and their
    # wrapped copies, with a stronger penalty: chosen on real comments, not the corpus.
    # liblinear's stopping tolerance 1e-2 rather than its 1e-4 fits twice as fast and
    # moves no probability by more than 0.0002 on the real comments.
    "lr_lexicon": {"C": 2.0, **_LEXICON, "tol": 1e-2},
    # (f) (b) plus the theme lexicon, its contexts and wrapped copies
    "svc_lexicon": {"C": 0.3, **_LEXICON},
}
BEST_DESIGN = "lr_lexicon"

DATA_DIR = Path(__file__).parent / "data"
HOLDOUT_PATH = DATA_DIR / "holdout.csv"  # evaluation only: never train on it


# ---------------------------------------------------------------------------- corpus


def load_corpus(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
) -> tuple[list[str], np.ndarray]:
    """Read ``text,themes`` CSVs; return texts and an (n, 5) 0/1 label matrix.

    Raises ValueError naming the file and row for a missing column, an empty text
    or a theme slug that is not in THEMES.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    texts: list[str] = []
    rows: list[list[int]] = []
    for path in paths:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"text", "themes"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
            for i, rec in enumerate(reader, start=1):
                where = f"{path}: row {i} (line {reader.line_num})"
                text = (rec["text"] or "").strip()
                if not text:
                    raise ValueError(f"{where}: empty text")
                texts.append(text)
                rows.append(_parse_themes(rec["themes"] or "", where))
    return texts, np.array(rows, dtype=np.int64).reshape(len(texts), len(THEMES))


def _parse_themes(field: str, where: str) -> list[int]:
    slugs = {s.strip() for s in field.split(";") if s.strip()}
    unknown = sorted(slugs - set(THEMES))
    if unknown:
        raise ValueError(f"{where}: unknown theme(s) {unknown}; expected {list(THEMES)}")
    return [int(t in slugs) for t in THEMES]


def default_corpus_paths() -> list[Path]:
    """The seed corpus parts shipped with the package (data/corpus/part_*.csv), sorted."""
    return sorted((DATA_DIR / "corpus").glob("part_*.csv"))


def training_hash(texts: Sequence[str], Y: np.ndarray) -> str:
    """sha256 of the (text, labels) pairs, independent of their order."""
    lines = sorted(
        f"{t}\x1f{';'.join(s for s, v in zip(THEMES, row, strict=True) if v)}"
        for t, row in zip(texts, np.asarray(Y), strict=True)
    )
    return hashlib.sha256("\x1e".join(lines).encode("utf-8")).hexdigest()


# -------------------------------------------------------------------------- pipeline


def build_pipeline(design: str = BEST_DESIGN, **params: Any) -> Pipeline:
    """Return an unfitted Pipeline(features -> clf) for *design*; params override defaults.

    Raises ValueError for an unknown design or parameter.
    """
    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r}; choose from {sorted(DESIGNS)}")
    unknown = set(params) - set(DESIGNS[design])
    if unknown:
        raise ValueError(f"unknown parameter(s) for {design}: {sorted(unknown)}")
    p = {**DESIGNS[design], **params}
    parts: list[tuple[str, Any]] = [
        (
            "word",
            TfidfVectorizer(
                ngram_range=(1, 2),
                sublinear_tf=True,
                min_df=p["min_df"],
                max_df=0.9,
                token_pattern=_WORD_REGEX,
                dtype=np.float32,
            ),
        )
    ]
    if p["char"]:
        parts.append(
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=tuple(p["char"]),
                    sublinear_tf=True,
                    min_df=p["min_df"],
                    max_df=0.9,
                    dtype=np.float32,
                ),
            )
        )
    if p["lexicon"]:
        contexts = default_contexts() if p.get("contexts") else None
        lexicon = LexiconFeatures(default_lexicon(THEMES), float(p["lexicon"]), contexts)
        parts.append(("lexicon", lexicon))
    if design in ("lr_word_char", "lr_lexicon"):
        # The dual problem: the same model, about five times faster to fit when there
        # are far more n-gram features than texts, as here.
        base = LogisticRegression(
            C=p["C"],
            class_weight="balanced" if p.get("balanced", True) else None,
            solver="liblinear",
            dual=True,
            max_iter=1000,
            tol=p.get("tol", 1e-4),
        )
    elif design in ("svc_word_char", "svc_lexicon"):
        base = CalibratedClassifierCV(
            LinearSVC(C=p["C"], class_weight="balanced" if p.get("balanced", True) else None),
            method="sigmoid",
            cv=3,
            ensemble=False,
        )
    elif design == "sgd_word":
        base = SGDClassifier(
            loss="log_loss",
            alpha=p["alpha"],
            class_weight="balanced",
            max_iter=50,
            tol=None,
            random_state=0,
        )
    else:
        base = ComplementNB(alpha=p["alpha"])
    return Pipeline([("features", FeatureUnion(parts)), ("clf", OneVsRestClassifier(base))])


# ----------------------------------------------------------------------------- model


class ThemeModel:
    """A fitted pipeline plus the per-theme thresholds that turn probabilities into tags."""

    def __init__(
        self,
        estimator: Pipeline,
        thresholds: Sequence[float] | np.ndarray,
        metadata: dict[str, Any] | None = None,
        themes: Sequence[str] = THEMES,
    ) -> None:
        self.estimator = estimator
        self.themes = tuple(themes)
        self.thresholds = np.asarray(thresholds, dtype=np.float64).copy()
        if self.thresholds.shape != (len(self.themes),):
            raise ValueError(f"need {len(self.themes)} thresholds, got {self.thresholds.shape}")
        self.metadata = dict(metadata or {})
        self._coefs: dict[int, np.ndarray] = {}
        self._linear: tuple[np.ndarray, np.ndarray] | bool | None = None
        # char_wb vectorizer -> {word: its n-grams' vocabulary indices}; see _counts().
        self._word_features: dict[int, dict[str, list[int]]] = {}
        self._feature_names: dict[int, np.ndarray] = {}  # see _names()
        self._logistic_weights()  # computed now, so a shared model is read-only afterwards
        self.speller = self._speller()

    def _speller(self) -> Speller | None:
        """A speller over the word vectorizer's single words, commonest (lowest idf) first."""
        union = getattr(self.estimator, "named_steps", {}).get("features")
        for name, vec in getattr(union, "transformer_list", []):
            if name == "word" and hasattr(vec, "idf_"):
                words = [(w, vec.idf_[i]) for w, i in vec.vocabulary_.items() if " " not in w]
                return Speller(w for w, _ in sorted(words, key=lambda wi: (wi[1], wi[0])))
        return None

    def clean(self, text: str) -> str:
        """What the features are computed from: normalise(), then mistyped words fixed."""
        cleaned = normalise(text)
        return self.speller.fix(cleaned) if self.speller is not None else cleaned

    @property
    def version(self) -> str:
        """Short identifier: design and training-data hash."""
        design = self.metadata.get("design", "model")
        return f"{design}-{str(self.metadata.get('training_sha256', ''))[:12]}"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, n_themes) array of per-theme probabilities."""
        cleaned = [self.clean(t) for t in texts]
        if not cleaned:
            return np.zeros((0, len(self.themes)))
        linear = self._logistic_weights()
        if linear is None:
            return np.asarray(self.estimator.predict_proba(cleaned), dtype=np.float64)
        # Same arithmetic as FeatureUnion.transform + LogisticRegression.predict_proba,
        # without sklearn's per-call validation (most of the time for a single item).
        union = self.estimator.named_steps["features"]
        X = sp.hstack(
            [self._transform(vec, cleaned) for _, vec in union.transformer_list], format="csr"
        )
        return expit(X @ linear[0] + linear[1]).astype(np.float64)

    def _transform(self, vec: Any, docs: list[str]) -> sp.csr_matrix:
        """``vec.transform(docs)`` for a fitted TfidfVectorizer, with faster counting.

        sklearn counts n-grams in a Python loop, one dictionary lookup per n-gram: for
        character n-grams that is most of the time spent classifying an import. The
        same counts are built here as a CSR matrix with one column index per n-gram
        occurrence (duplicates summed by scipy); a char_wb vectorizer's n-grams never
        cross a word boundary, so each distinct word's indices are worked out once and
        reused. Then sklearn's own TfidfTransformer weights and normalises the counts.
        Any other vectorizer goes through sklearn.
        """
        if type(vec) is not TfidfVectorizer or vec.input != "content" or callable(vec.analyzer):
            return vec.transform(docs)
        vocabulary = vec.vocabulary_
        indices: list[int] = []
        indptr = [0]
        if vec.analyzer == "char_wb":
            preprocess = vec.build_preprocessor()
            words = self._word_features.setdefault(id(vec), {})
            if len(words) > 100_000:  # bounded: a long import meets ever rarer words
                words.clear()
            for doc in docs:
                text = vec._white_spaces.sub(" ", preprocess(vec.decode(doc)))
                for word in text.split():
                    found = words.get(word)
                    if found is None:
                        found = [
                            vocabulary[g] for g in vec._char_wb_ngrams(word) if g in vocabulary
                        ]
                        words[word] = found
                    indices.extend(found)
                indptr.append(len(indices))
        else:
            analyze = vec.build_analyzer()
            get = vocabulary.get
            for doc in docs:
                indices.extend([j for j in map(get, analyze(doc)) if j is not None])
                indptr.append(len(indices))
        index_dtype = np.int32 if len(indices) < np.iinfo(np.int32).max else np.int64
        X = sp.csr_matrix(
            (
                np.ones(len(indices), dtype=vec.dtype),
                np.asarray(indices, dtype=index_dtype),
                np.asarray(indptr, dtype=index_dtype),
            ),
            shape=(len(docs), len(vocabulary)),
        )
        X.sum_duplicates()  # counts, with sorted indices, as CountVectorizer gives
        if vec.binary:
            X.data.fill(1)
        return vec._tfidf.transform(X, copy=False)

    def _logistic_weights(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(W, b) when every theme is a plain logistic model, so that p = expit(XW + b)."""
        if self._linear is None:
            self._linear = False
            steps = getattr(self.estimator, "named_steps", {})
            ests = getattr(steps.get("clf"), "estimators_", [])
            if (
                isinstance(steps.get("features"), FeatureUnion)
                and len(ests) == len(self.themes)
                and all(
                    isinstance(e, LogisticRegression)
                    or (isinstance(e, SGDClassifier) and e.loss == "log_loss")
                    for e in ests
                )
            ):
                # keep the fitted dtype (SGD fits float32) so results match exactly
                W = np.column_stack([e.coef_.ravel() for e in ests])
                b = np.array([e.intercept_[0] for e in ests])
                self._linear = (W, b)
        return self._linear or None

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """Turn probabilities into a 0/1 matrix with this model's thresholds."""
        return (np.asarray(proba) >= self.thresholds).astype(np.int64)

    def predict(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        """Themes at or over threshold per text, most confident first; [] is 'unclassified'."""
        proba = self.predict_proba(texts)
        out = []
        for row in proba:
            hits = [
                (t, float(p))
                for t, p, th in zip(self.themes, row, self.thresholds, strict=True)
                if p >= th
            ]
            out.append(sorted(hits, key=lambda h: -h[1]))
        return out

    def explain(self, text: str, theme: str, top: int = 8) -> list[tuple[str, float]]:
        """Words and phrases of *text* that pushed *theme* up, largest first.

        Each feature's contribution is its coefficient times its value. Character
        n-grams are credited to the words they came from; a word bigram stays a phrase
        when both its words carry meaning and goes to its meaningful word when one is
        filler; the lexicon feature is shared among the lexicon phrases that matched.
        Filler words ("and", "that", "more": see FILLER) are never returned on their
        own. Only positive contributions are returned. Raises ValueError for an
        unknown theme.
        """
        if theme not in self.themes:
            raise ValueError(f"unknown theme {theme!r}")
        k = self.themes.index(theme)
        coef = self._coef(k)
        cleaned = self.clean(text)
        union: FeatureUnion = self.estimator.named_steps["features"]
        row = union.transform([cleaned]).tocsr()
        contrib = dict(
            zip(row.indices.tolist(), (row.data * coef[row.indices]).tolist(), strict=True)
        )
        credit: dict[str, float] = defaultdict(float)
        offset = 0
        for name, vec in union.transformer_list:
            # A vectorizer's size from its vocabulary: get_feature_names_out() would build
            # an array of ~50,000 names on every item page just to count them.
            vocabulary = getattr(vec, "vocabulary_", None)
            size = len(vocabulary) if vocabulary is not None else len(vec.get_feature_names_out())
            local = {i - offset: c for i, c in contrib.items() if offset <= i < offset + size}
            offset += size
            if name == "word":
                names = self._names(vec)
                for i, c in local.items():
                    words = [w for w in str(names[i]).split() if w not in FILLER]
                    if words:
                        credit[" ".join(words)] += c
            elif name == "lexicon":
                phrases = lexicon_matches(cleaned, vec.lexicon[k][1]) if k in local else []
                for phrase in phrases:
                    credit[phrase] += local[k] / len(phrases)
                n_themes = len(vec.lexicon)
                for i, c in local.items():  # a context, credited by its name
                    if i >= n_themes:
                        credit[vec.contexts[i - n_themes][0]] += c
            else:
                self._credit_chars(vec, cleaned, local, credit)
        ranked = sorted(
            ((w, s) for w, s in credit.items() if s > 0 and w not in FILLER), key=lambda ws: -ws[1]
        )
        return [(w, float(s)) for w, s in ranked[:top]]

    def _names(self, vec: Any) -> np.ndarray:
        """A vectorizer's feature names, made once per model: sklearn builds and sorts
        ~50,000 of them on every call (most of an explanation's time)."""
        names = self._feature_names.get(id(vec))
        if names is None:
            names = self._feature_names[id(vec)] = vec.get_feature_names_out()
        return names

    def _credit_chars(self, vec, cleaned, local, credit) -> None:
        """Share each char n-gram's contribution among the words it occurs in."""
        if not local:
            return
        vocab = vec.vocabulary_
        analyse = vec.build_analyzer()
        word_token = self.estimator.named_steps["features"].transformer_list[0][1].build_tokenizer()
        per_chunk = []
        totals: Counter[int] = Counter()
        for chunk in cleaned.lower().split():
            counts = Counter(vocab[g] for g in analyse(chunk) if g in vocab)
            tokens = word_token(chunk)
            if tokens:
                per_chunk.append((max(tokens, key=len), counts))
            totals.update(counts)
        for label, counts in per_chunk:
            credit[label] += sum(local.get(i, 0.0) * n / totals[i] for i, n in counts.items())

    def _coef(self, k: int) -> np.ndarray:
        """The linear weights of theme *k* (averaged over calibration folds)."""
        if k not in self._coefs:
            est = self.estimator.named_steps["clf"].estimators_[k]
            if isinstance(est, CalibratedClassifierCV):
                w = np.mean(
                    [c.estimator.coef_.ravel() for c in est.calibrated_classifiers_], axis=0
                )
            elif isinstance(est, ComplementNB):
                w = est.feature_log_prob_[1] - est.feature_log_prob_[0]
            else:
                w = est.coef_.ravel()
            self._coefs[k] = np.asarray(w, dtype=np.float64)
        return self._coefs[k]


# -------------------------------------------------------------------------- training


def _check_labels(texts: Sequence[str], Y: np.ndarray, min_positive: int) -> np.ndarray:
    Y = np.asarray(Y, dtype=np.int64)
    if Y.shape != (len(texts), len(THEMES)) or not np.isin(Y, (0, 1)).all():
        raise ValueError(f"Y must be a 0/1 matrix of shape ({len(texts)}, {len(THEMES)})")
    short = [t for t, n in zip(THEMES, Y.sum(axis=0), strict=True) if n < min_positive]
    if short:
        raise ValueError(f"need at least {min_positive} examples of each theme; short: {short}")
    return Y


def _training_set(
    texts: Sequence[str], cleaned: Sequence[str], Y: np.ndarray, copies: int, seed: int
) -> tuple[list[str], np.ndarray]:
    """Cleaned training texts plus *copies* wrapped copies of each (augment.py)."""
    if copies <= 0:
        return list(cleaned), Y
    wrapped, Y_all = augment(texts, Y, copies=copies, seed=seed)
    return list(cleaned) + [normalise(t) for t in wrapped[len(texts) :]], Y_all


def _fit_with_oof(
    texts: Sequence[str],
    cleaned: Sequence[str],
    Y: np.ndarray,
    design: str,
    cv_folds: int,
    random_state: int,
    **params: Any,
) -> tuple[Pipeline, np.ndarray]:
    """Fit *design* on all items (and their wrapped copies); out-of-fold probabilities too.

    The features (n-gram vocabularies and weights, the lexicon) are fitted once, on
    every training text, and each fold refits only the classifiers on its rows: the
    items of the training folds and their wrapped copies. A held-out fold is scored as
    written, never wrapped. Its words do count in the shared vocabulary and document
    frequencies, which is unlabelled information and moves the thresholds little; the
    labels of a held-out item never reach its own prediction. Fitting the vectorizers
    once instead of once a fold makes training about twice as fast.
    """
    n = len(texts)
    copies = int({**DESIGNS[design], **params}.get("augment", 0))
    X_text, Y_all = _training_set(texts, cleaned, Y, copies, random_state)
    pipe = build_pipeline(design, **params)
    features, clf = pipe.named_steps["features"], pipe.named_steps["clf"]
    X = features.fit_transform(X_text).tocsr()
    oof = np.zeros(Y.shape, dtype=np.float64)
    folds = MultilabelStratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=random_state)
    splits = list(folds.split(np.zeros(n), Y))

    def fit_fold(tr: np.ndarray) -> Any:
        rows = np.concatenate([tr + n * c for c in range(copies + 1)])
        return clone(clf).fit(X[rows], Y_all[rows])

    # The folds and the final fit are independent; liblinear lets go of the GIL, so
    # threads share the one feature matrix and use every core.
    jobs = [np.arange(n)] + [tr for tr, _ in splits]
    with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
        fitted = list(pool.map(fit_fold, jobs))
    for fold_clf, (_, te) in zip(fitted[1:], splits, strict=True):
        oof[te] = fold_clf.predict_proba(X[te])
    pipe.steps[-1] = ("clf", fitted[0])
    return pipe, oof


def out_of_fold_proba(
    texts: Sequence[str],
    Y: np.ndarray,
    design: str,
    cv_folds: int = 5,
    random_state: int = 0,
    **params: Any,
) -> np.ndarray:
    """Out-of-fold probabilities of *design* on labelled texts (see _fit_with_oof)."""
    cleaned = [normalise(t) for t in texts]
    Y = np.asarray(Y, dtype=np.int64)
    return _fit_with_oof(texts, cleaned, Y, design, cv_folds, random_state, **params)[1]


def choose_thresholds(
    Y: np.ndarray, proba: np.ndarray, bounds: tuple[float, float] = THRESHOLD_RANGE
) -> np.ndarray:
    """Per theme, the threshold maximising F1 on *proba* (0.01 grid), clipped to *bounds*.

    Ties go to the middle of the best plateau, the choice least sensitive to noise.
    """
    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    out = np.empty(Y.shape[1])
    for k in range(Y.shape[1]):
        y = Y[:, k].astype(bool)
        pred = proba[:, k][:, None] >= grid[None, :]
        tp = (pred & y[:, None]).sum(axis=0)
        f1 = 2 * tp / np.maximum(pred.sum(axis=0) + y.sum(), 1)
        best = np.flatnonzero(f1 >= f1.max() - 1e-12)
        out[k] = grid[best[len(best) // 2]]
    return np.clip(out, *bounds)


def scores(Y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """n, macro/micro F1 and per-theme precision/recall/F1/support of 0/1 predictions."""
    p, r, f, s = precision_recall_fscore_support(Y, pred, average=None, zero_division=0)
    return {
        "n": int(Y.shape[0]),
        "macro_f1": float(f1_score(Y, pred, average="macro", zero_division=0)),
        "micro_f1": float(f1_score(Y, pred, average="micro", zero_division=0)),
        "per_theme": {
            t: {
                "precision": float(p[k]),
                "recall": float(r[k]),
                "f1": float(f[k]),
                "support": int(s[k]),
            }
            for k, t in enumerate(THEMES)
        },
    }


def train(
    texts: Sequence[str],
    Y: np.ndarray,
    design: str = BEST_DESIGN,
    cv_folds: int = 5,
    random_state: int = 0,
    **params: Any,
) -> ThemeModel:
    """Cross-validate to pick thresholds and CV metrics, then fit on all the data.

    Raises ValueError when Y has the wrong shape or a theme has < cv_folds examples.
    """
    texts = list(texts)
    Y = _check_labels(texts, Y, max(cv_folds, 2))
    cleaned = [normalise(t) for t in texts]
    estimator, oof = _fit_with_oof(texts, cleaned, Y, design, cv_folds, random_state, **params)
    thresholds = choose_thresholds(Y, oof)
    cv = scores(Y, (oof >= thresholds).astype(np.int64))
    cv.pop("n")
    metadata = {
        "design": design,
        "params": {**DESIGNS[design], **params},
        "themes": list(THEMES),
        "thresholds": {t: float(v) for t, v in zip(THEMES, thresholds, strict=True)},
        "cv": {"folds": cv_folds, "random_state": random_state, **cv},
        "n_train": len(texts),
        "label_counts": {t: int(n) for t, n in zip(THEMES, Y.sum(axis=0), strict=True)},
        "training_sha256": training_hash(texts, Y),
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "skops_version": skops.__version__,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    # JSON-shaped from the start, so a saved and reloaded model compares equal.
    return ThemeModel(estimator, thresholds, json.loads(json.dumps(metadata)))


def evaluate(
    model: ThemeModel, texts: Sequence[str], Y: np.ndarray, *, model_version: str | None = None
) -> dict[str, Any]:
    """Score *model* on labelled texts (its own thresholds, zero_division=0)."""
    Y = np.asarray(Y, dtype=np.int64).reshape(len(texts), len(THEMES))
    result = scores(Y, model.decide(model.predict_proba(list(texts))))
    result["model_version"] = model_version
    return result


# --------------------------------------------------------------------------- storage


def save(model: ThemeModel, path: str | os.PathLike) -> None:
    """Write *model* (estimator, thresholds, metadata) to one skops file, atomically."""
    storage.dump(
        {
            "format": FORMAT,
            "estimator": model.estimator,
            "thresholds": np.asarray(model.thresholds, dtype=np.float64),
            "themes": list(model.themes),
            "metadata": json.dumps(model.metadata, sort_keys=True),
        },
        path,
    )


def load(path: str | os.PathLike) -> ThemeModel:
    """Load a model saved by :func:`save`.

    Raises UntrustedModelError if the file holds any type outside storage.ALLOWED_TYPES
    or is not a theme model.
    """
    obj = storage.load(path)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise UntrustedModelError(f"{path} is not an {FORMAT} file")
    if not isinstance(obj.get("estimator"), Pipeline):
        raise UntrustedModelError(f"{path} does not hold a Pipeline")
    return ThemeModel(
        obj["estimator"], obj["thresholds"], json.loads(obj["metadata"]), themes=obj["themes"]
    )
