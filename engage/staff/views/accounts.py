"""Admins manage staff accounts."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from engage.extensions import db
from engage.staff import accounts, throttle
from engage.staff.auth import fresh_required, role_required
from engage.staff.forms import EditStaffForm, NewStaffForm
from engage.staff.models import Role, StaffUser
from engage.staff.views import bp
from engage.util import utcnow


@bp.get("/accounts")
@role_required(Role.ADMIN)
def accounts_index():
    """Every staff account with its role and state."""
    people = accounts.all_staff()
    return render_template(
        "staff/accounts/index.html",
        people=people,
        last_seen={p.id: accounts.last_seen(p) for p in people},
        paused={p.id: throttle.paused_addresses(p) for p in people},
        now=utcnow(),
    )


@bp.route("/accounts/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@fresh_required
def accounts_new():
    """Create an account with a first password."""
    form = NewStaffForm()
    error = None
    if form.validate_on_submit():
        try:
            user = accounts.create_staff(
                email=form.email.data,
                name=form.name.data or "",
                role=Role(form.role.data),
                password=form.password.data,
                by=current_user,
            )
        except accounts.AccountError as exc:
            error = str(exc)
        else:
            db.session.commit()
            flash(f"Account created for {user.email}", "info")
            return redirect(url_for("staff.accounts_index"))
    status = 200 if not (error or form.errors) else 400
    return render_template("staff/accounts/new.html", form=form, error=error), status


@bp.route("/accounts/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@fresh_required
def accounts_edit(user_id: int):
    """Change a person's role, disable them, or reset their two-factor app."""
    person = db.session.get(StaffUser, user_id) or abort(404)
    form = EditStaffForm()
    if request.method == "GET":
        form.role.data = person.role.value
        form.active.data = person.active
    error = None
    if form.validate_on_submit():
        try:
            accounts.set_role(person, Role(form.role.data), by=current_user)
            if form.active.data != person.active:
                accounts.set_active(person, form.active.data, by=current_user)
            if form.reset_two_factor.data:
                accounts.reset_two_factor(person, by=current_user)
        except accounts.AccountError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            flash(f"Saved the changes to {person.email}", "info")
            return redirect(url_for("staff.accounts_index"))
    status = 200 if not (error or form.errors) else 400
    return (
        render_template("staff/accounts/edit.html", form=form, person=person, error=error),
        status,
    )
