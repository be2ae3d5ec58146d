"""Factories for responses, shared by tests/publish and tests/public."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.extensions import db
from engage.feedback.models import Theme
from engage.publish import service
from engage.publish.models import ResponseStatus


def theme(slug: str) -> Theme:
    return db.session.scalar(select(Theme).where(Theme.slug == slug))


@pytest.fixture
def make_response(app, make_engagement):
    """Factory: create (and by default publish) a response, then commit."""

    def factory(
        *,
        engagement=None,
        you_said="the merged CCG will not listen to Harrow.",
        we_did="Each borough keeps a committee that meets in public.",
        themes=("decision-making",),
        items=(),
        status=ResponseStatus.PLANNED,
        publish=True,
        notify=False,
        published_at=None,
    ):
        engagement = engagement or make_engagement()
        response = service.create_draft(
            engagement=engagement,
            you_said=you_said,
            we_did=we_did,
            status=status,
            themes=[theme(s) for s in themes],
            items=list(items),
            by="lead@nhs.example",
        )
        if publish:
            service.publish(response, by="lead@nhs.example", notify=notify, at=published_at)
        db.session.commit()
        return response

    return factory
