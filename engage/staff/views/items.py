"""One feedback item: themes, status, notes, redaction; and feedback recorded by staff."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time
from urllib.parse import parse_qsl, urlencode

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict
from wtforms.fields.choices import SelectChoice

from engage import audit, personal_data
from engage.engagements import service as engagements
from engage.extensions import db
from engage.feedback import queries as feedback_queries
from engage.feedback import service as feedback
from engage.feedback.models import Channel, FeedbackItem, Status, TagSource, Theme
from engage.staff import inbox, item_actions
from engage.staff.auth import role_required
from engage.staff.forms import NoteForm, RecordFeedbackForm, RedactionForm
from engage.staff.models import Role
from engage.staff.views import bp
from engage.util import MAX_DB_ID, utcnow

# Statuses staff set by hand; "responded" comes from linking a published response.
SETTABLE_STATUSES = [s for s in Status if s != Status.RESPONDED]


def _item(item_id: int) -> FeedbackItem:
    item = (
        db.session.scalar(
            select(FeedbackItem)
            .where(FeedbackItem.id == item_id)
            .options(selectinload(FeedbackItem.tags), selectinload(FeedbackItem.engagement))
        )
        if item_id <= MAX_DB_ID
        else None
    )
    if item is None:
        audit.denied("not_found", detail={"item_id": item_id})
        abort(404)
    return item


def _trail(source=None) -> tuple[inbox.InboxFilters, int | None, dict[str, str | int]]:
    """The inbox list an item was opened from: its filters and the item's position.

    Read from the query string, or on a POST from the form's one ``trail`` field (a
    query string, so the inbox's "theme" and "status" do not meet the forms' own).
    """
    if source is None:
        if request.method == "POST":
            source = MultiDict(parse_qsl(request.form.get("trail", "")[:2000]))
        else:
            source = request.args
    filters = inbox.InboxFilters.from_args(source)
    raw = source.get("at", "")
    at = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 9 else None
    args: dict[str, str | int] = dict(filters.as_args(counts=False))
    if at is not None:
        args["at"] = at
    return filters, at, args


def _item_url(item_id: int, filters: inbox.InboxFilters, at: int | None) -> str:
    args: dict[str, str | int] = dict(filters.as_args(counts=False))
    if at is not None:
        args["at"] = at
    return url_for("staff.item", item_id=item_id, **args)


def _render(item: FeedbackItem, *, note_form=None, redaction_form=None, status: int = 200):
    can_triage = current_user.role.can(Role.TRIAGER)
    filters, at, trail_args = _trail()
    nav = inbox.neighbours(filters, at, item.id)
    back_args = dict(filters.as_args())
    if at is not None and at >= inbox.PER_PAGE:
        back_args["page"] = str(at // inbox.PER_PAGE + 1)
    if redaction_form is None:
        redaction_form = RedactionForm()
        redaction_form.redacted_text.data = item.redacted_text or personal_data.propose(
            item.text, known_names=[item.author_name] if item.author_name else []
        )
    findings = personal_data.find_pii(
        item.text, known_names=[item.author_name] if item.author_name else []
    )
    model_tags = sorted(
        (t for t in item.tags if t.source == TagSource.MODEL), key=lambda t: -(t.confidence or 0)
    )
    themes = db.session.scalars(select(Theme).order_by(Theme.position)).all()
    return (
        render_template(
            "staff/item.html",
            item=item,
            current=[t.slug for t in item.themes()],
            model_tags=model_tags,
            explanation=item_actions.explanation(item),
            suggestions=item_actions.suggestions(item, themes),
            themes=themes,
            statuses=SETTABLE_STATUSES,
            notes=item_actions.notes_for(item),
            earlier=[
                e
                for e in feedback_queries.earlier_items(item.subject, item.author_email)
                if e.id != item.id
            ],
            note_form=note_form or NoteForm(),
            redaction_form=redaction_form,
            findings=findings,
            form=FlaskForm(),
            can_triage=can_triage,
            back=request.args.get("back") or "",
            nav=nav,
            at=at,
            filters=filters,
            trail=urlencode(trail_args),
            back_url=url_for("staff.inbox", **back_args),
            previous_url=_item_url(nav.previous, filters, nav.previous_at)
            if nav.previous
            else None,
            next_url=_item_url(nav.next, filters, nav.next_at) if nav.next else None,
            unclassified_url=(
                _item_url(nav.unclassified, replace(filters, theme=inbox.UNCLASSIFIED), 0)
                if nav.unclassified
                else None
            ),
        ),
        status,
    )


@bp.get("/items/<int:item_id>")
@role_required(Role.VIEWER)
def item(item_id: int):
    """Everything about one item (the original text is shown to staff only)."""
    return _render(_item(item_id))


def _back_to_item(item_id: int):
    filters, at, _args = _trail()
    return redirect(_item_url(item_id, filters, at))


def _done(item: FeedbackItem, message: str):
    """Commit, say so, and show the item again in its list, or the next item of the
    list when the form asked for it ("Save and go to the next")."""
    flash(message, "info")
    filters, at, _args = _trail()
    if request.form.get("then") == "next":
        nav = inbox.neighbours(filters, at, item.id)
        if nav.next is not None:
            return redirect(_item_url(nav.next, filters, nav.next_at))
        flash("That was the last item of the list", "info")
    return redirect(_item_url(item.id, filters, at))


@bp.post("/items/<int:item_id>/themes")
@role_required(Role.TRIAGER)
def item_themes(item_id: int):
    """Staff set the themes; the next training run learns from them."""
    found = _item(item_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        changed = item_actions.set_themes(found, request.form.getlist("theme"), by=current_user)
        if found.status == Status.NEW:
            item_actions.set_status(found, Status.TRIAGED, by=current_user)
    except item_actions.TriageError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return _back_to_item(item_id)
    return _done(found, "Themes saved" if changed else "Themes confirmed")


@bp.post("/items/<int:item_id>/status")
@role_required(Role.TRIAGER)
def item_status(item_id: int):
    found = _item(item_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    value = request.form.get("status", "")
    if value not in {s.value for s in SETTABLE_STATUSES}:
        flash("Choose a status", "warning")
        return _back_to_item(item_id)
    try:
        item_actions.set_status(found, Status(value), by=current_user)
    except item_actions.TriageError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return _back_to_item(item_id)
    return _done(found, "Status saved")


@bp.post("/items/<int:item_id>/notes")
@role_required(Role.TRIAGER)
def item_note(item_id: int):
    found = _item(item_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _render(found, note_form=form, status=400)
    item_actions.add_note(found, form.text.data, by=current_user)
    return _done(found, "Note added")


@bp.post("/items/<int:item_id>/redaction")
@role_required(Role.TRIAGER)
def item_redaction(item_id: int):
    """Keep the copy that may be quoted in public."""
    found = _item(item_id)
    form = RedactionForm()
    if not form.validate_on_submit():
        return _render(found, redaction_form=form, status=400)
    try:
        item_actions.save_redaction(found, form.redacted_text.data, by=current_user)
    except item_actions.TriageError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return _back_to_item(item_id)
    remaining = personal_data.find_pii(form.redacted_text.data)
    message = "Redacted copy saved"
    if remaining:
        kinds = ", ".join(sorted({f.kind.replace("_", " ") for f in remaining}))
        message += f". Check it again: it may still contain personal details ({kinds})"
    return _done(found, message)


@bp.route("/record", methods=["GET", "POST"])
@role_required(Role.TRIAGER)
def record_feedback():
    """Type in feedback received by phone, by letter or at a public meeting."""
    form = RecordFeedbackForm()
    form.engagement.choices = [SelectChoice("", "General feedback (no engagement)")] + [
        SelectChoice(e.slug, e.title) for e in engagements.list_engagements()
    ]
    errors: dict[str, str] = {}
    received = form.received_on.data if form.is_submitted() else None
    if received is not None and received > utcnow().date():
        form.received_on.errors = ["The date it reached us cannot be in the future"]
    elif form.validate_on_submit():
        submission = feedback.Submission(
            text=form.text.data or "",
            channel=Channel(form.channel.data),
            engagement_slug=form.engagement.data or None,
            author_name=form.author_name.data or None,
            author_email=form.author_email.data or None,
            area=form.area.data or None,
            consent_to_quote=form.consent_to_quote.data,
            contact_me=form.contact_me.data,
            # A day before today is recorded at its noon (UTC); today, at the time typed in.
            submitted_at=(
                datetime.combine(received, time(12))
                if received is not None and received < utcnow().date()
                else None
            ),
            extra={"recorded_by_id": current_user.id},
        )
        try:
            item = feedback.submit(submission)
        except feedback.InvalidSubmission as exc:
            errors = exc.errors
        else:
            audit.record("item.recorded", target=item, detail={"channel": item.channel.value})
            flash(f"Recorded as {item.reference}", "info")
            return redirect(url_for("staff.item", item_id=item.id))
    for name, message in errors.items():
        if name in form:
            form[name].errors = [message]
    status = 400 if (errors or form.errors) else 200
    return render_template("staff/record.html", form=form), status
