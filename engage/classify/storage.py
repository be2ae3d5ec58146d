"""Model files: skops only, loaded against an explicit allow-list of types.

skops refuses unknown types by default but trusts every scikit-learn estimator and
many numpy/scipy callables. A model file is data an attacker might replace, so
``load`` goes further: it lists every type and function named anywhere in the file
and refuses the file unless all of them are in ALLOWED_TYPES, the exact set a saved
theme model needs. One class of this project's is in the saved graph, the lexicon
features (lexicon.LexiconFeatures, whose saved state is a list of phrases that it escapes
before matching); text normalisation happens outside the pipeline.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import skops.io as sio

__all__ = ["ALLOWED_TYPES", "UntrustedModelError", "dump", "load", "types_in"]

# Everything the designs in designs.DESIGNS put into a saved file, and no more.
ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.str",
        "builtins.tuple",
        "numpy.ndarray",
        "numpy.float32",
        "numpy.float64",
        "numpy.int64",
        "sklearn.pipeline.Pipeline",
        "sklearn.pipeline.FeatureUnion",
        "sklearn.feature_extraction.text.TfidfVectorizer",
        "sklearn.feature_extraction.text.TfidfTransformer",
        "sklearn.multiclass.OneVsRestClassifier",
        "sklearn.preprocessing._label.LabelBinarizer",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._stochastic_gradient.SGDClassifier",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn.svm._classes.LinearSVC",
        "sklearn.calibration.CalibratedClassifierCV",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.naive_bayes.ComplementNB",
        # The theme lexicon's features: phrases are stored as strings and escaped when
        # compiled (lexicon.compile_phrase), so the file holds data, never a pattern.
        "engage.classify.lexicon.LexiconFeatures",
    }
)


class UntrustedModelError(ValueError):
    """A model file holds types outside the allow-list, or is not a model file."""


def dump(obj: Any, path: str | os.PathLike) -> None:
    """Write *obj* with skops.io to *path*, atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        sio.dump(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def types_in(path: str | os.PathLike) -> set[str]:
    """Every type and function named anywhere in a skops file's schema."""
    with zipfile.ZipFile(path) as zf:
        schema = json.loads(zf.read("schema.json"))
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                found.add(f"{node['__module__']}.{node['__class__']}")
            if isinstance(node.get("module_path"), str):  # a function reference
                found.add(f"{node['module_path']}.{node.get('function')}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def load(path: str | os.PathLike) -> Any:
    """Load a skops file whose every type is in ALLOWED_TYPES.

    Raises UntrustedModelError naming the unexpected types, or if the file is not a
    skops file at all.

    The file's schema is read once here to list its types; skops's own audit
    (``get_untrusted_types``) would build the whole object tree a second time just to
    list them, which costs about as much as loading the model. skops.io.load still
    audits the tree and refuses any type it finds outside ``trusted``, so a type this
    listing missed makes the load fail rather than pass.
    """
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        present = types_in(path)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UntrustedModelError(f"{path} is not a skops model file: {exc}") from exc
    unexpected = present - ALLOWED_TYPES
    if unexpected:
        raise UntrustedModelError(f"{path} contains unexpected types: {sorted(unexpected)}")
    # Only the types just checked against the allow-list are passed as trusted.
    try:
        return sio.load(path, trusted=sorted(present))
    except UntrustedTypesFoundException as exc:
        raise UntrustedModelError(f"{path} contains unexpected types: {exc}") from exc
