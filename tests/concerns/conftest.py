"""Items of one theme, from the evaluation set, stored straight into the database."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import select

from engage.extensions import db
from engage.feedback.models import Channel, FeedbackItem, TagSource, Theme, ThemeTag

EVALUATION = Path(__file__).parents[2] / "engage" / "concerns" / "data" / "evaluation.csv"


def evaluation_rows(theme: str) -> list[dict[str, str]]:
    with EVALUATION.open(encoding="utf-8", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["theme"] == theme]


@pytest.fixture
def add_items(app):
    """Factory: store items with a staff theme tag; returns them in order."""
    numbers = count(1)

    def factory(engagement, theme_slug, texts, *, start=datetime(2019, 6, 3, 9), **fields):
        theme = db.session.scalar(select(Theme).where(Theme.slug == theme_slug))
        items = []
        for offset, text in enumerate(texts):
            n = next(numbers)
            item = FeedbackItem(
                reference=f"T-{theme_slug[:3].upper()}-{n:05d}",
                engagement_id=engagement.id,
                channel=Channel.WEB,
                submitted_at=start + timedelta(hours=offset * 7),
                text=text,
                **fields,
            )
            item.tags.append(ThemeTag(theme=theme, source=TagSource.STAFF))
            db.session.add(item)
            items.append(item)
        db.session.commit()
        return items

    return factory


@pytest.fixture
def theme_named(app):
    def get(slug: str) -> Theme:
        return db.session.scalar(select(Theme).where(Theme.slug == slug))

    return get
