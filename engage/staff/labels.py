"""How staff pages name and colour things, each written once.

An item's workflow status has a name ("New") and a tag colour; a response's state
("Draft") has a name. Channels name themselves (``Channel.label``); response statuses
have their public labels in ``engage.publish.models.RESPONSE_STATUS_LABELS``.
"""

from __future__ import annotations

from engage.feedback.models import Status
from engage.publish.models import ResponseState

#: The name staff see for each item status: in its tag, the inbox filter, the item page.
STATUS_NAMES: dict[Status, str] = {s: s.value.capitalize() for s in Status}

#: The NHS.UK tag colour of each item status.
STATUS_COLOURS: dict[Status, str] = {
    Status.NEW: "yellow",
    Status.TRIAGED: "blue",
    Status.RESPONDED: "green",
    Status.ARCHIVED: "grey",
    Status.SPAM: "red",
    Status.DUPLICATE: "purple",
}

#: The name staff see for each state of a response.
RESPONSE_STATE_NAMES: dict[ResponseState, str] = {
    ResponseState.DRAFT: "Draft",
    ResponseState.PUBLISHED: "Published",
    ResponseState.UNPUBLISHED: "Unpublished",
}
