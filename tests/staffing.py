"""Staff fixtures for the whole suite: accounts of each role, signed in through the pages."""

from __future__ import annotations

import pyotp
import pytest

from engage.extensions import db
from engage.staff import accounts
from engage.staff.models import Role, StaffUser
from engage.util import utcnow

PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_staff(app):
    """Factory: an account with a password and, for admins and publishers, a TOTP app."""
    counter = iter(range(1, 10_000))

    def factory(role: Role = Role.TRIAGER, *, two_factor: bool | None = None, **kw) -> StaffUser:
        n = next(counter)
        user = accounts.create_staff(
            email=kw.pop("email", f"{role.value}{n}@example.org"),
            role=role,
            password=kw.pop("password", PASSWORD),
            name=kw.pop("name", f"{role.value.capitalize()} {n}"),
        )
        if two_factor if two_factor is not None else role.needs_two_factor:
            user.totp_secret = pyotp.random_base32()
            user.totp_confirmed_at = utcnow()
        db.session.commit()
        return user

    return factory


def current_code(user: StaffUser) -> str:
    """A code the app would show now; the replay guard is reset so tests can sign in again."""
    user.totp_last_step = None
    db.session.commit()
    return pyotp.TOTP(user.totp_secret).now()


def sign_in(client, user: StaffUser, password: str = PASSWORD):
    """Sign in through the pages, with the code step when the account has one."""
    response = client.post("/staff/sign-in", data={"email": user.email, "password": password})
    if user.two_factor_enabled and response.status_code == 302 and "/code" in response.location:
        response = client.post("/staff/sign-in/code", data={"code": current_code(user)})
    return response


@pytest.fixture
def signed_in(app, make_staff):
    """Factory: a test client signed in with a new account of ``role``."""

    def factory(role: Role = Role.TRIAGER, **kw):
        user = make_staff(role, **kw)
        client = app.test_client()
        response = sign_in(client, user)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        client.user = user
        return client

    return factory
