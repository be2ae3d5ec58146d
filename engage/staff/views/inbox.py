"""The triage inbox: filters, search, facet counts, bulk actions and CSV export."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from engage import audit
from engage.extensions import db
from engage.pagination import PageNotFound, page_kept, page_number
from engage.staff import campaigns, export, item_actions
from engage.staff import inbox as inbox_list
from engage.staff.auth import role_required
from engage.staff.models import Role
from engage.staff.views import bp
from engage.util import utcnow

# Split a campaign group from the inbox (filtered by ?group=): engage.staff.campaigns.
GROUP_ACTIONS = {
    "ungroup": "Take out of its campaign group",
    "new_group": "Make the ticked items a new campaign group",
}


@bp.get("/")
@role_required(Role.VIEWER)
def home():
    return redirect(url_for("staff.inbox"))


@bp.get("/inbox")
@role_required(Role.VIEWER)
def inbox():
    """Incoming feedback, unclassified first, with filters; counts per filter value on request."""
    filters = inbox_list.InboxFilters.from_args(request.args)
    for message in filters.errors:
        flash(message, "warning")
    choices = inbox_list.inbox_choices()
    try:
        results = inbox_list.inbox_page(
            filters, page_number(request.args.get("page")), choices=choices
        )
    except PageNotFound:
        return redirect(url_for("staff.inbox", **filters.as_args()))
    return render_template(
        "staff/inbox.html",
        filters=filters,
        results=results,
        facets=inbox_list.facets(filters) if filters.counts else None,
        choices=choices,
        sorts=inbox_list.SORTS,
        bulk_actions={**item_actions.BULK_ACTIONS, **GROUP_ACTIONS},
        form=FlaskForm(),
        can_triage=current_user.role.can(Role.TRIAGER),
        trail=urlencode(filters.as_args(counts=False)),
        first_at=(results.page - 1) * results.per_page,
    )


@bp.post("/inbox/bulk")
@role_required(Role.TRIAGER)
def inbox_bulk():
    """Apply one action to the ticked items."""
    form = FlaskForm()
    back = url_for(
        "staff.inbox",
        **inbox_list.InboxFilters.from_args(request.form).as_args(),
        **page_kept(request.form.get("page")),
    )
    if not form.validate_on_submit():
        flash("The form expired. Try again", "warning")
        return redirect(back)
    ids = [v for v in request.form.getlist("item") if v.isascii() and v.isdigit()]
    if request.form.get("all_on_page"):
        # "Every item on this page", ticked without JavaScript: the page's own ids.
        ids = [v for v in request.form.getlist("on_page") if v.isascii() and v.isdigit()]
    ids = [v for v in dict.fromkeys(ids) if len(v) < 12][: item_actions.MAX_BULK + 1]
    action = request.form.get("action", "")
    if action in GROUP_ACTIONS:
        return _split(action, [int(v) for v in ids], back)
    try:
        changed = item_actions.bulk(
            request.form.get("action", ""),
            [int(v) for v in ids],
            by=current_user,
            theme=request.form.get("bulk_theme", ""),
        )
    except item_actions.TriageError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(back)
    flash(f"Changed {changed} of {len(ids)} selected items", "info")
    return redirect(back)


def _split(action: str, ids: list[int], back: str):
    """Take the ticked items out of their campaign groups, alone or as a new group."""
    if not ids or len(ids) > item_actions.MAX_BULK:
        flash(f"Select between 1 and {item_actions.MAX_BULK} items", "warning")
        return redirect(back)
    try:
        made = campaigns.split(ids, by=current_user, new_group=action == "new_group")
    except campaigns.CampaignError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(back)
    if made is not None:
        flash(f"The ticked items are now group {made.id} of {made.size} items", "info")
        return redirect(url_for("staff.inbox", group=made.id))
    flash("The ticked items are no longer in a campaign group", "info")
    return redirect(back)


@bp.get("/inbox.<any(csv, jsonl):fmt>")
@role_required(Role.TRIAGER)
def inbox_export(fmt: str):
    """Download the filtered inbox (it holds personal data: triagers and above only)."""
    filters = inbox_list.InboxFilters.from_args(request.args)
    audit.record(
        "feedback.export",
        detail={"format": fmt, "count": inbox_list.count(filters), "filters": filters.as_args()},
    )
    query = inbox_list.inbox_query(filters)
    lines = export.iter_csv(query) if fmt == "csv" else export.iter_jsonl(query)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(
        stream_with_context(lines),
        content_type=f"{mimetype}; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="engage-feedback-{stamp}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )
