"""Dates people enter stay in a sensible window (issue #20): a milestone dated
0001-01-01 or 9999-12-31 was accepted; now it is refused with a message."""

from __future__ import annotations

from datetime import date

import pytest

from engage.engagements import service as engagements
from engage.extensions import db
from engage.publish import service
from engage.publish.models import ResponseMilestone, ResponseStatus
from engage.staff.models import Role
from engage.util import EARLIEST_DATE, LATEST_DATE, date_in_window


@pytest.mark.parametrize(
    "value, ok",
    [
        (date(1, 1, 1), False),
        (date(1999, 12, 31), False),
        (EARLIEST_DATE, True),
        (date(2026, 12, 5), True),
        (LATEST_DATE, True),
        (date(2101, 1, 1), False),
        (date(9999, 12, 31), False),
    ],
)
def test_the_date_window(value, ok):
    assert date_in_window(value) is ok


@pytest.mark.parametrize("typed", ["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01"])
def test_a_milestone_outside_the_window_is_refused_with_a_message(
    app, make_response, signed_in, typed
):
    response = make_response()
    before = len(response.milestones)
    client = signed_in(Role.PUBLISHER)
    page = client.post(
        f"/staff/responses/{response.id}/status",
        data={"status": "in-progress", "note": "Work began", "on": typed},
        follow_redirects=True,
    )
    assert page.status_code == 200
    assert "must be between 1 January 2000 and 31 December 2100" in page.get_data(as_text=True)
    db.session.expire_all()
    assert response.status == ResponseStatus.PLANNED
    assert len(response.milestones) == before
    stored = db.session.query(ResponseMilestone).filter_by(on=date.fromisoformat(typed))
    assert stored.count() == 0


def test_a_milestone_inside_the_window_is_kept(app, make_response, signed_in):
    response = make_response()
    client = signed_in(Role.PUBLISHER)
    client.post(
        f"/staff/responses/{response.id}/status",
        data={"status": "in-progress", "note": "Work began", "on": "2100-12-31"},
    )
    db.session.expire_all()
    assert response.status == ResponseStatus.IN_PROGRESS
    assert response.milestones[-1].on == LATEST_DATE


def test_services_refuse_dates_outside_the_window(app, make_response, make_engagement):
    response = make_response()
    with pytest.raises(service.InvalidResponse) as refused:
        service.add_milestone(response, on=date(9999, 12, 31), text="Far away")
    assert set(refused.value.errors) == {"on"}
    with pytest.raises(service.WrongState, match="between 1 January 2000"):
        service.change_status(response, status=ResponseStatus.DONE, on=date(1, 1, 1))
    engagement = make_engagement()
    with pytest.raises(ValueError, match="between 1 January 2000"):
        engagements.extend_deadline(
            engagement, new_closes_on=date(9999, 12, 31), announced_on=date(2026, 1, 1)
        )
    db.session.rollback()
