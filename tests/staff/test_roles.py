"""Every staff route, walked as anonymous and as each role: only the right role gets in."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.audit import AuditEvent
from engage.extensions import db
from engage.staff.models import Role

# Pages anyone may reach: signing in and out.
OPEN_ENDPOINTS = {"staff.sign_in", "staff.sign_in_code", "staff.logout"}
ROLES = list(Role)


def _staff_rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("staff.")]


def _url(rule, item_id: int) -> str:
    values = {}
    for arg in rule.arguments:
        if arg == "fmt":
            values[arg] = "csv"
        elif arg == "version":
            values[arg] = "no-such-version"
        else:
            values[arg] = item_id
    path = rule.rule
    for name, value in values.items():
        path = path.replace(f"<int:{name}>", str(value)).replace(f"<{name}>", str(value))
        path = path.replace(f"<any(csv, jsonl):{name}>", str(value))
    return path


def _method(rule) -> str:
    return "GET" if "GET" in rule.methods else "POST"


def test_every_staff_view_declares_its_role(app):
    rules = _staff_rules(app)
    assert len(rules) > 15
    for rule in rules:
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in OPEN_ENDPOINTS:
            continue
        assert isinstance(getattr(view, "required_role", None), Role), rule.endpoint


def test_anonymous_is_sent_to_sign_in_everywhere(app, client, make_item):
    item = make_item()
    for rule in _staff_rules(app):
        if rule.endpoint in OPEN_ENDPOINTS:
            continue
        response = client.open(_url(rule, item.id), method=_method(rule))
        assert response.status_code == 302, rule.endpoint
        assert "/staff/sign-in" in response.location, rule.endpoint


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_each_role_reaches_exactly_its_routes(app, signed_in, make_item, role):
    item = make_item()
    client = signed_in(role)
    for rule in _staff_rules(app):
        if rule.endpoint in OPEN_ENDPOINTS:
            continue
        needed = app.view_functions[rule.endpoint].required_role
        before = db.session.scalar(
            select(db.func.count(AuditEvent.id)).where(AuditEvent.action == "access.denied")
        )
        response = client.open(_url(rule, item.id), method=_method(rule))
        after = db.session.scalar(
            select(db.func.count(AuditEvent.id)).where(AuditEvent.action == "access.denied")
        )
        if role.can(needed):
            assert response.status_code != 403, rule.endpoint
            assert "/staff/sign-in" not in (response.location or ""), rule.endpoint
            assert response.status_code < 500, rule.endpoint
        else:
            assert response.status_code == 403, (rule.endpoint, response.status_code)
            assert after == before + 1, rule.endpoint
            # A refusal shows nothing of the item.
            assert item.text not in response.get_data(as_text=True)


def test_a_missing_item_is_404_and_audited(signed_in):
    client = signed_in(Role.VIEWER)
    response = client.get("/staff/items/999999")
    assert response.status_code == 404
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).one()
    assert event.detail["reason"] == "not_found"
    assert event.actor_email == client.user.email
