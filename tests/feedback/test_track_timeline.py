"""/track: the resident's own words (redacted once redacted), a dated timeline and a
link to every public response that answers the item."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from engage.extensions import db
from engage.feedback.models import TagSource, Theme, ThemeTag
from engage.publish import service
from engage.publish.models import ResponseStatus
from tests.publish.factories import make_response  # noqa: F401  (a fixture)

EMAIL = "lee@example.org"
TEXT = "I am Lee Wong of 4 Acacia Road; will Harrow keep its walk-in centre?"
REDACTED = "I am [name] of [address]; will Harrow keep its walk-in centre?"


def _track(client, item) -> str:
    page = client.post("/track", data={"reference": item.reference, "author_email": EMAIL})
    assert page.status_code == 200
    return page.get_data(as_text=True)


def _main(page: str) -> str:
    return page.split("<main", 1)[1].split("</main>", 1)[0]


def _timeline(page: str) -> list[tuple[str, str]]:
    """(ISO date, title) of each step, in the page's order."""
    return re.findall(
        r'<time datetime="([\d-]+)">.*?</time></p>\s*<p class="engage-timeline__title">([^<]+)</p>',
        page,
        re.S,
    )


def test_before_any_answer(client, make_item):
    item = make_item(text=TEXT, author_email=EMAIL, contact_me=True)
    page = _main(_track(client, item))
    assert TEXT in page.replace("&#39;", "'")
    assert _timeline(page) == [(item.submitted_at.date().isoformat(), "We received your feedback")]
    assert "We have not published a response to your feedback yet." in page
    assert "We will email you when we do." in page
    assert "/you-said-we-did/" not in page


def test_after_tagging_redaction_and_two_responses(
    client,
    make_engagement,
    make_item,
    make_response,  # noqa: F811 (the fixture)
):
    engagement = make_engagement(title="Your local NHS")
    sent = datetime(2026, 3, 2, 9, 30)
    item = make_item(text=TEXT, author_email=EMAIL, engagement_slug=engagement.slug)
    item.submitted_at = sent
    money = db.session.scalar(select(Theme).where(Theme.slug == "money"))
    db.session.add(
        ThemeTag(
            item=item, theme=money, source=TagSource.STAFF, created_at=sent + timedelta(days=1)
        )
    )
    item.redacted_text = REDACTED
    item.redacted_at = sent + timedelta(days=1)
    db.session.commit()

    first = make_response(
        engagement=engagement,
        items=[item],
        you_said="walk-in centres will close.",
        published_at=sent + timedelta(days=5),
    )
    service.change_status(
        first,
        status=ResponseStatus.IN_PROGRESS,
        note="Survey of sites began",
        on=sent.date() + timedelta(days=9),
    )
    second = make_response(
        engagement=engagement,
        items=[item],
        you_said="Harrow will lose services.",
        published_at=sent + timedelta(days=7),
    )
    draft = make_response(engagement=engagement, items=[item], you_said="a draft.", publish=False)
    db.session.commit()

    page = _main(_track(client, item))
    # The redacted copy only: what the staff removed never comes back.
    assert "I am [name] of [address]" in page
    assert "Lee Wong" not in page and "Acacia" not in page
    assert _timeline(page) == [
        ("2026-03-02", "We received your feedback"),
        ("2026-03-03", "The engagement team read it and tagged its themes"),
        ("2026-03-07", "We answered it in public"),
        ("2026-03-09", "We answered it in public"),
        ("2026-03-11", "Progress"),
    ]
    assert "In progress: Survey of sites began" in page
    assert f'href="/you-said-we-did/{first.id}"' in page
    assert f'href="/you-said-we-did/{second.id}"' in page
    assert f'href="/you-said-we-did/{draft.id}"' not in page and "a draft." not in page
    assert "These public responses answer your feedback." in page
    assert f'href="/engagements/{engagement.slug}#you-said-we-did"' in page

    service.unpublish(second, reason="Duplicate of another response")
    db.session.commit()
    page = _main(_track(client, item))
    assert f'href="/you-said-we-did/{second.id}"' not in page
    assert "This public response answers your feedback." in page
