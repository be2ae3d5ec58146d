"""Issue 20, staff accounts: re-authentication honours the lock-out, sign-in says nothing
about accounts, the lock-out is per (account, address), ``next`` is never a 500, and the
two-factor lifecycle (fresh password, recovery codes, admin reset, enrolment first)."""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from engage.audit import AuditEvent
from engage.extensions import db
from engage.staff import accounts, throttle, two_factor
from engage.staff.models import RecoveryCode, Role, SignInThrottle, StaffSession
from engage.util import utcnow
from tests.staffing import PASSWORD, current_code, sign_in

WRONG = "not the password at all"
NAV = 'aria-label="Staff area"'


def _from(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def _make_stale(user) -> None:
    """Every session of ``user`` last entered the password long ago."""
    for s in db.session.scalars(select(StaffSession).where(StaffSession.user_id == user.id)):
        s.authenticated_at = utcnow() - accounts.FRESH_FOR - timedelta(minutes=1)
    db.session.commit()


def _fresh(user) -> bool:
    rows = db.session.scalars(
        select(StaffSession).where(
            StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None)
        )
    ).all()
    for row in rows:
        db.session.refresh(row)
    return any(accounts.is_fresh(row) for row in rows)


def _throttle(email: str, ip: str = "127.0.0.1") -> SignInThrottle | None:
    db.session.expire_all()
    return db.session.scalar(
        select(SignInThrottle).where(SignInThrottle.email == email, SignInThrottle.ip == ip)
    )


# ------------------------------------------------------------------ item 3: re-authentication


def test_reauthenticate_refuses_a_locked_out_address_even_with_the_right_password(app, signed_in):
    client = signed_in(Role.VIEWER)
    _make_stale(client.user)
    thief = app.test_client()  # the same address, guessing at the sign-in page
    for _ in range(throttle.MAX_FAILED_SIGN_INS):
        thief.post("/staff/sign-in", data={"email": client.user.email, "password": WRONG})
    response = client.post("/staff/reauthenticate", data={"password": PASSWORD})
    assert response.status_code == 400
    assert "too many wrong attempts" in response.get_data(as_text=True)
    assert not _fresh(client.user)
    assert "reauthenticate.locked_out" in _actions()


def test_reauthenticate_counts_failures_like_sign_in(app, signed_in):
    """The measured case: wrong passwords at /staff/reauthenticate, then the right one."""
    client = signed_in(Role.VIEWER)
    _make_stale(client.user)
    statuses = [
        client.post("/staff/reauthenticate", data={"password": WRONG}).status_code
        for _ in range(throttle.MAX_FAILED_SIGN_INS)
    ]
    assert statuses == [400] * throttle.MAX_FAILED_SIGN_INS
    assert _throttle(client.user.email).blocked_until > utcnow()
    right = client.post("/staff/reauthenticate", data={"password": PASSWORD})
    assert right.status_code == 400 and not _fresh(client.user)
    # The same pause holds at the sign-in page from that address ...
    assert sign_in(app.test_client(), client.user).status_code == 400
    # ... but not from anywhere else.
    elsewhere = app.test_client()
    response = elsewhere.post(
        "/staff/sign-in",
        data={"email": client.user.email, "password": PASSWORD},
        **_from("10.9.9.9"),
    )
    assert response.status_code == 302


def test_reauthenticate_is_rate_limited(signed_in):
    client = signed_in(Role.VIEWER)
    statuses = [
        client.post(
            "/staff/reauthenticate", data={"password": WRONG}, **_from("10.0.0.7")
        ).status_code
        for _ in range(12)
    ]
    assert statuses[0] == 400 and 429 in statuses


def test_a_right_reauthentication_clears_the_count(signed_in):
    client = signed_in(Role.VIEWER)
    _make_stale(client.user)
    client.post("/staff/reauthenticate", data={"password": WRONG})
    assert _throttle(client.user.email).failures == 1
    assert client.post("/staff/reauthenticate", data={"password": PASSWORD}).status_code == 302
    assert _throttle(client.user.email) is None and _fresh(client.user)


# ------------------------------------------------------------------ item 5: sign-in


