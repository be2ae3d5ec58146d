"""Votes on a published response: does it answer the voter's concern?

A "no" with a comment long enough to be feedback is also stored as a new feedback
item through the one intake. The caller commits the vote.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from engage.extensions import db
from engage.feedback import service as feedback
from engage.feedback import validation
from engage.feedback.models import Channel
from engage.publish.models import Response, ResponseVote
from engage.publish.service import WrongState
from engage.util import utcnow

MAX_COMMENT = 2_000


def vote(
    response: Response, *, helpful: bool, comment: str | None = None, area: str | None = None
) -> ResponseVote:
    """Record whether a response answers someone's concern.

    A "no" with a comment long enough to be feedback is also submitted as a new
    feedback item (committed by feedback.service.submit) and linked to the vote.
    Raises WrongState for a response the public cannot see. The caller commits.
    """
    if not response.is_public:
        raise WrongState("Only published responses can be voted on")
    comment = validation.clean_text(comment)[:MAX_COMMENT] or None
    item = None
    if not helpful and comment and len(comment) >= validation.MIN_TEXT:
        try:
            item = feedback.submit(
                feedback.Submission(
                    channel=Channel.WEB,
                    text=comment,
                    engagement_slug=response.engagement.slug,
                    area=area,
                    subject=f"Reply to response {response.id}: {response.you_said[:120]}",
                )
            )
        except feedback.InvalidSubmission:
            item = None
    vote = ResponseVote(
        response=response,
        helpful=bool(helpful),
        comment=comment,
        created_at=utcnow(),
        feedback_item_id=item.id if item else None,
    )
    db.session.add(vote)
    return vote


@dataclass(frozen=True)
class VoteCounts:
    """How many people said a response does, or does not, answer their concern."""

    yes: int
    no: int


def vote_counts(response: Response) -> VoteCounts:
    """Count the yes and no answers to a response."""
    rows = dict(
        db.session.execute(
            select(ResponseVote.helpful, func.count())
            .where(ResponseVote.response_id == response.id)
            .group_by(ResponseVote.helpful)
        ).all()
    )
    return VoteCounts(yes=rows.get(True, 0), no=rows.get(False, 0))
