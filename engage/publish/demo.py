"""Demo responses: published answers to the demo feedback, from a CSV the team writes."""

from __future__ import annotations

import csv
import logging
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select

from engage.engagements import service as engagements
from engage.extensions import db
from engage.feedback.models import FeedbackItem, Status, Theme
from engage.feedback.queries import current_tags
from engage.publish import service
from engage.publish.models import Response, ResponseStatus

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent.parent / "demo" / "data" / "responses.csv"
ITEMS_PER_RESPONSE = 6


def _matching_items(engagement_id: int, theme_ids: list[int], before: datetime) -> list[int]:
    """Ids of a few of an engagement's items carrying one of the themes, sent before a date."""
    if not theme_ids:
        return []
    where = (
        (FeedbackItem.engagement_id == engagement_id)
        & (FeedbackItem.submitted_at <= before)
        & (FeedbackItem.status != Status.SPAM)
    )
    tags = current_tags(where)
    return list(
        db.session.scalars(
            select(tags.c.item_id)
            .where(tags.c.theme_id.in_(theme_ids))
            .distinct()
            .order_by(tags.c.item_id)
            .limit(ITEMS_PER_RESPONSE)
        )
    )


def load_demo_responses(engagement_keys_to_slugs: dict[str, str], path: Path = DATA) -> int:
    """Publish the demo responses of ``responses.csv``; return how many were created.

    Columns: engagement (a key of ``engagement_keys_to_slugs``), themes (``;``-separated
    slugs), you_said, we_did, status, days_after_open. Rows already loaded, or for
    unknown engagements, are skipped; no email is sent. Returns 0 without the file.
    Commits.
    """
    if not path.exists():
        return 0
    themes = {t.slug: t for t in db.session.scalars(select(Theme))}
    created = 0
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            slug = engagement_keys_to_slugs.get((row.get("engagement") or "").strip())
            engagement = engagements.get_by_slug(slug) if slug else None
            if engagement is None:
                log.warning(
                    "demo response for unknown engagement %r skipped", row.get("engagement")
                )
                continue
            you_said = (row.get("you_said") or "").strip()
            exists = db.session.scalar(
                select(Response.id).where(
                    Response.engagement_id == engagement.id, Response.you_said == you_said
                )
            )
            if exists:
                continue
            chosen = [themes[s] for s in (row.get("themes") or "").split(";") if s in themes]
            days = int(row.get("days_after_open") or 0)
            published_at = datetime.combine(engagement.opens_on + timedelta(days=days), time(10))
            item_ids = _matching_items(engagement.id, [t.id for t in chosen], published_at)
            items = [db.session.get(FeedbackItem, i) for i in item_ids]
            try:
                status = ResponseStatus((row.get("status") or "").strip())
            except ValueError:
                status = ResponseStatus.UNDER_CONSIDERATION
            response = service.create_draft(
                engagement=engagement,
                you_said=you_said,
                we_did=row.get("we_did") or "",
                status=status,
                themes=chosen,
                items=[i for i in items if i is not None],
                by="demo@engage.example.org",
            )
            for revision in response.revisions:
                revision.at = published_at
            response.created_at = published_at
            service.publish(response, by="demo@engage.example.org", at=published_at, notify=False)
            db.session.commit()
            created += 1
    return created