class _CountingHasher:
    """Wraps the Argon2 hasher and counts verifications."""

    def __init__(self, real):
        self.real, self.verifications = real, 0

    def verify(self, *args, **kwargs):
        self.verifications += 1
        return self.real.verify(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_unknown_wrong_and_locked_get_the_same_answer_after_the_same_work(
    app, make_staff, monkeypatch
):
    user = make_staff(Role.VIEWER)
    for _ in range(throttle.MAX_FAILED_SIGN_INS):
        app.test_client().post(
            "/staff/sign-in", data={"email": user.email, "password": WRONG}, **_from("10.0.0.3")
        )
    spy = _CountingHasher(accounts._hasher)
    monkeypatch.setattr(accounts, "_hasher", spy)
    answers = {}
    for case, email, password, address in [
        ("unknown", "nobody@example.org", PASSWORD, "10.0.0.1"),
        ("wrong", user.email, WRONG, "10.0.0.2"),
        ("locked", user.email, PASSWORD, "10.0.0.3"),
    ]:
        before = spy.verifications
        response = app.test_client().post(
            "/staff/sign-in", data={"email": email, "password": password}, **_from(address)
        )
        page = response.get_data(as_text=True)
        error = re.search(r'nhsuk-error-summary__body"><p>(.*?)</p>', page).group(1)
        answers[case] = (response.status_code, error)
        assert spy.verifications - before == 1, case  # one Argon2 verification each
    assert answers["unknown"] == answers["wrong"] == answers["locked"]
    assert answers["locked"][0] == 400
    assert "locked" not in answers["locked"][1].lower()


def test_unknown_wrong_and_locked_take_about_the_same_time(app, make_staff):
    user = make_staff(Role.VIEWER)
    for _ in range(throttle.MAX_FAILED_SIGN_INS):
        app.test_client().post(
            "/staff/sign-in", data={"email": user.email, "password": WRONG}, **_from("10.0.1.3")
        )

    def median_time(email: str, password: str, address: str) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            app.test_client().post(
                "/staff/sign-in", data={"email": email, "password": password}, **_from(address)
            )
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    other = make_staff(Role.VIEWER)
    wrong = median_time(other.email, WRONG, "10.0.1.2")  # 3 failures: not yet paused
    unknown = median_time("nobody@example.org", WRONG, "10.0.1.1")
    locked = median_time(user.email, PASSWORD, "10.0.1.3")
    # Before issue 20 a locked account answered in a tenth of the time (no hashing).
    assert unknown > wrong * 0.5 and locked > wrong * 0.5, (unknown, wrong, locked)


def test_a_stranger_cannot_lock_a_staff_member_out(app, make_staff):
    user = make_staff(Role.VIEWER)
    stranger = app.test_client()
    for i in range(3 * throttle.MAX_FAILED_SIGN_INS):
        stranger.post(
            "/staff/sign-in",
            data={"email": user.email, "password": WRONG},
            **_from(f"203.0.113.{i // 9}"),  # stays under the per-address rate limit
        )
    owner = app.test_client()
    response = owner.post(
        "/staff/sign-in", data={"email": user.email, "password": PASSWORD}, **_from("10.1.1.1")
    )
    assert response.status_code == 302
    assert owner.get("/staff/inbox", **_from("10.1.1.1")).status_code == 200


def test_pauses_grow_with_each_further_failure_and_are_kept_in_the_database(app, make_staff):
    user = make_staff(Role.VIEWER)
    client = app.test_client()
    pauses = []
    for attempt in range(1, throttle.MAX_FAILED_SIGN_INS + 3):
        client.post("/staff/sign-in", data={"email": user.email, "password": WRONG})
        row = _throttle(user.email)
        assert row.failures == attempt
        if row.blocked_until is not None:
            pauses.append(round((row.blocked_until - row.last_failure_at).total_seconds() / 60))
            row.blocked_until = utcnow() - timedelta(seconds=1)  # wait the pause out
            db.session.commit()
    assert pauses == [15, 30, 60]
    # A pause is not extended by attempts made during it (they are not even checked).
    client.post("/staff/sign-in", data={"email": user.email, "password": WRONG})
    row = _throttle(user.email)
    until = row.blocked_until
    client.post("/staff/sign-in", data={"email": user.email, "password": PASSWORD})
    assert _throttle(user.email).blocked_until == until
    assert _throttle(user.email).failures == throttle.MAX_FAILED_SIGN_INS + 3


def test_the_pause_is_capped_and_old_counts_are_forgotten(app, make_staff):
    assert throttle._pause_after(throttle.MAX_FAILED_SIGN_INS - 1) is None
    assert throttle._pause_after(throttle.MAX_FAILED_SIGN_INS + 40) == throttle.LOCK_OUT_AT_MOST
    db.session.add(
        SignInThrottle(
            email="old@example.org",
            ip="10.0.0.1",
            failures=9,
            last_failure_at=utcnow() - throttle.FAILURES_FORGOTTEN_AFTER - timedelta(hours=1),
        )
    )
    db.session.commit()
    throttle.record_failure("someone@example.org", "10.0.0.2")
    db.session.commit()
    assert _throttle("old@example.org", "10.0.0.1") is None


def test_the_throttle_counts_failures_of_concurrent_requests(app):
    """The count is raised in the database, not in the process."""
    for _ in range(3):
        throttle.record_failure("x@example.org", "10.0.0.1")
        db.session.commit()
    row = _throttle("x@example.org", "10.0.0.1")
    # Another process's failure, written straight to the table.
    db.session.execute(
        SignInThrottle.__table__.update()
        .where(SignInThrottle.id == row.id)
        .values(failures=SignInThrottle.failures + 1)
    )
    db.session.commit()
    assert throttle.record_failure("x@example.org", "10.0.0.1").failures == 5
    db.session.commit()
    assert throttle.paused_until("x@example.org", "10.0.0.1") is not None


# ------------------------------------------------------------------ item 6: next


CRLF_NEXT = "/staff/inbox%0D%0ASet-Cookie:%20x=1"
UNSAFE_NEXT = [
    CRLF_NEXT,
    "/staff/inbox%0A",
    "/staff/inbox%09x",
    "/staff/inbox%00",
    "/staff/%E2%80%A8",
    "//evil.example/staff/",
    "/staff/%5C%5Cevil.example",
    "https://evil.example/staff/",
    "%0D%0A/staff/inbox",
    "/staff/" + "a" * 3000,
    # Dot segments leave the staff area once the browser resolves them.
    "/staff/../../you-said-we-did",
    "/staff/%2E%2E/you-said-we-did",
    "/staff/%252e%252e/you-said-we-did",
    "/staff/./../open-data",
]


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_unsafe_next_is_ignored_at_sign_in(app, make_staff, target):
    user = make_staff(Role.VIEWER)
    response = app.test_client().post(
        f"/staff/sign-in?next={target}", data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.location.endswith("/staff/inbox")


@pytest.mark.parametrize("target", [CRLF_NEXT, "//evil.example/", "/staff/x%0Dy"])
def test_unsafe_next_is_ignored_at_the_code_step(app, make_staff, target):
    user = make_staff(Role.PUBLISHER)
    client = app.test_client()
    first = client.post(
        f"/staff/sign-in?next={target}", data={"email": user.email, "password": PASSWORD}
    )
    assert first.status_code == 302 and "\n" not in first.location
    # And if someone calls the code step with it directly.
    response = client.post(f"/staff/sign-in/code?next={target}", data={"code": current_code(user)})
    assert response.status_code == 302
    assert response.location.endswith("/staff/inbox")


@pytest.mark.parametrize("target", [CRLF_NEXT, "//evil.example/", "/staff/x%0Dy"])
def test_unsafe_next_is_ignored_at_reauthenticate(signed_in, target):
    client = signed_in(Role.VIEWER)
    response = client.post(f"/staff/reauthenticate?next={target}", data={"password": PASSWORD})
    assert response.status_code == 302
    assert response.location.endswith("/staff/inbox")


def test_a_safe_next_is_still_followed(app, make_staff):
    user = make_staff(Role.VIEWER)
    response = app.test_client().post(
        "/staff/sign-in?next=/staff/dashboard%3Fengagement%3D2",
        data={"email": user.email, "password": PASSWORD},
    )
    assert response.location.endswith("/staff/dashboard?engagement=2")


# ------------------------------------------------------------------ item 4: replacing the app


def test_replacing_the_authenticator_needs_a_fresh_password(signed_in):
    client = signed_in(Role.PUBLISHER)
    old_secret = client.user.totp_secret
    _make_stale(client.user)
    response = client.get("/staff/account/two-factor")
    assert response.status_code == 302 and "/staff/reauthenticate" in response.location
    # Posting a code for a secret the thief holds does not replace the app either.
    response = client.post("/staff/account/two-factor", data={"code": "123456"})
    assert response.status_code == 302 and "/staff/reauthenticate" in response.location
    db.session.refresh(client.user)
    assert client.user.totp_secret == old_secret

    confirm = client.post(
        response.location, data={"password": PASSWORD, "code": current_code(client.user)}
    )
    assert confirm.status_code == 302 and confirm.location.endswith("/staff/account/two-factor")
    page = client.get(confirm.location).get_data(as_text=True)
    secret = re.search(r'class="engage-secret">([A-Z2-7]+)<', page).group(1)
    response = client.post("/staff/account/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    db.session.refresh(client.user)
    assert client.user.totp_secret == secret != old_secret
    assert "account.two_factor_replaced" in _actions()


def test_removing_the_authenticator_needs_a_fresh_password(signed_in):
    client = signed_in(Role.TRIAGER, two_factor=True)
    _make_stale(client.user)
    response = client.post("/staff/account/two-factor/remove")
    assert response.status_code == 302 and "/staff/reauthenticate" in response.location
    db.session.refresh(client.user)
    assert client.user.two_factor_enabled
    client.post(response.location, data={"password": PASSWORD, "code": current_code(client.user)})
    assert client.post("/staff/account/two-factor/remove").status_code == 302
    db.session.refresh(client.user)
    assert not client.user.two_factor_enabled
    assert "account.two_factor_removed" in _actions()


def test_roles_that_need_two_factor_cannot_remove_it(signed_in):
    client = signed_in(Role.PUBLISHER)
    response = client.post("/staff/account/two-factor/remove")
    assert response.status_code == 400
    db.session.refresh(client.user)
    assert client.user.two_factor_enabled


# ------------------------------------------------------------------ item 7: recovery codes


def _enrol(client) -> list[str]:
    page = client.get("/staff/account/two-factor").get_data(as_text=True)
    secret = re.search(r'class="engage-secret">([A-Z2-7]+)<', page).group(1)
    response = client.post("/staff/account/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    return re.findall(r"<li><code>([a-z]{5}-[a-z]{5})</code></li>", response.get_data(as_text=True))


def test_ten_recovery_codes_are_shown_once_and_stored_hashed(app, make_staff):
    user = make_staff(Role.ADMIN, two_factor=False)
    client = app.test_client()
    sign_in(client, user)
    codes = _enrol(client)
    assert len(codes) == 10 == len(set(codes))
    stored = db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all()
    assert len(stored) == 10
    for row in stored:
        assert row.code_hash.startswith("$argon2id$")
        assert all(code.replace("-", "") not in row.code_hash for code in codes)
    # Not shown again anywhere.
    account = client.get("/staff/account").get_data(as_text=True)
    assert "10 unused" in account and not any(code in account for code in codes)


def test_a_recovery_code_signs_in_once_in_place_of_the_app(app, make_staff):
    user = make_staff(Role.PUBLISHER, two_factor=False)
    client = app.test_client()
    sign_in(client, user)
    codes = _enrol(client)
    client.post("/staff/sign-out")

    phone_lost = app.test_client()
    phone_lost.post("/staff/sign-in", data={"email": user.email, "password": PASSWORD})
    response = phone_lost.post("/staff/sign-in/code", data={"code": codes[3].upper()})
    assert response.status_code == 302 and response.location.endswith("/staff/inbox")
    assert phone_lost.get("/staff/inbox").status_code == 200
    assert "sign_in.recovery_code_used" in _actions()

    again = app.test_client()
    again.post("/staff/sign-in", data={"email": user.email, "password": PASSWORD})
    assert again.post("/staff/sign-in/code", data={"code": codes[3]}).status_code == 400
    assert again.post("/staff/sign-in/code", data={"code": codes[4]}).status_code == 302
    assert two_factor.recovery_codes_left(user) == 8


def test_a_recovery_code_confirms_a_reauthentication(signed_in):
    client = signed_in(Role.PUBLISHER)
    codes = two_factor.new_recovery_codes(client.user)
    db.session.commit()
    _make_stale(client.user)
    response = client.post("/staff/reauthenticate", data={"password": PASSWORD, "code": codes[0]})
    assert response.status_code == 302 and _fresh(client.user)


def test_recovery_codes_are_remade_only_with_a_fresh_password(signed_in):
    client = signed_in(Role.PUBLISHER)
    old = two_factor.new_recovery_codes(client.user)
    db.session.commit()
    _make_stale(client.user)
    response = client.post("/staff/account/recovery-codes")
    assert response.status_code == 302 and "/staff/reauthenticate" in response.location
    client.post(response.location, data={"password": PASSWORD, "code": current_code(client.user)})
    assert "Make new recovery codes" in client.get("/staff/account/recovery-codes").get_data(
        as_text=True
    )
    response = client.post("/staff/account/recovery-codes")
    new = re.findall(r"<li><code>([a-z]{5}-[a-z]{5})</code></li>", response.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    assert not two_factor.use_recovery_code(client.user, old[0])
    assert two_factor.use_recovery_code(client.user, new[0])


# ------------------------------------------------------------------ admin reset, enrolment


def test_an_admin_resets_two_factor_and_the_account_enrols_again(app, signed_in, make_staff):
    admin = signed_in(Role.ADMIN)
    person = make_staff(Role.TRIAGER, two_factor=True)
    two_factor.new_recovery_codes(person)
    db.session.commit()
    victim = app.test_client()
    assert sign_in(victim, person).status_code == 302

    response = admin.post(
        f"/staff/accounts/{person.id}",
        data={"role": "triager", "active": "y", "reset_two_factor": "y"},
    )
    assert response.status_code == 302
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "account.two_factor_reset")
    ).one()
    assert event.actor_email == admin.user.email and event.target_id == str(person.id)
    db.session.refresh(person)
    assert not person.two_factor_enabled and person.two_factor_must_enrol
    assert two_factor.recovery_codes_left(person) == 0
    assert victim.get("/staff/inbox").status_code == 302  # their sessions ended

    # At the next sign-in (a triager, whose role alone would not need it) they enrol first.
    client = app.test_client()
    assert sign_in(client, person).status_code == 302
    response = client.get("/staff/inbox")
    assert response.status_code == 302 and response.location.endswith("/staff/account/two-factor")
    page = client.get("/staff/account/two-factor").get_data(as_text=True)
    assert NAV not in page  # no staff menu before enrolment
    assert len(_enrol(client)) == 10
    db.session.refresh(person)
    assert person.two_factor_enabled and not person.two_factor_must_enrol
    inbox = client.get("/staff/inbox")
    assert inbox.status_code == 200 and NAV in inbox.get_data(as_text=True)


def test_no_staff_menu_before_enrolment(app, make_staff):
    admin = make_staff(Role.ADMIN, two_factor=False)
    client = app.test_client()
    sign_in(client, admin)
    setup = client.get("/staff/account/two-factor")
    assert setup.status_code == 200
    page = setup.get_data(as_text=True)
    assert NAV not in page and "Accounts" not in page
    # Re-authenticating is part of setting up after a while, and shows no menu either.
    _make_stale(admin)
    response = client.get("/staff/account/two-factor")
    assert response.status_code == 302 and "/staff/reauthenticate" in response.location
    reauth = client.get(response.location)
    assert reauth.status_code == 200 and NAV not in reauth.get_data(as_text=True)
    assert client.post(response.location, data={"password": PASSWORD}).status_code == 302
    assert client.get("/staff/account/two-factor").status_code == 200
    # A viewer, who needs no app, has the menu.
    viewer = make_staff(Role.VIEWER)
    other = app.test_client()
    sign_in(other, viewer)
    assert NAV in other.get("/staff/inbox").get_data(as_text=True)


def test_the_per_address_sign_in_limit_comes_from_configuration(app, client, monkeypatch):
    """ENGAGE_SIGN_IN_LIMIT sets the per-address limit (browser tests raise it, since
    they all sign in from 127.0.0.1); the default is 10 a minute."""
    assert app.config["ENGAGE_SIGN_IN_LIMIT"] == "10 per minute"
    monkeypatch.setitem(app.config, "ENGAGE_SIGN_IN_LIMIT", "3 per minute")
    statuses = [
        client.post(
            "/staff/sign-in",
            data={"email": "nobody@example.org", "password": WRONG},
            **_from("10.0.0.9"),
        ).status_code
        for _ in range(4)
    ]
    assert statuses[:3] == [400, 400, 400] and statuses[3] == 429
