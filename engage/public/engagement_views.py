"""Public pages: the list of engagements and one engagement, with its feedback form.

The ``engagements`` blueprint (endpoints ``engagements.index`` and
``engagements.show``); the form posts to engage.public.feedback_views."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from engage.engagements import service
from engage.engagements.models import Engagement
from engage.feedback import queries as feedback_queries
from engage.feedback.forms import FeedbackForm
from engage.pagecache import cached_page
from engage.publish import queries as publish_queries
from engage.publish import service as publish
from engage.util import utcnow

bp = Blueprint("engagements", __name__)

# The engagement page shows this many of the newest responses; the log has them all.
TABLE_LIMIT = 30


@bp.get("/")
@cached_page()
def index():
    """List every engagement, open ones first."""
    today = utcnow().date()
    engagements = service.list_engagements()
    open_now = [e for e in engagements if e.is_open(today)]
    closed = [e for e in engagements if not e.is_open(today)]
    return render_template("engagements/index.html", open_now=open_now, closed=closed, today=today)


def render_engagement_page(engagement: Engagement, form=None, status: int = 200):
    """Render an engagement's page with its feedback form (fresh, or with errors)."""
    if form is None:
        form = FeedbackForm()
    form.set_areas(engagement.areas or [])
    return (
        render_template(
            "engagements/show.html",
            engagement=engagement,
            figures=feedback_queries.figures(engagement),
            today=utcnow().date(),
            form=form,
            responses=publish.published_for(engagement, limit=TABLE_LIMIT),
            responses_total=sum(publish_queries.status_counts(engagement).values()),
            responsiveness=publish.responsiveness(engagement),
        ),
        status,
    )


@bp.get("/engagements/<slug>")
@cached_page(counts_feedback=True, csrf=True)
def show(slug: str):
    """Show one engagement: dates, headline numbers and how to respond."""
    engagement = service.get_by_slug(slug)
    if engagement is None:
        abort(404)
    return render_engagement_page(engagement)
