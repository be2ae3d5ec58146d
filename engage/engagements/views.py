"""Public pages: the list of engagements and one engagement."""

from __future__ import annotations

from flask import abort, render_template

from engage.engagements import bp, service
from engage.util import utcnow


@bp.get("/")
def index():
    """List every engagement, open ones first."""
    today = utcnow().date()
    engagements = service.list_engagements()
    open_now = [e for e in engagements if e.is_open(today)]
    closed = [e for e in engagements if not e.is_open(today)]
    return render_template("engagements/index.html", open_now=open_now, closed=closed, today=today)


@bp.get("/engagements/<slug>")
def show(slug: str):
    """Show one engagement: dates, how to respond and headline numbers."""
    engagement = service.get_by_slug(slug)
    if engagement is None:
        abort(404)
    return render_template(
        "engagements/show.html",
        engagement=engagement,
        figures=service.figures(engagement),
        today=utcnow().date(),
    )
