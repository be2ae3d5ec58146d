"""Published responses as plain data, shared by the API, open data and feeds.

Only staff-written fields and counts go out: never the text, names or addresses of
the feedback items a response answers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from engage.engagements.models import Engagement
from engage.publish.models import Response
from engage.web import public_url

LICENCE_NAME = "Open Government Licence v3.0"
LICENCE_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"


def iso(value: date | datetime | None) -> str | None:
    """An ISO 8601 date, or a UTC timestamp ending in Z."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat() + "Z"
    return value.isoformat()


def response_dict(
    response: Response, *, people: int, votes: dict[str, int] | None = None
) -> dict[str, Any]:
    """One published response for the API and the JSON export."""
    return {
        "id": response.id,
        "url": public_url("public.response", response_id=response.id),
        "engagement": response.engagement.slug,
        "engagement_title": response.engagement.title,
        "themes": [t.slug for t in response.themes],
        "you_said": response.you_said,
        "we_did": response.we_did,
        "status": response.status.value,
        "status_label": response.status_label,
        "published_at": iso(response.published_at),
        "updated_at": iso(response.updated_at),
        "people_raising": people,
        "milestones": [{"on": iso(m.on), "text": m.text} for m in response.milestones],
        "votes": votes or {"yes": 0, "no": 0},
    }


def engagement_dict(engagement: Engagement, *, responses: int) -> dict[str, Any]:
    """One engagement for the API."""
    return {
        "slug": engagement.slug,
        "title": engagement.title,
        "organisation": engagement.organisation,
        "summary": engagement.summary,
        "opens_on": iso(engagement.opens_on),
        "closes_on": iso(engagement.closes_on),
        "areas": list(engagement.areas or []),
        "url": public_url("engagements.show", slug=engagement.slug),
        "published_responses": responses,
    }


# Columns of the CSV export of responses, in order.
RESPONSE_COLUMNS = (
    "id",
    "url",
    "engagement",
    "engagement_title",
    "themes",
    "you_said",
    "we_did",
    "status",
    "published_at",
    "updated_at",
    "people_raising",
    "votes_yes",
    "votes_no",
)


def response_row(data: dict[str, Any]) -> list[Any]:
    """A response_dict() flattened to RESPONSE_COLUMNS."""
    flat = {
        **data,
        "themes": ";".join(data["themes"]),
        "votes_yes": data["votes"]["yes"],
        "votes_no": data["votes"]["no"],
    }
    return [flat[c] for c in RESPONSE_COLUMNS]
