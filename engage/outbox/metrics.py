"""Prometheus series about the outbox, read from the database at each scrape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select

from engage.extensions import db
from engage.outbox.models import OutboxMessage


def database_series() -> Iterator[Any]:
    """Outbox emails by status, and those waiting to be tried again.

    Registered with engage.observability by create_app."""
    from prometheus_client.core import GaugeMetricFamily

    outbox = GaugeMetricFamily(
        "engage_outbox_messages",
        "Outbox emails by status: pending and sending are the backlog, failed gave up.",
        labels=["status"],
    )
    seen = dict.fromkeys(("pending", "sending", "sent", "failed"), 0)
    for status, count in db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ):
        seen[str(getattr(status, "value", status))] = count
    for status, count in seen.items():
        outbox.add_metric([status], count)
    yield outbox
    retrying = db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.attempts > 0)
    )
    yield GaugeMetricFamily(
        "engage_outbox_retrying",
        "Outbox emails waiting to be tried again after a failed attempt.",
        value=retrying or 0,
    )
