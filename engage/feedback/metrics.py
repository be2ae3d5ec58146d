"""Prometheus series about feedback, read from the database at each scrape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select

from engage.extensions import db
from engage.feedback.models import FeedbackItem


def database_series() -> Iterator[Any]:
    """Feedback received by channel, and the worker's backlogs.

    Registered with engage.observability by create_app."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    received = CounterMetricFamily(
        "engage_feedback_received",
        "Feedback items stored, by the channel they came through.",
        labels=["channel"],
    )
    for channel, count in db.session.execute(
        select(FeedbackItem.channel, func.count()).group_by(FeedbackItem.channel)
    ):
        received.add_metric([str(getattr(channel, "value", channel))], count)
    yield received

    unclassified = db.session.scalar(
        select(func.count()).select_from(FeedbackItem).where(FeedbackItem.classified_at.is_(None))
    )
    yield GaugeMetricFamily(
        "engage_feedback_unclassified",
        "Items no theme model has classified yet (the worker's backlog).",
        value=unclassified or 0,
    )
    unacknowledged = db.session.scalar(
        select(func.count()).select_from(FeedbackItem).where(FeedbackItem.ack_pending)
    )
    yield GaugeMetricFamily(
        "engage_feedback_unacknowledged",
        "Items still owed an acknowledgement email (not yet queued in the outbox).",
        value=unacknowledged or 0,
    )
