"""Signing in and out, lock-out, two-factor codes, sessions and account management."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from flask import g
from sqlalchemy import select

from engage.audit import AuditEvent, AuditLogIsAppendOnly
from engage.cli import cli
from engage.extensions import db
from engage.staff import accounts, throttle
from engage.staff.models import (
    Role,
    SignInThrottle,
    StaffSession,
    StaffUser,
)
from engage.util import utcnow
from tests.staffing import PASSWORD, current_code, sign_in


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_password_is_hashed_with_argon2id(make_staff):
    user = make_staff(Role.VIEWER)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_sign_in_and_out_ends_the_server_side_session(app, make_staff):
    user = make_staff(Role.TRIAGER)
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    assert client.get("/staff/inbox").status_code == 200
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"

    client.post("/staff/sign-out")
    assert client.get("/staff/inbox").status_code == 302
    # Replaying the old cookie does not bring the session back: the row is revoked.
    thief = app.test_client()
    thief.set_cookie("session", cookie.value, domain=cookie.domain)
    response = thief.get("/staff/inbox")
    assert response.status_code == 302 and "/staff/sign-in" in response.location
    assert db.session.scalars(select(StaffSession)).one().revoked_at is not None
    assert "sign_in" in _actions() and "sign_out" in _actions()


def test_the_headers_sign_out_button_signs_out(app, make_staff, monkeypatch):
    # The button in the header is a form like any other: with CSRF checks on, as in
    # production, it must carry the visitor's token, and a post without one is refused.
    user = make_staff(Role.VIEWER)
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    g.pop("csrf_token", None)  # the test's app context outlives a request; a server's does not
    inbox = client.get("/staff/inbox").get_data(as_text=True)
    form = re.search(
        r'<form[^>]*class="nhsuk-header__account-form"[^>]*action="/staff/sign-out"[^>]*>'
        r"(.*?)</form>",
        inbox,
        re.S,
    )
    assert form is not None
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', form[1]))
    assert set(fields) == {"csrf_token"}

    assert client.post("/staff/sign-out").status_code == 400  # no token: nothing happens
    assert client.get("/staff/inbox").status_code == 200
    out = client.post("/staff/sign-out", data=fields)
    assert out.status_code == 302 and "/staff/sign-in" in out.location
    assert client.get("/staff/inbox").status_code == 302
    # Public pages stay free of tokens and of the staff header.
    assert "csrf_token" not in app.test_client().get("/you-said-we-did").get_data(as_text=True)


def test_sign_in_starts_a_new_session(app, make_staff):
    user = make_staff(Role.VIEWER)
    client = app.test_client()
    client.get("/staff/sign-in")
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    sign_in(client, user)
    with client.session_transaction() as s:
        assert "planted" not in s


def test_wrong_password_gives_the_same_message_as_an_unknown_email(app, make_staff):
    user = make_staff(Role.VIEWER)
    client = app.test_client()
    wrong = client.post("/staff/sign-in", data={"email": user.email, "password": "nope" * 4})
    unknown = client.post(
        "/staff/sign-in", data={"email": "nobody@example.org", "password": "nope" * 4}
    )
    assert wrong.status_code == unknown.status_code == 400
    message = "Enter a correct email address and password"
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)


def test_lock_out_after_five_failures_even_with_the_right_password(app, make_staff):
    """Five failures pause this address for this account (issue 20: no longer the whole
    account, and the answer is the same words as any other refusal)."""
    user = make_staff(Role.VIEWER)
    client = app.test_client()
    for _ in range(throttle.MAX_FAILED_SIGN_INS):
        client.post("/staff/sign-in", data={"email": user.email, "password": "wrong" * 4})
    response = sign_in(client, user)
    assert response.status_code == 400
    assert accounts.GENERIC_FAILURE in response.get_data(as_text=True)
    assert client.get("/staff/inbox").status_code == 302  # no session was started
    row = db.session.scalars(select(SignInThrottle)).one()
    assert (row.email, row.ip) == (user.email, "127.0.0.1")
    assert row.blocked_until > utcnow()
    # After the lock-out time, the right password works again.
    row.blocked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert sign_in(client, user).status_code == 302


def test_sign_in_is_rate_limited(app, make_staff):
    client = app.test_client()
    statuses = [
        client.post(
            "/staff/sign-in", data={"email": f"x{i}@example.org", "password": "x" * 12}
        ).status_code
        for i in range(12)
    ]
    assert statuses[0] == 400 and 429 in statuses


def test_two_factor_code_is_needed_and_works_once(app, make_staff):
    user = make_staff(Role.PUBLISHER)
    client = app.test_client()
    first = client.post("/staff/sign-in", data={"email": user.email, "password": PASSWORD})
    assert first.status_code == 302 and first.location.endswith("/staff/sign-in/code")
    # Without the code, nothing in the staff area opens.
    assert client.get("/staff/inbox").status_code == 302
    code = current_code(user)
    assert (
        client.post(
            "/staff/sign-in/code", data={"code": "000000" if code != "000000" else "111111"}
        ).status_code
        == 400
    )
    assert client.post("/staff/sign-in/code", data={"code": code}).status_code == 302
    assert client.get("/staff/inbox").status_code == 200
    # The same code cannot be used again (replay).
    other = app.test_client()
    other.post("/staff/sign-in", data={"email": user.email, "password": PASSWORD})
    assert other.post("/staff/sign-in/code", data={"code": code}).status_code == 400


def test_admins_must_set_up_two_factor_before_anything_else(app, make_staff):
    user = make_staff(Role.ADMIN, two_factor=False)
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    response = client.get("/staff/accounts")
    assert response.status_code == 302 and response.location.endswith("/staff/account/two-factor")
    page = client.get("/staff/account/two-factor").get_data(as_text=True)
    secret = re.search(r'class="engage-secret">([A-Z2-7]+)<', page).group(1)
    assert "data:image/svg+xml" in page
    response = client.post("/staff/account/two-factor", data={"code": pyotp.TOTP(secret).now()})
    # Issue 20: the answer shows the ten recovery codes (once) instead of redirecting.
    assert response.status_code == 200 and "Your recovery codes" in response.get_data(as_text=True)
    assert client.get("/staff/accounts").status_code == 200
    db.session.refresh(user)
    assert user.two_factor_enabled and user.totp_secret == secret


def test_disabling_an_account_ends_its_sessions_at_once(app, signed_in, make_staff):
    admin = signed_in(Role.ADMIN)
    target_user = make_staff(Role.TRIAGER)
    victim = app.test_client()
    sign_in(victim, target_user)
    assert victim.get("/staff/inbox").status_code == 200
    response = admin.post(
        f"/staff/accounts/{target_user.id}", data={"role": "triager", "active": ""}
    )
    assert response.status_code == 302
    assert victim.get("/staff/inbox").status_code == 302
    assert "account.disabled" in _actions()
    # And it cannot sign in again.
    assert sign_in(app.test_client(), target_user).status_code == 400


def test_role_change_needs_a_fresh_password_and_is_audited(app, signed_in, make_staff):
    admin = signed_in(Role.ADMIN)
    person = make_staff(Role.VIEWER)
    stale = utcnow() - accounts.FRESH_FOR - timedelta(minutes=1)
    for s in db.session.scalars(select(StaffSession)):
        s.authenticated_at = stale
    db.session.commit()
    response = admin.post(f"/staff/accounts/{person.id}", data={"role": "triager", "active": "y"})
    assert response.status_code == 302 and "/staff/reauthenticate" in response.location
    db.session.refresh(person)
    assert person.role == Role.VIEWER
    confirm = admin.post(
        response.location,
        data={"password": PASSWORD, "code": current_code(admin.user)},
    )
    assert confirm.status_code == 302
    response = admin.post(f"/staff/accounts/{person.id}", data={"role": "triager", "active": "y"})
    assert response.status_code == 302
    db.session.refresh(person)
    assert person.role == Role.TRIAGER
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "account.role_changed")
    ).one()
    assert event.detail == {"from": "viewer", "to": "triager"}
    assert event.actor_email == admin.user.email


def test_admin_creates_an_account_in_the_ui(signed_in):
    admin = signed_in(Role.ADMIN)
    response = admin.post(
        "/staff/accounts/new",
        data={
            "email": "New.Person@Example.org",
            "name": "New",
            "role": "viewer",
            "password": "short",
        },
    )
    assert response.status_code == 400 and "at least 12" in response.get_data(as_text=True)
    response = admin.post(
        "/staff/accounts/new",
        data={
            "email": "New.Person@Example.org",
            "name": "New",
            "role": "viewer",
            "password": "a long enough password",
        },
    )
    assert response.status_code == 302
    user = db.session.scalars(
        select(StaffUser).where(StaffUser.email == "new.person@example.org")
    ).one()
    assert user.role == Role.VIEWER


def test_the_last_admin_cannot_demote_themselves(signed_in):
    admin = signed_in(Role.ADMIN)
    response = admin.post(
        f"/staff/accounts/{admin.user.id}", data={"role": "viewer", "active": "y"}
    )
    assert response.status_code == 400
    assert "only admin" in response.get_data(as_text=True)


def test_changing_the_password_signs_out_other_devices(app, signed_in):
    client = signed_in(Role.TRIAGER)
    other = app.test_client()
    sign_in(other, client.user)
    new = "another long password here"
    response = client.post("/staff/account", data={"new_password": new, "confirm": new})
    assert response.status_code == 302
    assert client.get("/staff/inbox").status_code == 200
    assert other.get("/staff/inbox").status_code == 302
    assert sign_in(app.test_client(), client.user, password=new).status_code == 302


def test_sign_in_never_redirects_off_site(app, make_staff):
    user = make_staff(Role.VIEWER)
    client = app.test_client()
    response = client.post(
        "/staff/sign-in?next=https://evil.example/staff/",
        data={"email": user.email, "password": PASSWORD},
    )
    assert response.location.endswith("/staff/inbox")


def test_audit_entries_cannot_be_changed_or_deleted(app, make_staff):
    make_staff(Role.VIEWER)
    from engage import audit

    event = audit.record("test.action", detail={"a": 1})
    db.session.commit()
    event.action = "rewritten"
    try:
        db.session.commit()
        raise AssertionError("the change was saved")
    except AuditLogIsAppendOnly:
        db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, event.id))
    try:
        db.session.commit()
        raise AssertionError("the delete was saved")
    except AuditLogIsAppendOnly:
        db.session.rollback()
    assert db.session.get(AuditEvent, event.id).action == "test.action"


def test_create_staff_command(runner):
    result = runner.invoke(
        cli,
        ["create-staff", "Cli@Example.org", "--role", "publisher", "--password-stdin"],
        input="a good long password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalars(select(StaffUser)).one()
    assert user.email == "cli@example.org" and user.role == Role.PUBLISHER
    assert accounts.password_matches(user, "a good long password")
    bad = runner.invoke(
        cli,
        ["create-staff", "x@example.org", "--role", "viewer", "--password-stdin"],
        input="short\n",
    )
    assert bad.exit_code != 0 and "at least 12" in bad.output
    spaced = runner.invoke(
        cli,
        ["create-staff", "  New1@Example.org ", "--role", "viewer", "--password-stdin"],
        input="a good long password\n",
    )
    assert spaced.exit_code == 0, spaced.output
    assert accounts.find_by_email("new1@example.org") is not None


def test_set_password_command_for_a_forgotten_password(runner, make_staff):
    # An outside review (round 21): nothing could reset a forgotten password, not even
    # the only admin's, short of editing the database.
    user = make_staff(Role.ADMIN)
    token = accounts.start_session(user, two_factor_passed=True)
    result = runner.invoke(
        cli, ["set-password", user.email.upper(), "--password-stdin"], input="another long one!\n"
    )
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert accounts.password_matches(user, "another long one!")
    assert accounts.session_for_token(token) is None
    short = runner.invoke(cli, ["set-password", user.email, "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 12" in short.output
    nobody = runner.invoke(cli, ["set-password", "nobody@example.org", "--password-stdin"])
    assert nobody.exit_code != 0 and "no staff account" in nobody.output


def test_production_session_cookie_is_secure(app, make_staff, monkeypatch):
    from engage import create_app

    monkeypatch.setenv("ENGAGE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-production-secret")
    # Production answers only for the host of ENGAGE_BASE_URL (issue #20).
    monkeypatch.setenv("ENGAGE_BASE_URL", "https://localhost")
    production = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    user = make_staff(Role.TRIAGER)
    with production.app_context():
        client = production.test_client()
        response = client.post(
            "/staff/sign-in",
            data={"email": user.email, "password": PASSWORD},
            base_url="https://localhost",
        )
        assert response.status_code == 302
        header = response.headers["Set-Cookie"]
        db.session.remove()
        db.engine.dispose()  # this app's own pool: close it, not leave it to the GC
        assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
