"""The fitted theme model: probabilities, tags, explanations, and its file.

``ThemeModel`` holds a fitted pipeline (designs.build_pipeline, fitted by
training.train) and one threshold per theme. Predictions always go through
probabilities and those thresholds; ``OneVsRestClassifier.predict`` (a fixed 0.5 cut)
is never used. ``save`` and ``load`` write and read one skops file, loaded against
storage.ALLOWED_TYPES. No Flask, no database (the app's side is service.py).

Not to be confused with models.py, the database table of trained model versions.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline

from engage.classify import storage
from engage.classify.corpus import THEMES
from engage.classify.lexicon import matches as lexicon_matches
from engage.classify.openings import END_PARAGRAPH_WORDS, OPENING_CUT, PARAGRAPH_BREAK
from engage.classify.spelling import Speller, english_words
from engage.classify.storage import UntrustedModelError
from engage.classify.text import normalise
from engage.classify.vectorise import FastVectoriser

__all__ = ["FILLER", "FORMAT", "ThemeModel", "UntrustedModelError", "load", "save"]

# Words that carry no theme on their own, never shown as a reason: sklearn's English
# stop words less a few that do mean something here ("system" as in integrated care
# system, "bill", "fire", "call", "back" as in "cut back").
FILLER: frozenset[str] = frozenset(
    ENGLISH_STOP_WORDS - {"system", "bill", "fire", "call", "back", "cry", "found", "interest"}
) | frozenset({"just", "really", "lot", "lots", "things", "thing", "like", "dear", "hi"})


FORMAT = "engage-theme-model/2"
# Files of the first format (vocabularies inside the estimator) still load.
_FORMATS = ("engage-theme-model/1", FORMAT)
# Joins a vectorizer's terms in a saved file; no term holds it (whitespace splits them).
_TERM_SEPARATOR = "\n"
# A paragraph at either end of a message that the model, reading it alone, gives no
# theme even this probability is wrapping the rules of letter.py did not know: a
# greeting addressed to a committee, a group's offer to help, an office-hours note.
# Chosen on email wrappers written outside the project and checked on others
# (docs/data-card.md, round 18); 0.3 to 0.5 move real comments and the corpus alike.
END_PARAGRAPH_FLOOR = 0.3
_END_PARAGRAPHS = 2  # at most this many paragraphs go from either end
# An introduction speaks of its writer or of the message; a first paragraph with neither
# ("Retired GP Jo Hall has written to the mayor to explain the need to retain the
# hospital", a news report's lead) is what the message is about.
_WRITER = re.compile(
    r"\b(?:i|i'm|im|i've|i'd|me|my|we|we're|we've|our|us|this (?:e-?mail|message|note"
    r"|letter|response|submission|reply)|the following|below|here)\b",
    re.IGNORECASE,
)


class ThemeModel:
    """A fitted pipeline plus the per-theme thresholds that turn probabilities into tags."""

    def __init__(
        self,
        estimator: Pipeline,
        thresholds: Sequence[float] | np.ndarray,
        metadata: dict[str, Any] | None = None,
        themes: Sequence[str] = THEMES,
        opening: Pipeline | None = None,
    ) -> None:
        self.estimator = estimator
        # openings.py: a first paragraph that only introduces the writer (None: none is
        # looked for, as in a model saved before round 19).
        self.opening = opening
        self.themes = tuple(themes)
        self.thresholds = np.asarray(thresholds, dtype=np.float64).copy()
        if self.thresholds.shape != (len(self.themes),):
            raise ValueError(f"need {len(self.themes)} thresholds, got {self.thresholds.shape}")
        self.metadata = dict(metadata or {})
        # Worked out from the fitted estimator once, then read: per model, not in
        # engage.caching, as they are only true of this estimator (see vectorise.py).
        self._coefs: dict[int, np.ndarray] = {}
        self._linear: tuple[np.ndarray, np.ndarray] | bool | None = None
        self.vectoriser = FastVectoriser()  # the fitted vectorizers' counting, faster
        self._feature_names: dict[int, np.ndarray] = {}  # see _names()
        self._logistic_weights()  # computed now, so a shared model is read-only afterwards
        self.speller = self._speller()

    def _speller(self) -> Speller | None:
        """A speller over the word vectorizer's single words, commonest (lowest idf) first."""
        union = getattr(self.estimator, "named_steps", {}).get("features")
        for name, vec in getattr(union, "transformer_list", []):
            if name == "word" and hasattr(vec, "idf_"):
                words = [(w, vec.idf_[i]) for w, i in vec.vocabulary_.items() if " " not in w]
                return Speller(
                    (w for w, _ in sorted(words, key=lambda wi: (wi[1], wi[0]))),
                    english=english_words(),
                )
        return None

    def clean(self, text: str) -> str:
        """A text as the features see it: normalise(), then mistyped words fixed."""
        cleaned = normalise(text)
        return self.speller.fix(cleaned) if self.speller is not None else cleaned

    @property
    def version(self) -> str:
        """Short identifier: design and training-data hash."""
        design = self.metadata.get("design", "model")
        return f"{design}-{str(self.metadata.get('training_sha256', ''))[:12]}"

    def read(self, texts: Sequence[str]) -> list[str]:
        """What the model reads of each text: clean(), then up to two paragraphs from
        either end dropped while, read alone, they reach END_PARAGRAPH_FLOOR for no
        theme (or, a first paragraph, the opening detector gives it OPENING_CUT) and
        another paragraph is left; a paragraph of more than END_PARAGRAPH_WORDS words
        is the body and stays. The ends of all *texts* are scored together, once a
        round: only texts of two paragraphs or more pay, and in the second round only
        those that lost one in the first."""
        paras = [PARAGRAPH_BREAK.split(self.clean(t)) for t in texts]
        pending = [i for i, ps in enumerate(paras) if len(ps) > 1]
        for _ in range(_END_PARAGRAPHS):
            ends = [
                (i, j)
                for i in pending
                for j in (0, len(paras[i]) - 1)
                if len(paras[i]) > 1 and len(paras[i][j].split()) <= END_PARAGRAPH_WORDS
            ]
            if not ends:
                break
            quiet = self._proba([paras[i][j] for i, j in ends]).max(axis=1) < END_PARAGRAPH_FLOOR
            introductions: set[int] = set()  # texts whose first paragraph introduces
            firsts = [
                k
                for k, (i, j) in enumerate(ends)
                if self.opening is not None and j == 0 and _WRITER.search(paras[i][0])
            ]
            if firsts:
                introduces = self._opening_proba([paras[ends[k][0]][0] for k in firsts])
                for k in np.asarray(firsts, dtype=np.int64)[introduces >= OPENING_CUT]:
                    quiet[k] = True
                    introductions.add(ends[k][0])
            dropped: dict[int, set[int]] = defaultdict(set)
            for (i, j), drop in zip(ends, quiet, strict=True):
                if drop:
                    dropped[i].add(j)
            pending = []  # a text's ends are scored again only when one went
            for i, js in dropped.items():
                kept = [p for j, p in enumerate(paras[i]) if j not in js]
                if not kept and i in introductions:
                    # An introduction above quiet words ("No comment."): the words are
                    # the message, theme-less as they are.
                    kept = paras[i][1:]
                if kept:  # every paragraph quiet: the text is read whole
                    paras[i] = kept
                    pending.append(i)
        return ["\n\n".join(ps) for ps in paras]

    def _opening_proba(self, paragraphs: list[str]) -> np.ndarray:
        """How surely each paragraph only introduces its writer (openings.py)."""
        union = self.opening.named_steps["features"]
        clf = self.opening.named_steps["clf"]
        X = sp.hstack(
            [self.vectoriser.transform(vec, paragraphs) for _, vec in union.transformer_list],
            format="csr",
        )
        return expit(X @ clf.coef_.ravel() + clf.intercept_[0])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, n_themes) array of per-theme probabilities."""
        return self._proba(self.read(texts))

    def _proba(self, cleaned: list[str]) -> np.ndarray:
        """Probabilities of texts already cleaned."""
        if not cleaned:
            return np.zeros((0, len(self.themes)))
        linear = self._logistic_weights()
        if linear is None:
            return np.asarray(self.estimator.predict_proba(cleaned), dtype=np.float64)
        # Same arithmetic as FeatureUnion.transform + LogisticRegression.predict_proba,
        # without sklearn's per-call validation (most of the time for a single item).
        union = self.estimator.named_steps["features"]
        X = sp.hstack(
            [self.vectoriser.transform(vec, cleaned) for _, vec in union.transformer_list],
            format="csr",
        )
        return expit(X @ linear[0] + linear[1]).astype(np.float64)

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
        cleaned = self.read([text])[0]
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


def _vocabularies_apart(estimator: Pipeline) -> tuple[Pipeline, dict[str, str]]:
    """*estimator* with its vectorizers' vocabularies taken out, and those vocabularies.

    A vocabulary is a dict of ~10^5 terms; skops writes a dict as a JSON node per key,
    which made a model file ~170 MB and loading it take seconds and ~400 MB of memory
    at its peak (issue #25's import-mail limit is 400 MB). Saved instead as one string
    per vectorizer, its terms in column order, it is a few MB and is rebuilt on load
    (_vocabularies_back). The fitted estimator itself is left as it was: the parts on
    the way down to each vectorizer are shallow copies.
    """
    union = getattr(estimator, "named_steps", {}).get("features")
    if not isinstance(union, FeatureUnion):
        return estimator, {}
    parts, vocabularies = [], {}
    for name, vec in union.transformer_list:
        vocab = getattr(vec, "vocabulary_", None)
        if isinstance(vec, TfidfVectorizer) and isinstance(vocab, dict):
            terms = sorted(vocab, key=vocab.__getitem__)
            in_order = all(vocab[t] == i for i, t in enumerate(terms))
            if in_order and not any(_TERM_SEPARATOR in t for t in terms):
                vec = copy.copy(vec)
                del vec.vocabulary_
                vocabularies[name] = _TERM_SEPARATOR.join(terms)
        parts.append((name, vec))
    if not vocabularies:
        return estimator, {}
    union = copy.copy(union)
    union.transformer_list = parts
    estimator = copy.copy(estimator)
    estimator.steps = [(n, union if n == "features" else step) for n, step in estimator.steps]
    return estimator, vocabularies


def _vocabularies_back(estimator: Pipeline, vocabularies: Any, path: Any) -> None:
    """Put the vocabularies _vocabularies_apart took out back into *estimator*."""
    if not isinstance(vocabularies, dict):
        raise UntrustedModelError(f"{path} has no vocabularies")
    union = estimator.named_steps.get("features")
    found = dict(getattr(union, "transformer_list", []))
    for name, joined in vocabularies.items():
        vec = found.get(name)
        if not isinstance(vec, TfidfVectorizer) or not isinstance(joined, str):
            raise UntrustedModelError(f"{path} has a vocabulary for no vectorizer ({name!r})")
        terms = joined.split(_TERM_SEPARATOR) if joined else []
        vec.vocabulary_ = {t: i for i, t in enumerate(terms)}
    for name, vec in found.items():
        if isinstance(vec, TfidfVectorizer) and not hasattr(vec, "vocabulary_"):
            raise UntrustedModelError(f"{path}: vectorizer {name!r} has no vocabulary")


def save(model: ThemeModel, path: str | os.PathLike) -> None:
    """Write *model* (estimator, thresholds, metadata) to one skops file, atomically.

    The vectorizers' vocabularies are written apart from the estimator, one string
    each (see _vocabularies_apart).
    """
    estimator, vocabularies = _vocabularies_apart(model.estimator)
    saved = {
        "format": FORMAT,
        "estimator": estimator,
        "vocabularies": vocabularies,
        "thresholds": np.asarray(model.thresholds, dtype=np.float64),
        "themes": list(model.themes),
        "metadata": json.dumps(model.metadata, sort_keys=True),
    }
    if model.opening is not None:
        saved["opening"], saved["opening_vocabularies"] = _vocabularies_apart(model.opening)
    storage.dump(saved, path)


def load(path: str | os.PathLike) -> ThemeModel:
    """Load a model saved by :func:`save`.

    Raises UntrustedModelError if the file holds any type outside storage.ALLOWED_TYPES
    or is not a theme model.
    """
    obj = storage.load(path)
    if not isinstance(obj, dict) or obj.get("format") not in _FORMATS:
        raise UntrustedModelError(f"{path} is not an {FORMAT} file")
    if not isinstance(obj.get("estimator"), Pipeline):
        raise UntrustedModelError(f"{path} does not hold a Pipeline")
    if obj["format"] == FORMAT:
        _vocabularies_back(obj["estimator"], obj.get("vocabularies"), path)
    opening = obj.get("opening")
    if opening is not None:
        if not isinstance(opening, Pipeline):
            raise UntrustedModelError(f"{path} holds an opening detector that is not a Pipeline")
        _vocabularies_back(opening, obj.get("opening_vocabularies"), path)
    return ThemeModel(
        obj["estimator"],
        obj["thresholds"],
        json.loads(obj["metadata"]),
        themes=obj["themes"],
        opening=opening,
    )
