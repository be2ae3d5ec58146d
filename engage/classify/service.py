"""Training, activating and applying theme models inside the app.

numpy, scikit-learn and skops (engage.classify.corpus, .model, .training and the
modules they use) are imported only when a model is trained, loaded or applied:
importing them costs seconds of CPU, and every process that builds the app (a web
worker, `engage import-mail` before its first batch) imports this module without
needing them yet.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import case, delete, func, insert, select, update

from engage import caching, claiming
from engage.classify.models import ModelVersion
from engage.extensions import db
from engage.feedback import tally
from engage.feedback.models import PLACEHOLDER, FeedbackItem, TagSource, Theme, ThemeTag
from engage.languages import routing
from engage.util import utcnow

if TYPE_CHECKING:
    import numpy as np

    from engage.classify.model import ThemeModel

log = logging.getLogger(__name__)

# A new model replaces the active one only if its held-out macro-F1 is not lower by more
# than this (noise between two fits on nearly the same data).
TOLERANCE = 0.005

# The loaded active model, by its file: one at a time, since a model file never changes
# under its name and a new active version has a new file (so no lifetime is needed).
_cache = caching.named_cache("classify_model", maxsize=1, seconds=None)
# One thread loads a model at a time (it takes seconds and much memory); the others
# wait for it rather than load a second copy.
_load_lock = threading.Lock()


class NoModelError(RuntimeError):
    """There is no usable active model (none trained, or its file cannot be loaded)."""


def model_dir() -> Path:
    path = Path(current_app.config["ENGAGE_MODEL_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def active_version() -> ModelVersion | None:
    """The registry row of the active model, if any."""
    return db.session.scalar(select(ModelVersion).where(ModelVersion.active.is_(True)))


def load_active() -> tuple[ThemeModel, ModelVersion]:
    """The active model, loaded once per process (see ``_cache``); raises NoModelError."""
    row = active_version()
    if row is None:
        raise NoModelError("No theme model has been trained yet (run `engage train`)")
    key = f"{model_dir()}/{row.file_name}"
    model = _cache.get(key)
    if model is None:
        with _load_lock:
            model = _cache.get_or_make(key, lambda: _load(row))
    return model, row


def _load(row: ModelVersion) -> ThemeModel:
    from engage.classify import model

    try:
        return model.load(model_dir() / row.file_name)
    except Exception as error:  # a missing, corrupt or untrusted file alike
        raise NoModelError(f"The model file for {row.version} cannot be used: {error}") from error


def staff_labels() -> tuple[list[str], np.ndarray]:
    """Texts and label rows of every item whose themes staff have set or confirmed.

    An item staff reviewed and left with no theme is a training example of "none".
    """
    import numpy as np

    from engage.classify.corpus import THEMES

    staff_tag = (ThemeTag.item_id == FeedbackItem.id) & (ThemeTag.source == TagSource.STAFF)
    # Issue 24: an item's English translation is what it teaches; an item still waiting
    # for one teaches nothing (the model reads English).
    english_text = func.coalesce(FeedbackItem.translation, FeedbackItem.text)
    rows = db.session.execute(
        select(FeedbackItem.id, english_text, Theme.slug)
        .outerjoin(ThemeTag, staff_tag)
        .outerjoin(Theme, Theme.id == ThemeTag.theme_id)
        .where(FeedbackItem.themes_reviewed_at.is_not(None) | ThemeTag.id.is_not(None))
        # A text emptied under the retention policy teaches nothing.
        .where(FeedbackItem.text != PLACEHOLDER)
        .where(FeedbackItem.needs_translation.is_(False))
        .order_by(FeedbackItem.id)
    ).all()
    by_item: dict[int, tuple[str, set[str]]] = {}
    for item_id, text, slug in rows:
        slugs = by_item.setdefault(item_id, (text, set()))[1]
        if slug is not None:
            slugs.add(slug)
    texts = [text for text, _ in by_item.values()]
    labels = np.array(
        [[int(t in slugs) for t in THEMES] for _, slugs in by_item.values()],
        dtype=np.int64,
    ).reshape(len(texts), len(THEMES))
    return texts, labels


@dataclass
class TrainResult:
    """What `engage train` did."""

    version: str
    activated: bool
    reason: str
    n_train: int
    n_staff_labels: int
    cv: dict = field(default_factory=dict)
    holdout: dict | None = None
    previous: str | None = None

    def as_dict(self) -> dict:
        return {
            "version": self.version,
            "activated": self.activated,
            "reason": self.reason,
            "n_train": self.n_train,
            "n_staff_labels": self.n_staff_labels,
            "cv_macro_f1": self.cv.get("macro_f1"),
            "holdout_macro_f1": (self.holdout or {}).get("macro_f1"),
            "previous_version": self.previous,
        }


class NoTrainingDataError(RuntimeError):
    """There is nothing to train on: no seed corpus and no staff labels."""


def train_model(*, force: bool = False, corpus: list[Path] | None = None) -> TrainResult:
    """Train on the seed corpus plus staff labels, store it, activate it if not worse.

    Raises NoTrainingDataError when there is no seed corpus and no staff label.
    """
    import numpy as np

    from engage.classify import corpus as seed
    from engage.classify import training
    from engage.classify.model import save

    paths = corpus if corpus is not None else seed.default_corpus_paths()
    texts, labels = seed.load_corpus(paths) if paths else ([], np.zeros((0, 5), int))
    extra_texts, extra_labels = staff_labels()
    if not texts and not extra_texts:
        raise NoTrainingDataError(
            "No seed corpus (engage/classify/data/corpus/part_*.csv) and no staff labels"
        )
    all_texts = list(texts) + extra_texts
    all_labels = np.vstack([labels, extra_labels]) if len(extra_texts) else labels
    model = training.train(all_texts, all_labels)
    holdout = None
    if seed.HOLDOUT_PATH.exists():
        holdout_texts, holdout_labels = seed.load_corpus(seed.HOLDOUT_PATH)
        holdout = training.evaluate(model, holdout_texts, holdout_labels)
    number = (db.session.scalar(select(func.count()).select_from(ModelVersion)) or 0) + 1
    sha = model.metadata["training_sha256"]
    version = f"v{number}-{sha[:8]}"
    file_name = f"{version}.skops"
    save(model, model_dir() / file_name)
    row = ModelVersion(
        version=version,
        design=model.metadata["design"],
        file_name=file_name,
        n_train=len(all_texts),
        n_staff_labels=len(extra_texts),
        training_sha256=sha,
        cv_metrics=model.metadata["cv"],
        holdout_metrics=holdout,
        thresholds=model.metadata["thresholds"],
    )
    db.session.add(row)
    current = active_version()
    activated, reason = _should_activate(row, current, force)
    if activated:
        _activate(row)
    db.session.flush()  # the caller's unit of work commits (engage train: transaction())
    return TrainResult(
        version=version,
        activated=activated,
        reason=reason,
        n_train=row.n_train,
        n_staff_labels=row.n_staff_labels,
        cv=row.cv_metrics,
        holdout=holdout,
        previous=current.version if current else None,
    )


def _should_activate(
    new: ModelVersion, current: ModelVersion | None, force: bool
) -> tuple[bool, str]:
    if current is None:
        return True, "no model was active"
    if force:
        return True, "forced"
    new_score, old_score = new.holdout_macro_f1, current.holdout_macro_f1
    if new_score is None or old_score is None:
        new_score = new.cv_metrics.get("macro_f1", 0.0)
        old_score = current.cv_metrics.get("macro_f1", 0.0)
    if new_score + TOLERANCE >= old_score:
        return True, f"macro-F1 {new_score:.3f} is not worse than {old_score:.3f}"
    return False, f"macro-F1 {new_score:.3f} is worse than the active {old_score:.3f}"


def _activate(row: ModelVersion) -> None:
    for other in db.session.scalars(select(ModelVersion).where(ModelVersion.active.is_(True))):
        other.active = False
    db.session.flush()
    row.active = True
    row.activated_at = utcnow()


def activate(version: str) -> ModelVersion:
    """Make an earlier (or any) stored version the active one; raises LookupError."""
    row = db.session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        raise LookupError(f"There is no model version {version!r}")
    from engage.classify import model

    model.load(model_dir() / row.file_name)  # refuse a version whose file is unusable
    _activate(row)
    db.session.flush()  # the caller's unit of work commits
    return row


def ensure_model() -> TrainResult | None:
    """Train the default model when there is no usable active one; else do nothing."""
    try:
        load_active()
    except NoModelError:
        return train_model(force=True)
    return None


# Below this probability a theme is not worth offering as a suggestion.
SUGGESTION_FLOOR = 0.15


def suggest_themes(
    text: str, n: int = 2, *, floor: float = SUGGESTION_FLOOR
) -> list[tuple[str, float]]:
    """The ``n`` likeliest themes of ``text`` by the active model, as (slug,
    probability), likeliest first, each at or above ``floor``, whether or not it is
    over its threshold. Empty without a usable model: suggestions are never worth an
    error."""
    try:
        model, _ = load_active()
    except NoModelError:
        return []
    proba = model.predict_proba([text])[0]
    ranked = sorted(zip(model.themes, proba, strict=True), key=lambda pair: -pair[1])
    return [(slug, float(p)) for slug, p in ranked[: max(n, 0)] if p >= floor]


def _themes_by_slug() -> dict[str, Theme]:
    return {t.slug: t for t in db.session.scalars(select(Theme))}


def classify_item(item: FeedbackItem) -> None:
    """Post-commit step: tag one new item; without a usable model it stays for the worker."""
    try:
        model, row = load_active()
    except NoModelError as error:
        # str(): a log record holding the exception would keep its frames (and item) alive.
        log.warning("%s left unclassified: %s", item.reference, str(error))
        return
    # The same few statements as a batch: no ORM tag objects to load and flush. A
    # worker's sweep may have taken the item meanwhile: then it is left to it.
    _write_tags([(item.id, item.text)], model, row.version, owed_only=True)


def classify_batch(rows: list[tuple[int, str]], *, owed_only: bool = False) -> int:
    """Batch entry point: tag committed items, given as (id, text), with one prediction.

    Does for each item what classify_item() does (replaces the model's tags; sets
    classified_at, model_version and certainty) in a few statements for the whole batch,
    then commits. Without a usable model the items stay unclassified for the worker's
    sweep. ``owed_only`` (the post-commit step): tag only the items no one has
    classified yet, claimed in the same transaction (engage.claiming), so a worker's
    sweep running at the same moment never tags one twice; without it every item is
    classified again. Returns how many items were tagged.
    """
    if not rows:
        return 0
    try:
        model, row = load_active()
    except NoModelError as error:
        log.warning("%s items left unclassified: %s", len(rows), str(error))
        return 0
    return _write_tags(rows, model, row.version, owed_only=owed_only)


def _write_tags(
    rows: list[tuple[int, str]],
    model: ThemeModel,
    version: str,
    *,
    owed_only: bool,
) -> int:
    """Predict, replace the model's tags and mark the items classified; commit.

    The prediction is made before the write lock is taken (on SQLite it is the
    database's one lock). With ``owed_only``, only the items still unclassified once
    claimed are written. Returns how many items were written.
    """
    plan = plan_tags(rows, model, version)
    with claiming.writing():
        if owed_only:
            plan = plan.only(
                claiming.claim(plan.ids, FeedbackItem.classified_at.is_(None), of=FeedbackItem)
            )
        if plan.ids:
            apply_tag_plan(plan)
        # Kept here: the claim and the tags it writes commit together inside
        # claiming.writing(), so the write lock or row locks are held only that long.
        db.session.commit()
    return len(plan.ids)


@dataclass(frozen=True)
class TagPlan:
    """What classifying a batch will write: made without writing anything."""

    ids: list[int]
    tags: list[dict]
    certainty: dict[int, float]
    version: str
    at: datetime
    # Issue 24 (engage.languages.routing): languages detected in this batch, and the
    # items not in English that wait for a translation (no tags, no certainty).
    languages: dict[int, str] = field(default_factory=dict)
    untranslated: frozenset[int] = frozenset()

    def only(self, ids: Collection[int]) -> TagPlan:
        """The same plan for only these of its items."""
        keep = set(ids)
        return TagPlan(
            [item_id for item_id in self.ids if item_id in keep],
            [tag for tag in self.tags if tag["item_id"] in keep],
            {item_id: c for item_id, c in self.certainty.items() if item_id in keep},
            self.version,
            self.at,
            {item_id: code for item_id, code in self.languages.items() if item_id in keep},
            self.untranslated & keep,
        )


def plan_tags(rows: list[tuple[int, str]], model: ThemeModel, version: str) -> TagPlan:
    """Predict the themes of committed items, given as (id, text), in one call.

    Items not in English are not given to the model (see engage.languages.routing).
    """
    import numpy as np

    themes = dict(db.session.execute(select(Theme.slug, Theme.id)).all())
    ids = [item_id for item_id, _ in rows]
    routed = routing.route(rows)  # issue 24: by language; translations replace the text
    proba = model.predict_proba([text for _, text in routed.rows]) if routed.rows else []
    now = utcnow()
    tags: list[dict] = []
    certainty: dict[int, float] = {}
    for (item_id, _), scores in zip(routed.rows, proba, strict=True):
        for slug, p, threshold in zip(model.themes, scores, model.thresholds, strict=True):
            if p >= threshold and slug in themes:
                tags.append(
                    {
                        "item_id": item_id,
                        "theme_id": themes[slug],
                        "source": TagSource.MODEL,
                        "confidence": float(p),
                        "model_version": version,
                        "created_at": now,
                    }
                )
        # Distance of the closest theme to its threshold: small means hesitation.
        certainty[item_id] = float(np.min(np.abs(scores - model.thresholds)))
    return TagPlan(
        ids, tags, certainty, version, now, routed.languages, frozenset(routed.untranslated)
    )


def apply_tag_plan(plan: TagPlan, *, acknowledged: Collection[int] = ()) -> None:
    """Replace the items' model tags and mark them classified (the caller commits).

    ``acknowledged``: items whose acknowledgement the caller queued in this same
    transaction; the one UPDATE that marks the batch classified also clears their
    ack_pending, so each row is rewritten once rather than twice.
    """
    # The items' counts by theme move with their tags (read locked, before the change).
    before = tally.read_states(db.session(), plan.ids, lock=True)
    db.session.execute(
        delete(ThemeTag).where(ThemeTag.item_id.in_(plan.ids), ThemeTag.source == TagSource.MODEL)
    )
    if plan.tags:
        # One multi-row INSERT: an executemany is a statement per row for PostgreSQL.
        db.session.execute(insert(ThemeTag.__table__).values(plan.tags))
    tally.apply(tally.retagged(before, plan.tags))
    table = FeedbackItem.__table__
    values = {
        "classified_at": plan.at,
        "model_version": plan.version,
        # One UPDATE for the batch, not one per item: the certainty is picked by id.
        "certainty": case(plan.certainty, value=table.c.id) if plan.certainty else None,
        # Issue 24: an item the model did not read needs a translation; every other
        # item of the batch no longer does.
        "needs_translation": table.c.id.in_(list(plan.untranslated))
        if plan.untranslated
        else False,
    }
    if plan.untranslated:
        values["model_version"] = case(
            (table.c.id.in_(list(plan.untranslated)), None), else_=plan.version
        )
    if plan.languages:
        values["language"] = case(plan.languages, value=table.c.id, else_=table.c.language)
    if acknowledged:
        values["ack_pending"] = case(
            (table.c.id.in_(list(acknowledged)), False), else_=table.c.ack_pending
        )
    db.session.execute(update(table).where(table.c.id.in_(plan.ids)).values(**values))


def classify_pending(limit: int = 2000, batch_size: int = 500) -> int:
    """Classify items no model has tagged yet (the worker's sweep); return how many.

    A batch at a time, each claimed with FOR UPDATE SKIP LOCKED on PostgreSQL (two
    workers sweeping at once take different batches) and tagged and committed in the
    same transaction; see engage.claiming. On SQLite a batch that another process
    tagged first is found done when claimed, and the next is read.
    """
    done = 0
    active = None
    while done < limit:
        rows = db.session.execute(
            claiming.for_claim(
                select(FeedbackItem.id, FeedbackItem.text)
                .where(FeedbackItem.classified_at.is_(None))
                .order_by(FeedbackItem.id)
                .limit(min(batch_size, limit - done)),
                of=FeedbackItem,
            )
        ).all()
        if not rows:
            break
        if active is None:
            try:
                active = load_active()
            except NoModelError as error:
                db.session.rollback()  # let go of the claimed rows
                # Not an accident to trace every minute: say what waits, and why, in one line.
                log.warning("%s items wait for a theme model: %s", len(rows), str(error))
                return done
        model, row = active
        done += _write_tags([tuple(r) for r in rows], model, row.version, owed_only=True)
        if len(rows) < batch_size:
            break
    return done
