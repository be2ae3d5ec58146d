"""Wiring between Flask-Login and the server-side staff sessions; the role check."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, abort, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from engage import audit
from engage.extensions import login
from engage.staff import accounts
from engage.staff.models import ROLE_LABELS, Role, StaffSession, StaffUser

# Endpoints an account that needs two-factor sign-in may reach before setting it up
# (confirming the password again is part of setting it up after a while).
TWO_FACTOR_SETUP_ENDPOINTS = {"staff.two_factor_setup", "staff.logout", "staff.reauthenticate"}
# The longest ``next`` followed after signing in.
NEXT_MAX_LENGTH = 2000


def init_app(app: Flask) -> None:
    """Bind Flask-Login: cookies carry a session token that is checked on every request."""
    login.init_app(app)
    login.login_view = "staff.sign_in"
    login.login_message = "Sign in to see that page"
    login.login_message_category = "info"
    login.session_protection = None  # the server-side session row is the protection

    @app.before_request
    def forget_previous_user() -> None:
        # The user is looked up afresh for every request, even when an app context
        # (and its g) outlives one request, as in tests and CLI-driven requests.
        g.pop("_login_user", None)
        g.pop("staff_session", None)

    @app.context_processor
    def staff_template_helpers() -> dict[str, Any]:
        return {
            "staff_endpoints": lambda: app.view_functions.keys(),
            "role_named": Role,
            "role_labels": ROLE_LABELS,
            "staff_menu_shown": staff_menu_shown,
        }

    @login.user_loader
    def load_user(token: str) -> StaffUser | None:
        staff_session = accounts.session_for_token(token)
        if staff_session is None:
            return None
        g.staff_session = staff_session
        user = staff_session.user
        user.session_token = token
        return user


def current_session() -> StaffSession:
    """The signed-in user's StaffSession (only inside a role-checked view)."""
    return g.staff_session


def sign_in(user: StaffUser, *, two_factor_passed: bool) -> None:
    """Start a new session: the old cookie's contents are thrown away first."""
    session.clear()
    token = accounts.start_session(
        user,
        two_factor_passed=two_factor_passed,
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
    )
    user.session_token = token
    login_user(user, remember=False)
    session.permanent = False


def sign_out() -> None:
    staff_session = g.get("staff_session")
    if staff_session is not None:
        accounts.end_session(staff_session)
    logout_user()
    session.clear()


def two_factor_pending() -> bool:
    """True while the signed-in account must still set up (or pass) two-factor sign-in."""
    if not current_user.is_authenticated:
        return False
    staff_session = g.get("staff_session")
    return current_user.needs_two_factor and (
        staff_session is None or not staff_session.two_factor_passed
    )


def staff_menu_shown() -> bool:
    """The staff menu is for signed-in accounts that have done their two-factor set-up."""
    return current_user.is_authenticated and not two_factor_pending()


def clean_next(target: str | None) -> str | None:
    """``target`` if it is a plain path inside the staff area, else None.

    Refused: anything with a scheme or host, ``//`` or a backslash (which browsers read
    as a host), a ``.`` or ``..`` segment, however encoded (``/staff/../x`` is ``/x``
    once resolved), control or other unprintable characters (CR/LF would split the
    Location header), and anything very long.
    """
    if not target or len(target) > NEXT_MAX_LENGTH:
        return None
    if not target.startswith("/staff/") or "\\" in target or target.startswith("//"):
        return None
    if any(not ch.isprintable() or ch.isspace() for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    if any(_decoded(segment) in (".", "..") for segment in parts.path.split("/")):
        return None
    return target


def _decoded(segment: str) -> str:
    """A path segment with its percent-escapes undone, as often as they nest."""
    while "%" in segment and unquote(segment) != segment:
        segment = unquote(segment)
    return segment


def safe_next(target: str | None) -> str:
    """Only a path inside the staff area: never an open redirect, never a broken header."""
    return clean_next(target) or url_for("staff.inbox")


def role_required(role: Role) -> Callable:
    """Only staff with ``role`` or above; others get 403 and an audit entry."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            if not current_user.is_authenticated:
                return login.unauthorized()
            staff_session = current_session()
            if (
                current_user.needs_two_factor
                and not staff_session.two_factor_passed
                and request.endpoint not in TWO_FACTOR_SETUP_ENDPOINTS
            ):
                return redirect(url_for("staff.two_factor_setup"))
            if not current_user.role.can(role):
                audit.denied("role", detail={"needed": role.value, "has": current_user.role.value})
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return wrapped

    return decorator


def fresh_required(view: Callable) -> Callable:
    """Ask for the password again unless it was entered in the last few minutes."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        if not accounts.is_fresh(current_session()):
            return redirect(url_for("staff.reauthenticate", next=clean_next(request.full_path)))
        return view(*args, **kwargs)

    return wrapped
