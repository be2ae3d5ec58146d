"""Signing in and out, two-factor codes, re-authentication and one's own account."""

from __future__ import annotations

from datetime import datetime, timedelta

import segno
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from engage.extensions import db, limiter
from engage.staff import accounts, audit, throttle, two_factor
from engage.staff.auth import (
    clean_next,
    current_session,
    fresh_required,
    role_required,
    safe_next,
)
from engage.staff.auth import sign_in as start_signed_in
from engage.staff.auth import sign_out as end_signed_in
from engage.staff.forms import (
    CodeForm,
    ConfirmForm,
    PasswordForm,
    ReauthenticateForm,
    SignInCodeForm,
    SignInForm,
)
from engage.staff.models import Role, StaffUser
from engage.staff.views import bp
from engage.util import utcnow

PENDING_KEY = "staff_pending_code"
PENDING_FOR = timedelta(minutes=5)


def sign_in_limit() -> str:
    """Sign-in posts allowed per client address (ENGAGE_SIGN_IN_LIMIT), on top of the
    per-account throttle in staff.accounts."""
    return current_app.config["ENGAGE_SIGN_IN_LIMIT"]


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(sign_in_limit, methods=["POST"])
def sign_in():
    """Ask for email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("staff.inbox"))
    form = SignInForm()
    error = None
    if form.validate_on_submit():
        result = accounts.check_credentials(
            form.email.data, form.password.data, ip=request.remote_addr
        )
        if result.user is None:
            error = result.error
        elif result.needs_code:
            session.clear()
            session[PENDING_KEY] = {"user_id": result.user.id, "at": utcnow().isoformat()}
            return redirect(
                url_for("staff.sign_in_code", next=clean_next(request.args.get("next")))
            )
        else:
            start_signed_in(result.user, two_factor_passed=False)
            return redirect(safe_next(request.args.get("next")))
    status = 200 if not (error or form.errors) else 400
    return render_template("staff/sign_in.html", form=form, error=error), status


def _pending_user() -> StaffUser | None:
    pending = session.get(PENDING_KEY)
    if not pending:
        return None
    started = datetime.fromisoformat(pending["at"])
    if utcnow() - started > PENDING_FOR:
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(StaffUser, pending["user_id"])
    return user if user is not None and user.active else None


@bp.route("/sign-in/code", methods=["GET", "POST"])
@limiter.limit(sign_in_limit, methods=["POST"])
def sign_in_code():
    """Second step for accounts with two-factor sign-in: the code from the app."""
    user = _pending_user()
    if user is None:
        flash("Sign in again: the code step timed out", "info")
        return redirect(url_for("staff.sign_in"))
    form = SignInCodeForm()
    error = None
    if form.validate_on_submit():
        ip = request.remote_addr
        if throttle.paused_until(user.email, ip) is not None:
            error = "There have been too many wrong attempts from this device. Try again later"
        elif two_factor.check_second_factor(user, form.code.data):
            throttle.clear_failures(user.email, ip)
            start_signed_in(user, two_factor_passed=True)  # commits
            return redirect(safe_next(request.args.get("next")))
        else:
            throttle.record_failure(user.email, ip)
            audit.record("sign_in.bad_code", actor=user, target=user)
            db.session.commit()
            error = (
                "The code is not right, or it has already been used. "
                "Wait for a new code, or use one of your recovery codes"
            )
    status = 200 if not (error or form.errors) else 400
    return render_template("staff/sign_in_code.html", form=form, error=error), status


@bp.post("/sign-out")
def logout():
    """End the session on the server and in the browser."""
    if current_user.is_authenticated:
        end_signed_in()
    flash("You have signed out", "info")
    return redirect(url_for("staff.sign_in"))


def _qr_svg(uri: str) -> str:
    return segno.make(uri, error="m").svg_data_uri(scale=4, border=2)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@role_required(Role.VIEWER)
@fresh_required
def two_factor_setup():
    """Set up (or replace) an authenticator app; required for admins and publishers.

    Needs the password entered in the last few minutes, like every change to sign-in.
    """
    user: StaffUser = current_user
    # The candidate secret stays in the (signed) cookie until a code proves it works.
    secret = session.get("staff_totp_candidate") or two_factor.new_totp_secret()
    session["staff_totp_candidate"] = secret
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        codes = two_factor.enable_two_factor(user, secret, form.code.data)
        if codes is not None:
            current_session().two_factor_passed = True
            db.session.commit()
            session.pop("staff_totp_candidate", None)
            # Shown in this answer only: never stored anywhere but as hashes.
            return render_template("staff/recovery_codes.html", codes=codes, first=True)
        error = "The code is not right. Check the time on your phone and try the newest code"
    uri = two_factor.provisioning_uri(user, secret)
    status = 200 if not (error or form.errors) else 400
    return (
        render_template(
            "staff/two_factor_setup.html",
            form=form,
            error=error,
            secret=secret,
            qr=_qr_svg(uri),
            required=user.needs_two_factor,
        ),
        status,
    )


@bp.route("/account/recovery-codes", methods=["GET", "POST"])
@role_required(Role.VIEWER)
@fresh_required
def recovery_codes():
    """Make ten new recovery codes (the old ones stop working); shown once."""
    user: StaffUser = current_user
    if not user.two_factor_enabled:
        return redirect(url_for("staff.account"))
    form = ConfirmForm()
    if form.validate_on_submit():
        codes = two_factor.new_recovery_codes(user)
        db.session.commit()
        return render_template("staff/recovery_codes.html", codes=codes, first=False)
    return render_template(
        "staff/recovery_codes_new.html", form=form, left=two_factor.recovery_codes_left(user)
    )


@bp.route("/account/two-factor/remove", methods=["GET", "POST"])
@role_required(Role.VIEWER)
@fresh_required
def two_factor_remove():
    """Turn off two-factor sign-in (only for roles that do not need it)."""
    user: StaffUser = current_user
    if not user.two_factor_enabled:
        return redirect(url_for("staff.account"))
    form = ConfirmForm()
    error = None
    if form.validate_on_submit():
        try:
            accounts.remove_two_factor(user)
        except accounts.AccountError as exc:
            error = str(exc)
        else:
            db.session.commit()
            flash("Two-factor sign-in is off", "info")
            return redirect(url_for("staff.account"))
    status = 200 if not error else 400
    return render_template("staff/two_factor_remove.html", form=form, error=error), status


@bp.route("/reauthenticate", methods=["GET", "POST"])
@limiter.limit(sign_in_limit, methods=["POST"])
@role_required(Role.VIEWER)
def reauthenticate():
    """Confirm the password (and code) before a sensitive change."""
    form = ReauthenticateForm()
    error = None
    if form.validate_on_submit():
        error = accounts.reauthenticate(
            current_session(), form.password.data, form.code.data or "", ip=request.remote_addr
        )
        if error is None:
            return redirect(safe_next(request.args.get("next")))
    status = 200 if not (error or form.errors) else 400
    return (
        render_template(
            "staff/reauthenticate.html",
            form=form,
            error=error,
            two_factor=current_user.two_factor_enabled,
        ),
        status,
    )


@bp.route("/account", methods=["GET", "POST"])
@role_required(Role.VIEWER)
@fresh_required
def account():
    """One's own account: change the password (after re-entering the current one)."""
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.new_password.data, keep=current_session())
        except accounts.AccountError as exc:
            error = str(exc)
        else:
            db.session.commit()
            flash("Your password has changed. Other devices have been signed out", "info")
            return redirect(url_for("staff.account"))
    status = 200 if not (error or form.errors) else 400
    user: StaffUser = current_user
    return (
        render_template(
            "staff/account.html",
            form=form,
            error=error,
            recovery_left=two_factor.recovery_codes_left(user) if user.two_factor_enabled else 0,
        ),
        status,
    )


@bp.get("/audit")
@role_required(Role.ADMIN)
def audit_log():
    """The audit log, newest first (admins only)."""
    page = max(1, request.args.get("page", 1, type=int) or 1)
    action = request.args.get("action") or None
    per_page = 50
    events = audit.recent(limit=per_page, offset=(page - 1) * per_page, action=action)
    total = audit.count(action=action)
    return render_template(
        "staff/audit.html", events=events, page=page, per_page=per_page, total=total, action=action
    )
