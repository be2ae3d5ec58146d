"""Concerns inside a theme: what people are worried about, steered by staff (issue #27)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from engage import audit
from engage.concerns import jobs, service, steering
from engage.concerns.models import Concern
from engage.engagements import service as engagements
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import FeedbackItem, Theme
from engage.publish.service import InvalidResponse
from engage.staff.auth import role_required
from engage.staff.models import Role
from engage.staff.views import bp


def _themes() -> list[Theme]:
    return list(db.session.scalars(select(Theme).order_by(Theme.position, Theme.id)))


def _checked_form() -> None:
    """Every change is a POST with a valid CSRF token; anything else is refused."""
    if not FlaskForm().validate_on_submit():
        abort(400)


def _concern(concern_id: int) -> Concern:
    concern = db.session.get(Concern, concern_id)
    if concern is None:
        abort(404)
    return concern


def _hand_over() -> None:
    """Ask a worker to start the queued grouping now (else the minute's sweep does)."""
    if current_app.config.get("ENGAGE_POST_COMMIT_IN_WORKER"):
        jobs.hand_over()


def _back(concern: Concern):
    engagement = db.session.get(Engagement, concern.engagement_id)
    return redirect(
        url_for("staff.concerns_page", engagement=engagement.slug, theme=concern.theme.slug)
        + f"#concern-{concern.id}"
    )


@bp.get("/concerns")
@role_required(Role.VIEWER)
def concerns_page():
    """One engagement's theme: its concerns with counts, trend, examples and drafts."""
    everything = engagements.list_engagements()
    themes = _themes()
    slug = request.args.get("engagement", "")[:120]
    engagement = engagements.get_by_slug(slug) if slug else (everything[0] if everything else None)
    if slug and engagement is None:
        abort(404)
    theme_slug = request.args.get("theme", "")[:60]
    theme = next((t for t in themes if t.slug == theme_slug), themes[0] if themes else None)
    if theme_slug and (theme is None or theme.slug != theme_slug):
        abort(404)
    show_hidden = request.args.get("hidden") == "1"
    views = service.overview(engagement, theme, hidden=show_hidden) if engagement and theme else []
    job = jobs.job_of(engagement, theme) if engagement and theme else None
    if (
        engagement
        and theme
        and (job is None or job.state == "done")
        and not jobs.has_concerns(engagement, theme)
        and jobs.count_items(engagement, theme)
    ):
        # A theme never grouped: the worker groups it (tens of seconds for a large one).
        job, queued = jobs.request_grouping(engagement, theme, by=current_user.email)
        if queued:
            _hand_over()
    return render_template(
        "staff/concerns.html",
        engagements=everything,
        themes=themes,
        engagement=engagement,
        theme=theme,
        views=views,
        job=job,
        max_attempts=jobs.MAX_ATTEMPTS,
        show_hidden=show_hidden,
        form=FlaskForm(),
        can_steer=current_user.role.can(Role.TRIAGER),
        can_publish=current_user.role.can(Role.PUBLISHER),
    )


@bp.post("/concerns/refresh")
@role_required(Role.TRIAGER)
def concerns_refresh():
    """Place new feedback in the kept concerns (or find concerns the first time)."""
    _checked_form()
    engagement = engagements.get_by_slug(request.form.get("engagement", "")[:120])
    theme = db.session.scalar(select(Theme).where(Theme.slug == request.form.get("theme", "")))
    if engagement is None or theme is None:
        abort(404)
    rediscover = request.form.get("rediscover") == "1"
    back = redirect(url_for("staff.concerns_page", engagement=engagement.slug, theme=theme.slug))
    if rediscover or not jobs.has_concerns(engagement, theme):
        # Grouping (the first time, or again) is the worker's: it may take a minute.
        job, queued = jobs.request_grouping(
            engagement, theme, rediscover=rediscover, by=current_user.email
        )
        if queued:
            _hand_over()
        flash(
            f"Grouping {job.items:,} items: the page shows the result when it is done"
            if queued
            else "This theme's grouping is already under way",
            "info",
        )
        return back
    result = service.refresh(engagement, theme)
    audit.record(
        "concern.refresh",
        detail={
            "engagement": engagement.slug,
            "theme": theme.slug,
            "rediscover": False,
            "found": result.found,
            "joined": result.joined,
            "new_group": result.to_new_group,
        },
    )
    flash(
        f"{result.concerns} concerns; {result.found} found, {result.joined} items joined "
        f"kept concerns, {result.to_new_group} went to “new feedback”",
        "info",
    )
    return back


@bp.post("/concerns/<int:concern_id>/rename")
@role_required(Role.TRIAGER)
def concerns_rename(concern_id: int):
    """Give a concern staff's own name and draft line."""
    _checked_form()
    concern = _concern(concern_id)
    try:
        steering.rename(
            concern,
            label=request.form.get("label", ""),
            draft=request.form.get("draft"),
        )
    except service.ConcernError as error:
        db.session.rollback()
        flash(str(error), "warning")
        return _back(concern)
    flash("Concern renamed", "info")
    return _back(concern)


@bp.post("/concerns/<int:concern_id>/hide")
@role_required(Role.TRIAGER)
def concerns_hide(concern_id: int):
    """Hide a concern, or show it again."""
    _checked_form()
    concern = _concern(concern_id)
    steering.set_hidden(concern, hidden=request.form.get("hidden") == "1")
    return _back(concern)


@bp.post("/concerns/<int:concern_id>/merge")
@role_required(Role.TRIAGER)
def concerns_merge(concern_id: int):
    """Merge another concern into this one."""
    _checked_form()
    concern = _concern(concern_id)
    other = _concern(request.form.get("other", type=int) or 0)
    try:
        moved = steering.merge(concern, [other])
    except service.ConcernError as error:
        db.session.rollback()
        flash(str(error), "warning")
        return _back(concern)
    flash(f"Merged: {moved} items moved", "info")
    return _back(concern)


@bp.post("/concerns/<int:concern_id>/split")
@role_required(Role.TRIAGER)
def concerns_split(concern_id: int):
    """Split a concern in two."""
    _checked_form()
    concern = _concern(concern_id)
    try:
        steering.split(concern)
    except service.ConcernError as error:
        db.session.rollback()
        flash(str(error), "warning")
        return _back(concern)
    flash("Split in two", "info")
    return _back(concern)


@bp.post("/concerns/<int:concern_id>/move")
@role_required(Role.TRIAGER)
def concerns_move(concern_id: int):
    """Move one item (by its reference) into this concern."""
    _checked_form()
    concern = _concern(concern_id)
    reference = request.form.get("reference", "").strip()[:40]
    item = db.session.scalar(select(FeedbackItem).where(FeedbackItem.reference == reference))
    if item is None:
        flash(f"No feedback with the reference {reference}", "warning")
        return _back(concern)
    try:
        steering.move_item(item, to=concern)
    except service.ConcernError as error:
        db.session.rollback()
        flash(str(error), "warning")
        return _back(concern)
    flash(f"{item.reference} moved", "info")
    return _back(concern)


@bp.post("/concerns/<int:concern_id>/respond")
@role_required(Role.PUBLISHER)
def concerns_respond(concern_id: int):
    """Start a draft response from a concern, linked to all its items, and edit it."""
    _checked_form()
    concern = _concern(concern_id)
    engagement = db.session.get(Engagement, concern.engagement_id)
    try:
        response = steering.create_response(concern, engagement=engagement, by=current_user.email)
    except InvalidResponse as error:
        db.session.rollback()
        flash(f"The response could not be started: {error}", "warning")
        return _back(concern)
    flash("Draft response started from the concern: write what we are doing", "info")
    return redirect(url_for("staff.responses_edit", response_id=response.id))
