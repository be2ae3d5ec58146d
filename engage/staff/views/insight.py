"""The dashboard, campaign groups and the theme models' versions."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engage.classify import service as classify
from engage.classify.models import ModelVersion
from engage.engagements import service as engagements
from engage.extensions import db
from engage.feedback.models import DuplicateGroup
from engage.staff import audit, charts, dashboard, duplicates
from engage.staff.auth import fresh_required, role_required
from engage.staff.models import Role
from engage.staff.views import bp


def _chosen_engagement():
    """The engagement named by ?engagement=slug (None: all feedback); 404 if unknown."""
    slug = request.args.get("engagement", "")
    everything = engagements.list_engagements()
    if not slug:
        return None, everything
    found = engagements.get_by_slug(slug[:120])
    if found is None:
        abort(404)
    return found, everything


@bp.get("/dashboard")
@role_required(Role.VIEWER)
def dashboard_page():
    """Per engagement: items by theme, area, channel and week, as charts and tables."""
    engagement, everything = _chosen_engagement()
    stats = dashboard.engagement_stats(engagement.id if engagement else None)
    name = engagement.title if engagement else "all engagements"
    weeks = stats.week_rows()
    theme_note = "An item can raise several themes, so the bars can add up to more than the total."
    sections = [
        (
            "theme",
            "By theme",
            "Theme",
            stats.by_theme,
            charts.bar_chart(
                stats.by_theme, title=f"Feedback by theme: {name}", description=theme_note
            ),
        ),
        (
            "area",
            "By area",
            "Area",
            stats.by_area,
            charts.bar_chart(stats.by_area, title=f"Feedback by area: {name}"),
        ),
        (
            "channel",
            "By channel",
            "Channel",
            stats.by_channel,
            charts.bar_chart(stats.by_channel, title=f"Feedback by channel: {name}"),
        ),
        (
            "week",
            "By week",
            "Week starting",
            weeks,
            charts.column_chart(weeks, title=f"Feedback per week: {name}"),
        ),
    ]
    return render_template(
        "staff/dashboard.html",
        engagement=engagement,
        engagements=everything,
        stats=stats,
        sections=sections,
    )


@bp.get("/duplicates")
@role_required(Role.VIEWER)
def duplicates_page():
    """Campaign texts and copy-paste letters, largest groups first."""
    groups = db.session.scalars(
        select(DuplicateGroup)
        .options(selectinload(DuplicateGroup.engagement))
        .order_by(DuplicateGroup.size.desc(), DuplicateGroup.id)
    ).all()
    return render_template(
        "staff/duplicates.html",
        groups=groups,
        form=FlaskForm(),
        can_triage=current_user.role.can(Role.TRIAGER),
    )


@bp.post("/duplicates/regroup")
@role_required(Role.TRIAGER)
def duplicates_regroup():
    """Look for near-identical texts again, in every engagement."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    result = duplicates.group_all()
    audit.record("duplicates.regroup", detail=result.as_dict())
    db.session.commit()
    flash(
        f"Grouping done: {result.groups} campaign groups holding {result.items_grouped:,} items",
        "info",
    )
    return redirect(url_for("staff.duplicates_page"))


@bp.get("/models")
@role_required(Role.ADMIN)
def models():
    """Every trained version of the theme model, its scores, and which one is active."""
    versions = db.session.scalars(
        select(ModelVersion).order_by(ModelVersion.trained_at.desc(), ModelVersion.id.desc())
    ).all()
    return render_template("staff/models.html", versions=versions, form=FlaskForm())


@bp.post("/models/<version>/activate")
@role_required(Role.ADMIN)
@fresh_required
def models_activate(version: str):
    """Roll back (or forward) to a stored version."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        row = classify.activate(version[:60])
    except LookupError:
        abort(404)
    except Exception as exc:  # the file is missing or unreadable: say so, keep the old one
        db.session.rollback()
        flash(f"Version {version} cannot be used: {exc}", "warning")
        return redirect(url_for("staff.models"))
    audit.record("model.activate", target=row, detail={"version": row.version})
    db.session.commit()
    flash(f"Version {row.version} is now active. New feedback is tagged with it", "info")
    return redirect(url_for("staff.models"))
