"""Concerns the public may see: those answered by a published response. No texts."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from flask import Blueprint, jsonify
from flask import Response as HttpResponse
from sqlalchemy import func, select

from engage.concerns.models import Concern, ConcernItem
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import Theme
from engage.public.serialize import LICENCE_NAME, LICENCE_URL, iso
from engage.publish.models import Response, ResponseState
from engage.util import spreadsheet_safe, utcnow
from engage.web import public_url

bp = Blueprint("concerns_public", __name__)

COLUMNS = ("engagement", "theme", "concern", "people", "response_url")


@dataclass(frozen=True)
class PublicConcern:
    engagement_slug: str
    engagement_title: str
    theme: str
    label: str
    draft: str
    people: int
    response_id: int


def published(engagement: Engagement | None = None) -> list[PublicConcern]:
    """Concerns not hidden whose response is published, largest first."""
    people = (
        select(ConcernItem.concern_id, func.count(ConcernItem.id).label("n"))
        .group_by(ConcernItem.concern_id)
        .subquery()
    )
    query = (
        select(Concern, Engagement, Theme, people.c.n, Response)
        .join(Engagement, Engagement.id == Concern.engagement_id)
        .join(Theme, Theme.id == Concern.theme_id)
        .join(Response, Response.id == Concern.response_id)
        .outerjoin(people, people.c.concern_id == Concern.id)
        .where(Response.state == ResponseState.PUBLISHED, Concern.hidden.is_(False))
        .order_by(Engagement.id, Theme.position, people.c.n.desc(), Concern.id)
    )
    if engagement is not None:
        query = query.where(Concern.engagement_id == engagement.id)
    return [
        PublicConcern(
            engagement_slug=e.slug,
            engagement_title=e.title,
            theme=t.name,
            label=c.label,
            draft=r.you_said,
            people=n or 0,
            response_id=r.id,
        )
        for c, e, t, n, r in db.session.execute(query)
    ]


def _dicts() -> list[dict]:
    return [
        {
            "engagement": c.engagement_slug,
            "theme": c.theme,
            "concern": c.label,
            "people": c.people,
            "response_url": public_url("public.response", response_id=c.response_id),
        }
        for c in published()
    ]


@bp.get("/open-data/concerns.json")
def concerns_json():
    """Download the concerns that have a published response, as JSON (no feedback text)."""
    return jsonify(
        {
            "licence": {"name": LICENCE_NAME, "url": LICENCE_URL},
            "generated_at": iso(utcnow()),
            "concerns": _dicts(),
        }
    )


@bp.get("/open-data/concerns.csv")
def concerns_csv():
    """Download the concerns that have a published response, as CSV (no feedback text)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in _dicts():
        writer.writerow([spreadsheet_safe(row[c]) for c in COLUMNS])
    return HttpResponse(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="concerns.csv"'},
    )


bp.add_app_template_global(published, "published_concerns")
# The open-data page (engage.public, a lower layer) lists the files' columns.
bp.add_app_template_global(COLUMNS, "concern_columns")
