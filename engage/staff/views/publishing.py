"""Publishing a response and moving it on: the confirmation page (who will be emailed,
and the email), publish, unpublish and status milestones. Writing and editing a
response is in ``responses``."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from engage import audit
from engage.extensions import db
from engage.publish import notifications, service
from engage.publish.models import ResponseStatus
from engage.staff.auth import role_required
from engage.staff.forms import UnpublishForm
from engage.staff.models import Role
from engage.staff.views import bp
from engage.staff.views.responses import response_or_404, status_form


@bp.get("/responses/<int:response_id>/publish")
@role_required(Role.PUBLISHER)
def responses_publish_confirm(response_id: int):
    """Before publishing: how many people will be emailed at once, and the email."""
    response = response_or_404(response_id)
    if response.is_public:
        flash("This response is already published", "info")
        return redirect(url_for("staff.responses_edit", response_id=response.id))
    residents, subscribers = notifications.followers(response)
    preview, sample_item = notifications.preview(response)
    return render_template(
        "staff/responses/publish.html",
        response=response,
        residents=len(residents),
        subscribers=len(subscribers),
        linked=len(response.items),
        preview=preview,
        sample_item=sample_item,
        form=FlaskForm(),
    )


@bp.post("/responses/<int:response_id>/publish")
@role_required(Role.PUBLISHER)
def responses_publish(response_id: int):
    response = response_or_404(response_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        emails = service.publish(response, by=current_user.email)
    except service.WrongState as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("staff.responses_edit", response_id=response.id))
    audit.record("response.published", target=response, detail={"emails": emails})
    flash(f"Published. {_people(emails)} will be emailed", "info")
    return redirect(url_for("staff.responses_edit", response_id=response.id))


@bp.post("/responses/<int:response_id>/unpublish")
@role_required(Role.PUBLISHER)
def responses_unpublish(response_id: int):
    response = response_or_404(response_id)
    form = UnpublishForm()
    if not form.validate_on_submit():
        flash("Say why the response is being unpublished", "warning")
        return redirect(url_for("staff.responses_edit", response_id=response.id))
    try:
        service.unpublish(response, reason=form.reason.data, by=current_user.email)
    except (service.WrongState, service.InvalidResponse) as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("staff.responses_edit", response_id=response.id))
    audit.record("response.unpublished", target=response, detail={"reason": form.reason.data})
    flash("Unpublished. It no longer appears anywhere in public", "info")
    return redirect(url_for("staff.responses_edit", response_id=response.id))


@bp.post("/responses/<int:response_id>/status")
@role_required(Role.PUBLISHER)
def responses_status(response_id: int):
    """Move the response on (planned, in progress, done…) with a dated milestone."""
    response = response_or_404(response_id)
    form = status_form()
    if not form.validate_on_submit() or form.status.data not in {s.value for s in ResponseStatus}:
        flash("Choose a status and enter the date as a real date", "warning")
        return redirect(url_for("staff.responses_edit", response_id=response.id))
    try:
        emails = service.change_status(
            response,
            status=ResponseStatus(form.status.data),
            note=form.note.data or "",
            on=form.on.data,
            by=current_user.email,
        )
    except service.WrongState as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("staff.responses_edit", response_id=response.id))
    audit.record("response.status", target=response, detail={"status": form.status.data})
    flash(f"Status changed. {_people(emails)} will be emailed", "info")
    return redirect(url_for("staff.responses_edit", response_id=response.id))


def _people(count: int) -> str:
    """'1 person', '2 people', 'No one' for the flash messages."""
    if count == 0:
        return "No one"
    return f"{count:,} person" if count == 1 else f"{count:,} people"
