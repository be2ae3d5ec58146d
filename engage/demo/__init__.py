"""Demo data: the engagements of the seed papers, with feedback written by the team."""

from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func, select

from engage.engagements import service as engagements
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback import service as feedback
from engage.feedback.models import (
    Channel,
    FeedbackItem,
    Status,
    TagSource,
    Theme,
    ThemeTag,
)
from engage.personal_data import propose

DATA = Path(__file__).resolve().parent / "data"

NWL_BOROUGHS = [
    "Brent",
    "Ealing",
    "Hammersmith and Fulham",
    "Harrow",
    "Hillingdon",
    "Hounslow",
    "Kensington and Chelsea",
    "Westminster",
]
NEL_BOROUGHS = [
    "Barking and Dagenham",
    "City and Hackney",
    "Havering",
    "Newham",
    "Redbridge",
    "Tower Hamlets",
    "Waltham Forest",
]

ENGAGEMENTS = {
    "nwl": {
        "slug": "nwl-commissioning-reform-case-for-change",
        "title": "Commissioning Reform Case for Change",
        "organisation": "North West London CCGs",
        "summary": (
            "The eight clinical commissioning groups of North West London propose to become "
            "one CCG. Tell us what the change would mean for you, your borough and the "
            "services you use."
        ),
        "body": (
            "Eight CCGs currently plan and buy health services for the boroughs of North West "
            "London. The case for change sets out why they want to merge into a single "
            "commissioning organisation, with a committee for each borough, and what would "
            "stay local.\n\n"
            "We want to hear from residents, patients, carers, staff, GPs and partner "
            "organisations. Every comment is recorded, and we will answer what you tell us "
            "in public on this page."
        ),
        "opens_on": date(2019, 5, 28),
        "closes_on": date(2019, 7, 24),
        "extended_to": date(2019, 8, 24),
        "extension_reason": (
            "Extended at the request of the joint health overview and scrutiny committee so "
            "councils could scrutinise the proposals before responding."
        ),
        "announced_on": date(2019, 7, 10),
        "areas": NWL_BOROUGHS,
        "email_address": "engage+nwl-commissioning-reform-case-for-change@engage.example.org",
    },
    "nel": {
        "slug": "nel-integrated-care-system",
        "title": "An Integrated Care System for North East London",
        "organisation": "North East London CCGs",
        "summary": (
            "Health and care organisations in North East London are working towards an "
            "integrated care system. Tell us how it should work for your borough."
        ),
        "body": (
            "The NHS Long Term Plan asks every area to form an integrated care system by "
            "April 2021. In North East London that means the seven CCGs, councils, hospitals "
            "and community providers planning together, while keeping decisions about "
            "local services close to each borough.\n\n"
            "Tell us what matters to you: how decisions should be made, how money should be "
            "shared, and what must not be lost locally."
        ),
        "opens_on": date(2020, 1, 13),
        "closes_on": date(2020, 3, 13),
        "areas": NEL_BOROUGHS,
        "email_address": "engage+nel-integrated-care-system@engage.example.org",
    },
    "open": {
        "slug": "nwl-your-local-nhs",
        "title": "Your local NHS: tell us what matters",
        "organisation": "North West London Integrated Care Board",
        "summary": (
            "An open conversation about local health services across North West London. "
            "Send us your views at any time."
        ),
        "body": (
            "This engagement stays open all year. Tell us what works, what does not and "
            "what you would change. We read every comment and publish what we are doing "
            "about the concerns people raise."
        ),
        "opens_on": date(2024, 4, 1),
        "closes_on": date(2030, 3, 31),
        "areas": NWL_BOROUGHS,
        "email_address": "engage+nwl-your-local-nhs@engage.example.org",
    },
}


def ensure_engagement(spec: dict) -> Engagement:
    """The engagement described by ``spec`` (a seed), created and committed if missing."""
    engagement = engagements.get_by_slug(spec["slug"])
    if engagement is not None:
        return engagement
    engagement = Engagement(
        slug=spec["slug"],
        title=spec["title"],
        organisation=spec["organisation"],
        summary=spec["summary"],
        body=spec["body"],
        opens_on=spec["opens_on"],
        closes_on=spec["closes_on"],
        areas=spec["areas"],
        email_address=spec["email_address"],
    )
    db.session.add(engagement)
    if "extended_to" in spec:
        engagements.extend_deadline(
            engagement,
            new_closes_on=spec["extended_to"],
            announced_on=spec["announced_on"],
            reason=spec["extension_reason"],
        )
    db.session.commit()
    return engagement


def _submitted_at(engagement: Engagement, days: int, row_number: int) -> datetime:
    day = min(engagement.opens_on + timedelta(days=days), engagement.closes_on)
    # Spread the times of day deterministically between 07:00 and 22:59.
    return datetime.combine(day, time(7 + row_number % 16, (row_number * 7) % 60))


def _load_items(engagement: Engagement, key: str, themes: dict[str, Theme]) -> int:
    path = DATA / "feedback.csv"
    if not path.exists():
        return 0
    created = 0
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            if row["engagement"] != key:
                continue
            when = _submitted_at(engagement, int(row["days_after_open"] or 0), number)
            item = feedback.submit(
                feedback.Submission(
                    text=row["text"],
                    channel=Channel(row["channel"] or "web"),
                    engagement_slug=engagement.slug,
                    author_name=row["name"] or None,
                    author_email=row["email"] or None,
                    area=row["area"] or None,
                    consent_to_quote=row["consent_to_quote"] == "1",
                    contact_me=row["contact_me"] == "1",
                    submitted_at=when,
                    acknowledge=False,
                )
            )
            # The older half of the demo has been triaged by staff, with their themes.
            if number % 2 == 0:
                for slug in filter(None, row["themes"].split(";")):
                    db.session.add(ThemeTag(item=item, theme=themes[slug], source=TagSource.STAFF))
                item.status = Status.TRIAGED
                # ... and those who agreed to be quoted have a redacted copy: the personal-data
                # detector's proposal, as a triager accepts it. Only such copies are ever
                # quoted, so without them the demo's concerns would show no examples.
                if item.consent_to_quote:
                    known = [item.author_name] if item.author_name else []
                    item.redacted_text = propose(item.text, known_names=known)
                    item.redacted_at = when
                db.session.commit()
            created += 1
    return created


def load_demo() -> dict[str, int]:
    """Create the demo engagements and their feedback if they are not there yet."""
    themes = {t.slug: t for t in feedback.ensure_default_themes()}
    created = 0
    for key, spec in ENGAGEMENTS.items():
        engagement = ensure_engagement(spec)
        has_items = db.session.scalar(
            select(func.count())
            .select_from(FeedbackItem)
            .where(FeedbackItem.engagement_id == engagement.id)
        )
        if not has_items:
            created += _load_items(engagement, key, themes)
    from engage.publish.demo import load_demo_responses
    from engage.staff.duplicates import group_all

    responses = load_demo_responses({key: spec["slug"] for key, spec in ENGAGEMENTS.items()})
    groups = group_all()  # the demo's campaign letter, grouped as the worker would
    # The demo loader is a job in itself (engage demo, bench and test set-up), with
    # its own commits as it goes.
    db.session.commit()
    total = db.session.scalar(select(func.count()).select_from(FeedbackItem)) or 0
    return {
        "engagements": len(ENGAGEMENTS),
        "items": total,
        "created": created,
        "responses": responses,
        "groups": groups.groups,
    }
