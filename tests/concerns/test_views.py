"""The staff concerns page and its forms: roles, CSRF, escaping, a response in a click."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.audit import AuditEvent
from engage.concerns import service
from engage.concerns.models import Concern
from engage.extensions import db
from engage.publish.models import Response
from engage.staff.models import Role
from tests.concerns.conftest import evaluation_rows


@pytest.fixture
def found(make_engagement, add_items, theme_named):
    engagement = make_engagement()
    texts = [r["text"] for r in evaluation_rows("jobs")]
    texts[0] = "<script>alert('x')</script> Staff will lose their jobs in the merger."
    items = add_items(
        engagement,
        "jobs",
        texts,
        consent_to_quote=True,
        redacted_text="<b>Redacted</b> words about jobs and redundancies.",
    )
    service.refresh(engagement, theme_named("jobs"))
    db.session.commit()
    return engagement, service.concerns_of(engagement, theme_named("jobs")), items


def _page(client, engagement):
    return client.get(f"/staff/concerns?engagement={engagement.slug}&theme=jobs")


def test_a_viewer_sees_concerns_with_counts_drafts_and_escaped_examples(found, signed_in):
    engagement, concerns, items = found
    client = signed_in(Role.VIEWER)
    page = _page(client, engagement)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for concern in concerns:
        assert f'id="concern-{concern.id}"' in html
    assert "You told us you are concerned that" in html
    assert "&lt;b&gt;Redacted&lt;/b&gt;" in html and "<b>Redacted</b>" not in html
    assert "<script>alert" not in html
    # A viewer reads; the forms that change things are not offered.
    assert "/rename" not in html and "Start a response" not in html


def test_a_viewer_cannot_change_concerns(found, signed_in):
    engagement, concerns, _items = found
    client = signed_in(Role.VIEWER)
    response = client.post(f"/staff/concerns/{concerns[0].id}/rename", data={"label": "x"})
    assert response.status_code == 403
    assert db.session.get(Concern, concerns[0].id).label != "x"
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "access.denied"))


def test_a_triager_renames_hides_and_merges(found, signed_in):
    engagement, concerns, _items = found
    client = signed_in(Role.TRIAGER)
    first, second = concerns[0].id, concerns[1].id
    client.post(
        f"/staff/concerns/{first}/rename",
        data={"label": "Jobs at risk", "draft": "CCG staff may lose their jobs."},
    )
    client.post(f"/staff/concerns/{second}/hide", data={"hidden": "1"})
    db.session.expire_all()
    assert db.session.get(Concern, first).label == "Jobs at risk"
    assert db.session.get(Concern, second).hidden
    html = _page(client, engagement).get_data(as_text=True)
    assert "Jobs at risk" in html and f'id="concern-{second}"' not in html
    client.post(f"/staff/concerns/{first}/merge", data={"other": second})
    db.session.expire_all()
    assert db.session.get(Concern, second) is None


def test_forms_without_a_csrf_token_are_refused(app, found, signed_in):
    engagement, concerns, _items = found
    client = signed_in(Role.PUBLISHER)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        for action in ("rename", "hide", "split", "merge", "move", "respond"):
            response = client.post(
                f"/staff/concerns/{concerns[0].id}/{action}", data={"label": "x"}
            )
            assert response.status_code == 400, action
        refresh = client.post(
            "/staff/concerns/refresh", data={"engagement": engagement.slug, "theme": "jobs"}
        )
        assert refresh.status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert db.session.get(Concern, concerns[0].id).label != "x"


def test_a_publisher_turns_a_concern_into_a_draft_response(found, signed_in):
    engagement, concerns, _items = found
    client = signed_in(Role.PUBLISHER)
    concern = concerns[0]
    members = {m.item_id for m in concern.members}
    response = client.post(f"/staff/concerns/{concern.id}/respond")
    assert response.status_code == 302
    created = db.session.scalar(select(Response))
    assert f"/staff/responses/{created.id}" in response.location
    assert {i.id for i in created.items} == members
    db.session.expire_all()
    assert db.session.get(Concern, concern.id).response_id == created.id


def test_a_triager_cannot_start_a_response(found, signed_in):
    _engagement, concerns, _items = found
    client = signed_in(Role.TRIAGER)
    assert client.post(f"/staff/concerns/{concerns[0].id}/respond").status_code == 403
    assert db.session.scalar(select(Response)) is None


def test_refresh_and_move_from_the_page(found, signed_in, add_items):
    engagement, concerns, items = found
    client = signed_in(Role.TRIAGER)
    target = concerns[-1]
    moving = next(m.item for m in concerns[0].members)
    client.post(f"/staff/concerns/{target.id}/move", data={"reference": moving.reference})
    new = add_items(engagement, "jobs", ["Will CCG staff be made redundant next year?"])
    response = client.post(
        "/staff/concerns/refresh", data={"engagement": engagement.slug, "theme": "jobs"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    placed = {
        m.item_id: m.concern_id
        for c in service.concerns_of(engagement, target.theme)
        for m in c.members
    }
    assert placed[moving.id] == target.id
    assert new[0].id in placed


def test_each_concern_has_its_weekly_chart_with_words_and_the_numbers(found, signed_in):
    engagement, concerns, _items = found
    client = signed_in(Role.VIEWER)
    html = _page(client, engagement).get_data(as_text=True)
    views = service.overview(engagement, concerns[0].theme)
    assert views and all(v.weeks for v in views)
    for v in views:
        c = v.concern
        svg = f'<svg class="engage-trend__chart" role="img" aria-labelledby="trend-{c.id}-title"'
        assert svg in html
        assert f'<title id="trend-{c.id}-title">{v.trend.summary}</title>' in html
        assert v.trend.summary.startswith("Items per week")
        # The exact figures stay on the page, in a table under "Items per week".
        for week, n in v.weeks:
            numeric = '<td class="nhsuk-table__cell nhsuk-table__cell--numeric">'
            cell = f"{week.strftime('%d %b %Y')}</td>{numeric}{n}</td>"
            assert cell in html
    summary = '<span class="nhsuk-details__summary-text">Items per week</span>'
    assert html.count(summary) == len(views)
