"""Languages in what engage gives out (issue 24): the classify command, the open data
and the API's statistics carry language counts, never texts; the inbox facet counts."""

from __future__ import annotations

import csv
import io
import json

from engage.cli import cli
from engage.extensions import db
from engage.feedback.models import Status
from engage.staff import inbox

POLISH = "Czekałem trzy tygodnie na wizytę u lekarza rodzinnego w przychodni."
ARABIC = "انتظرت ثلاث ساعات في قسم الطوارئ ولم يتحدث معي أحد."
ENGLISH = "I waited three weeks for a GP appointment at my surgery in Harrow."


def test_classify_command_gives_the_language(trained, runner):
    out = runner.invoke(cli, ["classify", ENGLISH, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["language"] == "en"
    assert data["needs_translation"] is False
    assert data["themes"]  # the English model read it

    out = runner.invoke(cli, ["classify", POLISH, "--json"])
    data = json.loads(out.output)
    assert data["language"] == "pl"
    assert data["needs_translation"] is True
    assert data["themes"] == [] and data["probabilities"] == {}

    text = runner.invoke(cli, ["classify", POLISH]).output
    assert "needs translation" in text and "Polish" in text


def _three_languages(make_engagement, make_item):
    engagement = make_engagement(slug="gp-access")
    for text in (POLISH, POLISH + " Dwa.", ARABIC, ENGLISH):
        make_item(text, engagement_slug=engagement.slug)
    spam = make_item(POLISH + " Spam.", engagement_slug=engagement.slug)
    spam.status = Status.SPAM
    db.session.commit()
    return engagement


def test_inbox_language_facet_and_filter(trained, make_engagement, make_item):
    _three_languages(make_engagement, make_item)
    facets = inbox.facets(inbox.InboxFilters())
    assert facets.language == {"pl": 3, "ar": 1, "en": 1}
    only_polish = inbox.InboxFilters.from_args({"language": "pl"})
    assert inbox.count(only_polish) == 3
    # The language facet keeps the other filters.
    spam = inbox.InboxFilters.from_args({"status": "spam"})
    assert inbox.facets(spam).language == {"pl": 1}
    unknown = inbox.InboxFilters.from_args({"language": "xx"})
    assert unknown.language == "" and unknown.errors


def test_inbox_page_shows_the_language_and_needs_translation(
    trained, make_engagement, make_item, signed_in
):
    _three_languages(make_engagement, make_item)
    from engage.staff.models import Role

    page = signed_in(Role.VIEWER).get("/staff/inbox?counts=1")
    assert page.status_code == 200
    assert "Needs translation" in page.text
    assert "Polish (3)" in page.text
    rows = [r for r in page.text.split('<tr class="nhsuk-table__row">') if "/staff/items/" in r]
    assert len(rows) == 5
    # The three Polish and the Arabic items first, each marked and named.
    assert all("Needs translation" in row for row in rows[:4]), rows[0]
    assert "Needs translation" not in rows[4]
    assert sum("Polish" in row for row in rows) == 3 and "Arabic" in "".join(rows[:4])


def test_open_data_counts_languages_without_texts(trained, make_engagement, make_item, client):
    _three_languages(make_engagement, make_item)
    body = client.get("/open-data/language-counts.csv").data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows == [
        {"engagement": "gp-access", "language": "ar", "comments": "1"},
        {"engagement": "gp-access", "language": "en", "comments": "1"},
        {"engagement": "gp-access", "language": "pl", "comments": "2"},  # spam not counted
    ]
    data = client.get("/open-data/language-counts.json").get_json()
    assert {"engagement": "gp-access", "language": "pl", "comments": 2} in data["languages"]
    counts = client.get("/open-data/feedback-counts.json").get_json()
    assert sorted((r["language"], r["comments"]) for r in counts["languages"]) == [
        ("ar", 1),
        ("en", 1),
        ("pl", 2),
    ]
    everything = body + json.dumps(data) + json.dumps(counts)
    for text in (POLISH, ARABIC, ENGLISH, "Czekałem"):
        assert text not in everything
    assert "language-counts.csv" in client.get("/open-data").text


def test_api_statistics_carry_language_counts(trained, make_engagement, make_item, client):
    _three_languages(make_engagement, make_item)
    data = client.get("/api/v1/statistics?engagement=gp-access").get_json()
    (stats,) = data["items"]
    assert stats["languages"] == {"pl": 2, "ar": 1, "en": 1}
    schema = client.get("/api/v1/openapi.json").get_json()
    assert "languages" in schema["components"]["schemas"]["Statistics"]["properties"]


def test_detect_languages_fills_in_items_stored_before_detection(trained, make_item, runner):
    from sqlalchemy import select, update

    from engage.feedback.models import FeedbackItem, TagSource, ThemeTag

    polish, english = make_item(POLISH), make_item(ENGLISH)
    # As an item classified before migration 0016: no language, the English model's tags.
    db.session.execute(
        update(FeedbackItem)
        .where(FeedbackItem.id.in_([polish.id, english.id]))
        .values(language=None, needs_translation=False, model_version="v0")
    )
    theme_id = db.session.scalar(select(ThemeTag.theme_id).limit(1)) or 1
    db.session.add(ThemeTag(item_id=polish.id, theme_id=theme_id, source=TagSource.MODEL))
    db.session.commit()
    out = runner.invoke(cli, ["detect-languages", "--json"])
    assert json.loads(out.output) == {"detected": {"pl": 1, "en": 1}}
    db.session.expire_all()
    assert db.session.get(FeedbackItem, polish.id).needs_translation is True
    assert db.session.get(FeedbackItem, english.id).needs_translation is False
    assert not db.session.scalars(
        select(ThemeTag).where(ThemeTag.item_id == polish.id, ThemeTag.source == TagSource.MODEL)
    ).all()
    again = runner.invoke(cli, ["detect-languages"])
    assert "Every item has its language already." in again.output
