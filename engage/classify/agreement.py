"""How each model version's tags compare with the themes staff gave the same items.

A version's held-out and cross-validated scores are measured on text the project
wrote, and real comments score well below them (docs/data-card.md, issue #18). An item
staff reviewed after a version tagged it carries labels nobody in the project wrote,
so these figures measure the version on the organisation's own feedback. What counts:

- only whole decisions (the item page, a campaign group): a bulk "add/remove a theme"
  decides one theme and carries the model's other tags over, which would score the
  model against itself (``FeedbackItem.themes_reviewed_whole``);
- only items every staff decision on which came after the version tagged them: an
  item tagged again after a review (by a version that may have learned from it) does
  not count while it keeps a staff tag from before;
- a campaign group once (its lowest-numbered counted member): 300 copies of one letter
  are one text to judge the model on.

Staff see the model's tags while they review, and tend to review the doubtful items
first, so the figures are a guide, not a blind test. No Flask here; the caller's
session is used for a few read-only queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from engage.classify.models import ModelVersion
from engage.extensions import db
from engage.feedback.models import FeedbackItem, TagSource, Theme, ThemeTag

# Below this many reviewed items a version's macro-F1 says more about chance than about
# the model; the counts are still shown.
MIN_ITEMS = 30


@dataclass(frozen=True)
class ThemeAgreement:
    """One theme: items both tagged (tp), the model only (fp), staff only (fn)."""

    slug: str
    name: str
    both: int = 0
    model_only: int = 0
    staff_only: int = 0

    @property
    def precision(self) -> float | None:
        """Of the model's tags for this theme, the share staff kept."""
        tagged = self.both + self.model_only
        return self.both / tagged if tagged else None

    @property
    def recall(self) -> float | None:
        """Of staff's items with this theme, the share the model had tagged."""
        wanted = self.both + self.staff_only
        return self.both / wanted if wanted else None

    @property
    def f1(self) -> float | None:
        """F1, or None when neither the model nor staff gave the theme to any item."""
        seen = 2 * self.both + self.model_only + self.staff_only
        return 2 * self.both / seen if seen else None


@dataclass(frozen=True)
class VersionAgreement:
    """A model version against staff review, over ``items`` reviewed items."""

    version: str
    items: int
    themes: tuple[ThemeAgreement, ...]

    @property
    def macro_f1(self) -> float | None:
        """Mean F1 over the themes either side gave; None below MIN_ITEMS items."""
        scores = [t.f1 for t in self.themes if t.f1 is not None]
        if self.items < MIN_ITEMS or not scores:
            return None
        return sum(scores) / len(scores)

    def as_dict(self) -> dict:
        return {
            "version": self.version,
            "reviewed_items": self.items,
            "macro_f1": self.macro_f1,
            "themes": {
                t.slug: {
                    "both": t.both,
                    "model_only": t.model_only,
                    "staff_only": t.staff_only,
                    "precision": t.precision,
                    "recall": t.recall,
                    "f1": t.f1,
                }
                for t in self.themes
            },
        }


def _reviewed_after_tagging() -> tuple:
    """Conditions on FeedbackItem for an item that counts (see the module's docstring)."""
    staff = aliased(ThemeTag)  # its own rows, whatever tag table the outer query reads
    earlier_staff_tag = (
        select(staff.id)
        .where(
            staff.item_id == FeedbackItem.id,
            staff.source == TagSource.STAFF,
            staff.created_at < FeedbackItem.classified_at,
        )
        .correlate(FeedbackItem)
        .exists()
    )
    return (
        FeedbackItem.themes_reviewed_at.is_not(None),
        FeedbackItem.themes_reviewed_whole.is_(True),
        FeedbackItem.model_version.is_not(None),
        FeedbackItem.classified_at.is_not(None),
        FeedbackItem.classified_at <= FeedbackItem.themes_reviewed_at,
        ~earlier_staff_tag,
    )


def _counted() -> tuple:
    """_reviewed_after_tagging(), and one member of each campaign group."""
    reviewed = _reviewed_after_tagging()
    first_of_group = (
        select(func.min(FeedbackItem.id))
        .where(FeedbackItem.duplicate_group_id.is_not(None), *reviewed)
        .group_by(FeedbackItem.duplicate_group_id)
        .correlate(None)  # its own scan of the groups, not the outer row's
    )
    return (
        *reviewed,
        FeedbackItem.duplicate_group_id.is_(None) | FeedbackItem.id.in_(first_of_group),
    )


def staff_agreement() -> dict[str, VersionAgreement]:
    """Per model version with any item reviewed after it tagged it, its agreement,
    oldest version first."""
    reviewed = _counted()
    items = dict(
        db.session.execute(
            select(FeedbackItem.model_version, func.count())
            .where(*reviewed)
            .group_by(FeedbackItem.model_version)
        ).all()
    )
    if not items:
        return {}
    # One row per (item, theme) that either side tagged: did the model, did staff?
    by_model = func.max(case((ThemeTag.source == TagSource.MODEL, 1), else_=0))
    by_staff = func.max(case((ThemeTag.source == TagSource.STAFF, 1), else_=0))
    pairs = (
        select(
            FeedbackItem.model_version.label("version"),
            ThemeTag.theme_id,
            by_model.label("m"),
            by_staff.label("s"),
        )
        .join(FeedbackItem, FeedbackItem.id == ThemeTag.item_id)
        .where(*reviewed)
        .group_by(FeedbackItem.model_version, ThemeTag.item_id, ThemeTag.theme_id)
        .subquery()
    )
    counts = db.session.execute(
        select(
            pairs.c.version,
            pairs.c.theme_id,
            func.sum(pairs.c.m * pairs.c.s),
            func.sum(pairs.c.m * (1 - pairs.c.s)),
            func.sum((1 - pairs.c.m) * pairs.c.s),
        ).group_by(pairs.c.version, pairs.c.theme_id)
    ).all()
    found = {(version, theme_id): (tp, fp, fn) for version, theme_id, tp, fp, fn in counts}
    themes = db.session.execute(
        select(Theme.id, Theme.slug, Theme.name).order_by(Theme.position, Theme.id)
    ).all()
    oldest_first = db.session.scalars(select(ModelVersion.version).order_by(ModelVersion.id))
    order = {version: i for i, version in enumerate(oldest_first)}
    return {
        version: VersionAgreement(
            version,
            n,
            tuple(
                ThemeAgreement(slug, name, *(int(x or 0) for x in found.get((version, tid), ())))
                for tid, slug, name in themes
            ),
        )
        for version, n in sorted(items.items(), key=lambda vn: order.get(vn[0], len(order)))
    }
