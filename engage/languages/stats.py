"""How many comments were written in each language (issue 24): counts, never texts.

For the open data (language-counts.csv and .json, and a "languages" list in the
comment counts' JSON) and the API's engagement statistics. The comments counted are
those every public figure counts (engagements.service.counted_comments): about an
engagement, not spam, not a reply to a response. A comment whose language is not
detected yet is counted under "".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import FeedbackItem
from engage.feedback.queries import counted_comments

COLUMNS = ("engagement", "language", "comments")


@dataclass(frozen=True)
class LanguageCount:
    engagement: str  # the engagement's slug
    language: str  # an ISO 639-1 code, or "" when not detected yet
    comments: int


def language_counts(engagement_ids: list[int] | None = None) -> list[LanguageCount]:
    """Counted comments by engagement and language, sorted by engagement then language."""
    query = (
        select(Engagement.slug, FeedbackItem.language, func.count(FeedbackItem.id))
        .join(Engagement, Engagement.id == FeedbackItem.engagement_id)
        .where(counted_comments())
        .group_by(Engagement.slug, FeedbackItem.language)
    )
    if engagement_ids is not None:
        query = query.where(FeedbackItem.engagement_id.in_(engagement_ids))
    rows = [
        LanguageCount(slug, language or "", n) for slug, language, n in db.session.execute(query)
    ]
    return sorted(rows, key=lambda r: (r.engagement, r.language))


def languages_of(engagement: Engagement) -> dict[str, int]:
    """{language: comments} for one engagement, most comments first."""
    counts = language_counts([engagement.id])
    return dict(sorted(((r.language, r.comments) for r in counts), key=lambda lc: (-lc[1], lc[0])))


def as_dicts(rows: list[LanguageCount]) -> list[dict[str, object]]:
    return [
        {"engagement": r.engagement, "language": r.language, "comments": r.comments} for r in rows
    ]
