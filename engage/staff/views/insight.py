"""The dashboard, campaign groups and the theme models' versions."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Response as HttpResponse
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from engage import audit
from engage.classify import agreement as classify_agreement
from engage.classify import service as classify
from engage.classify.models import ModelVersion
from engage.engagements import service as engagements
from engage.extensions import db
from engage.feedback.models import Status, Theme
from engage.pagination import PageNotFound, page_kept, page_number
from engage.publish import queries as publish_queries
from engage.publish.models import Response
from engage.publish.service import InvalidResponse
from engage.staff import campaigns, charts, dashboard, duplicates, export, item_actions
from engage.staff.auth import fresh_required, role_required
from engage.staff.models import Role
from engage.staff.views import bp
from engage.util import MAX_DB_ID, clean_param, utcnow

ALL = "all"  # the engagement choice meaning every engagement and general feedback


def _day(name: str) -> date | None:
    value = clean_param(request.args.get(name), 20)
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        day = None
    if value and day is None:
        flash(f"“{value}” is not a date like 2025-06-01; the default period is shown", "warning")
    if day is not None and not dashboard.EARLIEST <= day <= dashboard.LATEST:
        return None
    return day


def _dashboard_scope():
    """(engagement or None, every engagement, period) from the query string.

    No engagement named: the engagement open today (the one opened last), else all
    feedback. No dates: that engagement's open period, else the last 12 weeks.
    """
    everything = engagements.list_engagements()
    today = utcnow().date()
    slug = clean_param(request.args.get("engagement"), 120)
    if slug == ALL:
        engagement = None
    elif slug:
        engagement = next((e for e in everything if e.slug == slug), None)
        if engagement is None:
            abort(404)
    else:
        engagement = dashboard.current_engagement(everything, today)
    default = dashboard.default_period(engagement, today)
    start, end = _day("from"), _day("to")
    period = dashboard.Period.of(start or default.start, end or default.end)
    return engagement, everything, period


def _dashboard_stats(engagement, period) -> dashboard.PeriodStats:
    return dashboard.cached_period_stats(engagement.id if engagement else None, period)


@bp.get("/dashboard")
@role_required(Role.VIEWER)
def dashboard_page():
    """Per engagement and period: items over time, by theme (with trends and the share
    answered), area and channel, as charts with their tables, and a CSV of the figures."""
    engagement, everything, period = _dashboard_scope()
    stats = _dashboard_stats(engagement, period)
    name = engagement.title if engagement else "all feedback"
    unit = period.unit
    theme_note = "An item can raise several themes, so the bars can add up to more than the total."
    labels = stats.bucket_labels()
    charts_ = {
        "time": charts.column_chart(
            stats.time_rows(), title=f"Feedback per {unit}: {name}, {period.describe()}"
        ),
        "trends": charts.line_chart(
            labels,
            stats.theme_trends,
            title=f"Each theme per {unit}: {name}",
            description=theme_note,
        ),
        "theme": charts.bar_chart(
            stats.by_theme, title=f"Feedback by theme: {name}", description=theme_note
        ),
        "answered": charts.bar_chart(
            stats.answered_share(),
            title=f"Share of each theme's items linked to a published response: {name}",
            suffix="%",
            top=100,
        ),
        "area": charts.bar_chart(stats.by_area, title=f"Feedback by area: {name}"),
        "channel": charts.bar_chart(stats.by_channel, title=f"Feedback by channel: {name}"),
    }
    args = {
        "engagement": engagement.slug if engagement else ALL,
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
    }
    return render_template(
        "staff/dashboard.html",
        engagement=engagement,
        engagements=everything,
        period=period,
        stats=stats,
        charts=charts_,
        args=args,
        all_value=ALL,
    )


@bp.get("/dashboard.csv")
@role_required(Role.VIEWER)
def dashboard_csv():
    """The dashboard's figures (counts only, no personal data) for a spreadsheet."""
    engagement, _everything, period = _dashboard_scope()
    stats = _dashboard_stats(engagement, period)
    scope = engagement.title if engagement else "All feedback"
    out = io.StringIO()
    writer = csv.writer(out)
    for row in dashboard.csv_rows(stats, scope):
        writer.writerow([export.csv_safe(cell) for cell in row])
    slug = engagement.slug if engagement else ALL
    filename = f"engage-dashboard-{slug}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
    return HttpResponse(
        out.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _group_choices():
    return engagements.list_engagements(), list(
        db.session.scalars(select(Theme).order_by(Theme.position))
    )


def _group_actions(themes) -> list[tuple[str, str]]:
    """(value, text) of the one list of things a triager can do to a whole group; the
    first, chosen until the triager picks, does nothing (an outside review applied
    "Set the theme to Money", then the first option, to a group by mistake)."""
    return (
        [("", "Choose what to do")]
        + [(f"theme:{t.slug}", f"Set the theme to {t.name} (replaces its themes)") for t in themes]
        + [(f"status:{s.value}", f"Set the status to {s.value}") for s in campaigns.GROUP_STATUSES]
        + [
            ("campaign", "Count once in public figures (a campaign)"),
            ("uncampaign", "Count each copy separately again"),
        ]
    )


@bp.get("/duplicates")
@role_required(Role.VIEWER)
def duplicates_page():
    """Campaign groups, largest first, filtered by engagement, theme and size, a page at a
    time; triagers act on a whole group or merge groups, publishers link or answer one."""
    filters = campaigns.GroupFilters.from_args(request.args)
    for message in filters.errors:
        flash(message, "warning")
    everything, themes = _group_choices()
    try:
        found, rows = campaigns.groups_page(
            filters, page_number(request.args.get("page")), everything, themes
        )
    except PageNotFound:
        return redirect(url_for("staff.duplicates_page", **filters.as_args()))
    return render_template(
        "staff/duplicates.html",
        filters=filters,
        page=found,
        rows=rows,
        engagements=everything,
        themes=themes,
        sizes=campaigns.SIZES,
        general=campaigns.GENERAL,
        actions=_group_actions(themes),
        form=FlaskForm(),
        can_triage=current_user.role.can(Role.TRIAGER),
        can_publish=current_user.role.can(Role.PUBLISHER),
    )


def _back_to_groups():
    filters = campaigns.GroupFilters.from_args(request.form)
    extra = page_kept(request.form.get("page"))
    return redirect(url_for("staff.duplicates_page", **filters.as_args(), **extra))


@bp.post("/duplicates/<int:group_id>/act")
@role_required(Role.TRIAGER)
def duplicates_act(group_id: int):
    """One change to every item of a group: a theme, a status, or how it is counted."""
    if not FlaskForm().validate_on_submit():
        flash("The form expired. Try again", "warning")
        return _back_to_groups()
    group = campaigns.get_group(group_id)
    if group is None:
        abort(404)
    kind, _, value = request.form.get("action", "").partition(":")
    try:
        if kind == "theme":
            changed = campaigns.set_theme(group, value, by=current_user)
        elif kind == "status" and value in {s.value for s in campaigns.GROUP_STATUSES}:
            changed = campaigns.set_status(group, Status(value), by=current_user)
        elif kind == "campaign":
            changed = campaigns.count_once(group, by=current_user)
        elif kind == "uncampaign":
            changed = campaigns.count_each(group, by=current_user)
        else:
            raise campaigns.CampaignError("Choose what to do to the group")
    except (campaigns.CampaignError, item_actions.TriageError) as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return _back_to_groups()
    themes = db.session.scalars(select(Theme).order_by(Theme.position))
    done = dict(_group_actions(themes)).get(request.form.get("action", ""), "Done")
    flash(f"{done}: {changed:,} of the group's {group.size:,} items changed", "info")
    return _back_to_groups()


@bp.post("/duplicates/merge")
@role_required(Role.TRIAGER)
def duplicates_merge():
    """Join the ticked groups (of one engagement) into the largest of them."""
    if not FlaskForm().validate_on_submit():
        flash("The form expired. Try again", "warning")
        return _back_to_groups()
    ids = [
        int(v) for v in request.form.getlist("group") if v.isascii() and v.isdigit() and len(v) < 12
    ]
    try:
        kept = campaigns.merge(ids, by=current_user)
    except campaigns.CampaignError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return _back_to_groups()
    flash(f"Merged {len(set(ids))} groups: one group of {kept.size:,} items", "info")
    return _back_to_groups()


@bp.route("/duplicates/<int:group_id>/link", methods=["GET", "POST"])
@role_required(Role.PUBLISHER)
def duplicates_link(group_id: int):
    """Pick a response of the group's engagement (searchable, a page at a time) and link
    every item of the group to it."""
    group = campaigns.get_group(group_id)
    if group is None:
        abort(404)
    form = FlaskForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash("The form expired. Try again", "warning")
            return redirect(url_for("staff.duplicates_link", group_id=group.id))
        raw = request.form.get("response", "")
        response = (
            db.session.get(Response, int(raw))
            if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_DB_ID
            else None
        )
        if response is None:
            flash("Choose a response", "warning")
            return redirect(url_for("staff.duplicates_link", group_id=group.id))
        try:
            new = campaigns.link(group, response, by=current_user)
        except (campaigns.CampaignError, InvalidResponse) as exc:
            db.session.rollback()
            flash(str(exc), "warning")
            return redirect(url_for("staff.duplicates_link", group_id=group.id))
        flash(f"Linked {new:,} more items of the group to the response", "info")
        return redirect(url_for("staff.responses_edit", response_id=response.id))
    q = clean_param(request.args.get("q"), 200)
    try:
        found = campaigns.response_choices(group, q, page_number(request.args.get("page")))
    except PageNotFound:
        return redirect(url_for("staff.duplicates_link", group_id=group.id, q=q or None))
    return render_template(
        "staff/duplicates_link.html",
        group=group,
        q=q,
        page=found,
        people=publish_queries.people_counts([r.id for r in found.items]),
        form=form,
    )


@bp.post("/duplicates/regroup")
@role_required(Role.TRIAGER)
def duplicates_regroup():
    """Look for near-identical texts again, in every engagement."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    result = duplicates.group_all()
    audit.record("duplicates.regroup", detail=result.as_dict())
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
    agreement = classify_agreement.staff_agreement()
    active = next((v for v in versions if v.active), None)
    return render_template(
        "staff/models.html",
        versions=versions,
        agreement=agreement,
        active_agreement=agreement.get(active.version) if active else None,
        min_items=classify_agreement.MIN_ITEMS,
        form=FlaskForm(),
    )


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
    flash(f"Version {row.version} is now active. New feedback is tagged with it", "info")
    return redirect(url_for("staff.models"))
