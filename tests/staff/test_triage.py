"""The triage inbox: filters, counts, search, sorting, bulk actions; the item page."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime

import pytest
from sqlalchemy import select

from engage.audit import AuditEvent
from engage.cli import cli
from engage.extensions import db
from engage.feedback.models import Channel, FeedbackItem, Status, TagSource, Theme, ThemeTag
from engage.pagination import PageNotFound
from engage.staff import inbox as inbox_list
from engage.staff.inbox import page as inbox_page_module
from engage.staff.models import ItemNote, Role


def _tag(item, slug, source=TagSource.MODEL, confidence=0.9):
    theme = db.session.scalars(select(Theme).where(Theme.slug == slug)).one()
    item.tags.append(ThemeTag(theme=theme, source=source, confidence=confidence))
    item.classified_at = item.classified_at or datetime(2019, 6, 1)
    db.session.commit()


@pytest.fixture
def inbox(make_engagement, make_item):
    """A small inbox: two engagements, several themes, channels, areas and dates."""
    nw = make_engagement(slug="nw-case-for-change", title="North West")
    ne = make_engagement(slug="ne-ics", title="North East", areas=["Newham", "Hackney"])
    items = {
        "money": make_item(
            "The deficit means the budget is cut again in Brent",
            engagement_slug=nw.slug,
            area="Brent",
            submitted_at=datetime(2019, 6, 3, 10),
        ),
        "both": make_item(
            "Money and jobs: staff are leaving because pay is frozen",
            engagement_slug=nw.slug,
            area="Ealing",
            channel=Channel.EMAIL,
            submitted_at=datetime(2019, 6, 10, 9),
        ),
        "none": make_item(
            "Thank you for the meeting last night, it was useful",
            engagement_slug=ne.slug,
            area="Newham",
            submitted_at=datetime(2019, 7, 1, 12),
        ),
        "general": make_item(
            "Who decides what happens to the walk-in centre?",
            engagement_slug=None,
            submitted_at=datetime(2019, 7, 2, 12),
        ),
    }
    _tag(items["money"], "money")
    _tag(items["both"], "money")
    _tag(items["both"], "jobs", confidence=0.6)
    items["money"].certainty = 0.4
    items["both"].certainty = 0.05
    db.session.commit()
    return items


def _refs(page):
    return [i.reference for i in page.items]


def _filters(**args):
    return inbox_list.InboxFilters.from_args(args)


def test_filters_by_each_dimension(inbox):
    page = inbox_list.inbox_page(_filters(theme="money"), 1)
    assert set(_refs(page)) == {inbox["money"].reference, inbox["both"].reference}
    page = inbox_list.inbox_page(_filters(theme="unclassified"), 1)
    assert set(_refs(page)) == {inbox["none"].reference, inbox["general"].reference}
    assert _refs(inbox_list.inbox_page(_filters(engagement="general"), 1)) == [
        inbox["general"].reference
    ]
    assert _refs(inbox_list.inbox_page(_filters(channel="email"), 1)) == [inbox["both"].reference]
    assert _refs(inbox_list.inbox_page(_filters(area="Newham"), 1)) == [inbox["none"].reference]
    page = inbox_list.inbox_page(_filters(**{"from": "2019-06-05", "to": "2019-07-01"}), 1)
    assert set(_refs(page)) == {inbox["both"].reference, inbox["none"].reference}


def test_the_filter_lists_come_from_one_statement(inbox, make_engagement):
    later = make_engagement(slug="opened-later", title="Opened later", opens_on=date(2020, 1, 6))
    choices = inbox_list.inbox_choices()
    slugs = [slug for slug, _ in choices.engagements]
    # The most recently opened first, then (same date) in the order they were made.
    assert slugs[0] == later.slug
    assert slugs.index("nw-case-for-change") < slugs.index("ne-ics")
    assert dict(choices.engagements)["ne-ics"] == "North East"
    themes = db.session.scalars(select(Theme).order_by(Theme.position)).all()
    assert [t.slug for t in choices.themes] == [t.slug for t in themes]
    assert choices.theme_by_id[themes[0].id].name == themes[0].name
    # Areas named on items only (not every area an engagement lists), sorted, once each.
    assert choices.areas == ("Brent", "Ealing", "Newham")
    # The slugs resolve through the choices: an unknown one matches nothing.
    assert inbox_list.inbox_page(_filters(engagement="no-such-engagement"), 1).items == []
    assert _refs(inbox_list.inbox_page(_filters(engagement="ne-ics"), 1, choices=choices)) == [
        inbox["none"].reference
    ]


def test_the_list_of_areas_is_kept_for_its_max_age(app, inbox, make_item, make_engagement):
    assert inbox_list.inbox_choices().areas == ("Brent", "Ealing", "Newham")
    make_item("Parking at the hospital", engagement_slug="ne-ics", area="Hackney")
    # Kept: the new area joins the list when the kept one is ENGAGE_INBOX_AREAS_MAX_AGE old.
    assert inbox_list.inbox_choices().areas == ("Brent", "Ealing", "Newham")
    app.config["ENGAGE_INBOX_AREAS_MAX_AGE"] = 0
    try:
        inbox_list.forget_areas()
        assert inbox_list.inbox_choices().areas == ("Brent", "Ealing", "Hackney", "Newham")
        east = make_engagement(areas=["Barking", "Havering"])
        make_item("And the buses", engagement_slug=east.slug, area="Barking")
        assert inbox_list.inbox_choices().areas[0] == "Barking"  # 0: read on every page
    finally:
        app.config["ENGAGE_INBOX_AREAS_MAX_AGE"] = 60.0


def test_a_statement_made_for_one_filter_runs_another_of_its_shape(inbox, monkeypatch):
    inbox_page_module._statement_cache().clear()
    pairs = [
        ({"engagement": "nw-case-for-change"}, {"engagement": "ne-ics"}),
        ({"area": "Brent"}, {"area": "Newham"}),
        ({"area": "Brent", "theme": "money"}, {"area": "Ealing", "theme": "money"}),
        ({"channel": "web"}, {"channel": "email"}),
        ({"from": "2019-06-04"}, {"from": "2019-07-02"}),
        ({"to": "2019-06-04"}, {"to": "2019-06-30"}),
        ({"q": "deficit"}, {"q": "walk-in centre"}),
        ({"q": "jobs", "sort": "oldest"}, {"q": "meeting", "sort": "oldest"}),
    ]
    for first, second in pairs:
        made = len(inbox_page_module._statement_cache())
        inbox_list.inbox_page(_filters(**first), 1)
        assert len(inbox_page_module._statement_cache()) == made + 1, first
        # The second reuses the first's statements with its own values...
        page = inbox_list.inbox_page(_filters(**second), 1)
        assert len(inbox_page_module._statement_cache()) == made + 1, second
        # ...and finds what a query made for it alone finds.
        expected = db.session.scalars(inbox_list.inbox_query(_filters(**second))).all()
        assert _refs(page) == [i.reference for i in expected], second
        assert page.total == len(expected)
    # Another theme is another statement: the theme's probe is built per theme.
    made = len(inbox_page_module._statement_cache())
    assert _refs(inbox_list.inbox_page(_filters(theme="jobs"), 1)) == [inbox["both"].reference]
    assert len(inbox_page_module._statement_cache()) == made + 1


def test_facet_counts_match_a_direct_count(inbox):
    f = _filters(engagement="nw-case-for-change")
    facets = inbox_list.facets(f)
    # Each facet keeps the other filters: the engagement facet ignores its own filter.
    assert facets.engagement == {"nw-case-for-change": 2, "ne-ics": 1, "general": 1}
    assert facets.theme["money"] == 2 and facets.theme["jobs"] == 1
    assert facets.theme["unclassified"] == 0
    assert facets.channel == {"web": 1, "email": 1}
    assert facets.area == {"Brent": 1, "Ealing": 1}
    total = db.session.scalar(select(db.func.count(FeedbackItem.id)))
    assert sum(inbox_list.facets(_filters()).status.values()) == total


def test_unclassified_first_then_newest_and_least_certain(inbox):
    default = _refs(inbox_list.inbox_page(_filters(), 1))
    assert default[:2] == [inbox["general"].reference, inbox["none"].reference]
    uncertain = _refs(inbox_list.inbox_page(_filters(sort="uncertain"), 1))
    # Never classified first, then the smallest margin.
    assert uncertain[2:] == [inbox["both"].reference, inbox["money"].reference]


@pytest.mark.parametrize(
    "q",
    ['"', "budget*", "NEAR(budget deficit)", "%", "' OR 1=1 --", "a AND OR NOT", "\\", "日本", ""],
)
def test_search_never_errors_on_query_syntax(inbox, q):
    page = inbox_list.inbox_page(_filters(q=q), 1)
    assert page.total >= 0


def test_search_finds_words_with_stemming(inbox):
    assert _refs(inbox_list.inbox_page(_filters(q="budgets"), 1)) == [inbox["money"].reference]
    assert _refs(inbox_list.inbox_page(_filters(q="'deficit' brent"), 1)) == [
        inbox["money"].reference
    ]


def test_a_search_lists_the_latest_received_matches_first(inbox, make_item):
    # Received in this order, but the second was written (dated) long before.
    first = make_item("Budget worries from the first letter", submitted_at=datetime(2019, 7, 1))
    second = make_item("Budget worries, an old email", submitted_at=datetime(2010, 1, 1))
    f = _filters(q="budget worries")
    assert f.sort == "received" and "sort" not in f.as_args()
    assert _refs(inbox_list.inbox_page(f, 1)) == [second.reference, first.reference]
    # Asked for, the dates decide; the order stays part of the links.
    newest = _filters(q="budget worries", sort="newest")
    assert newest.as_args()["sort"] == "newest"
    assert _refs(inbox_list.inbox_page(newest, 1)) == [first.reference, second.reference]
    # Without a search the default is still unclassified first.
    assert _filters().sort == "unclassified"


def test_search_pages_and_count_past_the_cap(make_item, monkeypatch):
    monkeypatch.setattr(inbox_page_module, "COUNT_CAP", 4)
    made = [make_item(f"Pharmacy opening hours, letter {n}") for n in range(7)]
    make_item("Something else entirely about parking")
    pages = [inbox_list.inbox_page(_filters(q="pharmacy"), n, per_page=3) for n in (1, 2, 3)]
    assert pages[0].total_capped and pages[0].has_next
    assert pages[2].total == 7 and not pages[2].has_next
    walked = [ref for page in pages for ref in _refs(page)]
    assert walked == [item.reference for item in reversed(made)]


def test_bad_filter_values_are_dropped_with_a_message(signed_in, inbox):
    client = signed_in(Role.VIEWER)
    response = client.get("/staff/inbox?channel=pigeon&status=lost&from=yesterday&page=1")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "That channel does not exist" in body and "YYYY-MM-DD" in body
    assert client.get("/staff/inbox?page=abc").status_code == 404
    assert client.get("/staff/inbox?page=99").status_code == 302


def test_inbox_page_shows_counts_and_items(signed_in, inbox):
    client = signed_in(Role.VIEWER)
    body = client.get("/staff/inbox?theme=money").get_data(as_text=True)
    assert inbox["money"].reference in body and inbox["none"].reference not in body
    assert "2 items match" in body
    # Counting every filter value reads every matching item: only when asked for.
    assert "Money (2)" not in body and "counts=1" in body
    body = client.get("/staff/inbox?theme=money&counts=1").get_data(as_text=True)
    assert inbox["money"].reference in body and inbox["none"].reference not in body
    assert "Money (2)" in body and "Unclassified (2)" in body and "Impact on jobs (1)" in body
    assert "Hide the counts" in body and 'name="counts" value="1"' in body
    # Viewers see no bulk actions and no export (it holds personal data).
    assert 'name="action"' not in body and "inbox.csv" not in body


def test_bulk_actions_change_items_and_are_audited(signed_in, inbox):
    client = signed_in(Role.TRIAGER)
    ids = [inbox["none"].id, inbox["general"].id]
    response = client.post(
        "/staff/inbox/bulk",
        data={"action": "add_theme", "bulk_theme": "services", "item": [str(i) for i in ids]},
    )
    assert response.status_code == 302
    for key in ("none", "general"):
        db.session.refresh(inbox[key])
        assert [t.slug for t in inbox[key].themes()] == ["services"]
    # From page 2 of a filtered list, back to page 2 of it (an outside review was sent
    # to page 1).
    back = client.post(
        "/staff/inbox/bulk",
        data={"action": "spam", "item": [str(ids[0])], "page": "2", "status": "new"},
    )
    assert back.headers["Location"].endswith("/staff/inbox?status=new&page=2")
    db.session.refresh(inbox["none"])
    assert inbox["none"].status == Status.SPAM
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions.count("item.themes") == 2 and "item.status" in actions
    assert "item.bulk" in actions


def test_bulk_with_a_tampered_id_changes_nothing(signed_in, inbox):
    client = signed_in(Role.TRIAGER)
    response = client.post(
        "/staff/inbox/bulk",
        data={"action": "archived", "item": [str(inbox["money"].id), "999999"]},
        follow_redirects=True,
    )
    assert "no longer exist" in response.get_data(as_text=True)
    db.session.refresh(inbox["money"])
    assert inbox["money"].status == Status.NEW
    response = client.post(
        "/staff/inbox/bulk",
        data={"action": "add_theme", "bulk_theme": "<script>", "item": [str(inbox["money"].id)]},
        follow_redirects=True,
    )
    assert "Choose a theme" in response.get_data(as_text=True)


def test_staff_themes_override_the_model_and_feed_training(signed_in, inbox):
    from engage.classify.service import staff_labels

    client = signed_in(Role.TRIAGER)
    item = inbox["both"]
    response = client.post(f"/staff/items/{item.id}/themes", data={"theme": ["jobs"]})
    assert response.status_code == 302
    db.session.refresh(item)
    assert [t.slug for t in item.themes()] == ["jobs"]
    assert item.status == Status.TRIAGED
    assert {t.source for t in item.tags} == {TagSource.MODEL, TagSource.STAFF}
    texts, labels = staff_labels()
    assert item.text in texts
    # "None of the themes" is a decision too, and is learned as such.
    client.post(f"/staff/items/{inbox['money'].id}/themes", data={})
    db.session.refresh(inbox["money"])
    assert inbox["money"].themes() == []
    assert inbox_list.inbox_page(_filters(theme="unclassified"), 1).total == 2
    texts, labels = staff_labels()
    assert labels[texts.index(inbox["money"].text)].sum() == 0
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "item.themes").order_by(AuditEvent.id)
    ).first()
    assert event.detail == {"before": ["jobs", "money"], "after": ["jobs"]}


def test_item_page_status_and_notes(signed_in, inbox):
    client = signed_in(Role.TRIAGER)
    item = inbox["money"]
    body = client.get(f"/staff/items/{item.id}").get_data(as_text=True)
    assert item.text in body and "Money" in body
    assert (
        client.post(f"/staff/items/{item.id}/status", data={"status": "archived"}).status_code
        == 302
    )
    assert (
        client.post(f"/staff/items/{item.id}/status", data={"status": "responded"}).status_code
        == 302
    )
    db.session.refresh(item)
    assert item.status == Status.ARCHIVED
    assert client.post(f"/staff/items/{item.id}/notes", data={"text": ""}).status_code == 400
    client.post(f"/staff/items/{item.id}/notes", data={"text": "Called back <b>Tuesday</b>"})
    note = db.session.scalars(select(ItemNote)).one()
    assert note.text == "Called back <b>Tuesday</b>"
    body = client.get(f"/staff/items/{item.id}").get_data(as_text=True)
    assert "Called back &lt;b&gt;Tuesday&lt;/b&gt;" in body


def test_redaction_is_proposed_kept_apart_and_audited(signed_in, make_item):
    item = make_item(
        "My name is Jane Smith and my number is 07700 900123. Email jane@example.com.",
        author_name="Jane Smith",
    )
    client = signed_in(Role.TRIAGER)
    body = client.get(f"/staff/items/{item.id}").get_data(as_text=True)
    assert "[email removed]" in body and "[phone number removed]" in body
    redacted = "My name is [name removed]. The rest is private."
    response = client.post(f"/staff/items/{item.id}/redaction", data={"redacted_text": redacted})
    assert response.status_code == 302
    db.session.refresh(item)
    assert item.redacted_text == redacted
    assert "Jane Smith" in item.text  # the original is never changed
    assert (
        db.session.scalars(select(AuditEvent).where(AuditEvent.action == "item.redaction"))
        .one()
        .actor_email
        == client.user.email
    )
    # A redaction that still holds an email address is saved with a warning.
    response = client.post(
        f"/staff/items/{item.id}/redaction",
        data={"redacted_text": "write to jane@example.com"},
        follow_redirects=True,
    )
    assert "may still contain personal details" in response.get_data(as_text=True)


def test_staff_record_phone_feedback_through_submit(signed_in, make_engagement):
    engagement = make_engagement()
    client = signed_in(Role.TRIAGER)
    response = client.post(
        "/staff/record",
        data={"engagement": engagement.slug, "channel": "phone", "text": "short"},
    )
    assert response.status_code == 400
    assert db.session.scalar(select(db.func.count(FeedbackItem.id))) == 0
    response = client.post(
        "/staff/record",
        data={
            "engagement": engagement.slug,
            "channel": "phone",
            "text": "Caller worried the GP surgery in Harrow will close.",
            "area": "Harrow",
        },
    )
    assert response.status_code == 302
    item = db.session.scalars(select(FeedbackItem)).one()
    assert item.channel == Channel.PHONE and item.recorded_by_id == client.user.id
    assert item.reference.startswith("YS-")


def test_a_recorded_letter_keeps_the_day_it_arrived(signed_in, make_engagement):
    # An outside review (round 21): a letter typed in a week late was dated the day it
    # was typed, in figures, the inbox and its reference.
    from datetime import date, datetime, timedelta

    engagement = make_engagement()
    client = signed_in(Role.TRIAGER)
    form = client.get("/staff/record").get_data(as_text=True)
    assert 'name="received_on" type="date"' in form
    letter = {
        "engagement": engagement.slug,
        "channel": "letter",
        "text": "A letter about the walk-in centre in Harrow closing at weekends.",
    }
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    ahead = client.post("/staff/record", data={**letter, "received_on": tomorrow})
    assert ahead.status_code == 400
    assert "cannot be in the future" in ahead.get_data(as_text=True)
    assert tomorrow in ahead.get_data(as_text=True)  # what was typed is kept
    assert db.session.scalar(select(db.func.count(FeedbackItem.id))) == 0
    not_a_day = client.post("/staff/record", data={**letter, "received_on": "2026-02-30"})
    assert not_a_day.status_code == 400
    sent = client.post("/staff/record", data={**letter, "received_on": "2025-11-03"})
    assert sent.status_code == 302
    item = db.session.scalars(select(FeedbackItem)).one()
    assert item.submitted_at == datetime(2025, 11, 3, 12)
    assert item.reference.startswith("YS-2025-")


def test_a_reply_shows_the_feedback_it_follows_up(signed_in, make_item):
    from engage.feedback.models import Channel

    first = make_item("The walk-in centre must stay open.", author_email="nora@example.org")
    subject = f"RE: We received your feedback {first.reference.lower()}"
    reply = make_item(
        "And the bus to the hospital was cut too.",
        author_email="Nora@Example.org",
        subject=subject,
        channel=Channel.EMAIL,
    )
    other = make_item(
        "Someone else quoting it.",
        author_email="else@example.org",
        subject=subject,
        channel=Channel.EMAIL,
    )
    client = signed_in(Role.VIEWER)
    page = client.get(f"/staff/items/{reply.id}").get_data(as_text=True)
    assert "Follows up" in page
    assert f'<a href="/staff/items/{first.id}">{first.reference}</a>' in page
    assert "Follows up" not in client.get(f"/staff/items/{other.id}").get_data(as_text=True)
    assert "Follows up" not in client.get(f"/staff/items/{first.id}").get_data(as_text=True)


def test_a_purged_item_offers_no_redaction_or_translation(signed_in, make_item):
    # An outside review (round 21): a purged item's redaction box was filled with the
    # placeholder, and saving made the placeholder its quotable copy.
    from engage.feedback.models import PLACEHOLDER

    item = make_item("Zostawcie nasz szpital w Harrow otwarty, prosimy bardzo.")
    item.text, item.language, item.consent_to_quote = PLACEHOLDER, "pl", True
    db.session.commit()
    client = signed_in(Role.TRIAGER)
    page = client.get(f"/staff/items/{item.id}").get_data(as_text=True)
    assert "removed under the retention policy" in page
    assert 'name="redacted_text"' not in page and 'name="translation"' not in page
    for path, data in (
        ("redaction", {"redacted_text": PLACEHOLDER}),
        ("translation", {"translation": "Keep our hospital open."}),
        ("language", {"language": "en"}),
    ):
        said = client.post(f"/staff/items/{item.id}/{path}", data=data, follow_redirects=True)
        assert said.status_code == 200, path
        assert "Its text was removed under the retention policy" in said.get_data(as_text=True)
    db.session.refresh(item)
    assert item.redacted_text is None and item.translation is None and item.language == "pl"


def test_an_original_not_in_english_is_marked_with_its_language(signed_in, make_item):
    # The same review: Arabic shown left to right, read with an English voice.
    item = make_item("نريد أن يبقى المستشفى مفتوحا في المدينة من فضلكم.")
    item.language = "ar"
    db.session.commit()
    page = signed_in(Role.VIEWER).get(f"/staff/items/{item.id}").get_data(as_text=True)
    assert '<p class="engage-quote" lang="ar" dir="rtl">' in page


def _export_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_export_of_the_filtered_inbox(signed_in, make_item):
    make_item('=HYPERLINK("http://evil") is what I think about the plans', area="Brent")
    make_item("Something else entirely about the hospital in Ealing", area="Ealing")
    client = signed_in(Role.TRIAGER)
    response = client.get("/staff/inbox.csv?area=Brent")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # said once
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = _export_rows(response.get_data(as_text=True))
    assert len(rows) == 1 and rows[0]["text"].startswith("'=HYPERLINK")
    assert (
        db.session.scalars(select(AuditEvent).where(AuditEvent.action == "feedback.export"))
        .one()
        .detail["count"]
        == 1
    )


def test_export_feedback_command(app, make_item, tmp_path):
    make_item("A first comment about money and budgets", author_email="a@example.org")
    make_item("A second comment about staff and jobs", author_email="b@example.org")
    runner = app.test_cli_runner()
    out = runner.invoke(cli, ["export-feedback", "--format", "jsonl"])
    assert out.exit_code == 0, out.output
    records = [json.loads(line) for line in out.stdout.splitlines() if line]
    assert [r["author_email"] for r in records] == ["a@example.org", "b@example.org"]
    for field in ("reference", "channel", "engagement", "submitted_at", "text", "themes", "status"):
        assert field in records[0]
    target = tmp_path / "all.csv"
    target.write_text("old")
    target.chmod(0o644)
    out = runner.invoke(cli, ["export-feedback", "--format", "csv", "--output", str(target)])
    assert out.exit_code == 0
    assert len(_export_rows(target.read_text(encoding="utf-8"))) == 2
    # Names and addresses: the file is its owner's alone (an outside review found it
    # world-readable), and a folder that is not there is one line, not a traceback.
    assert target.stat().st_mode & 0o777 == 0o600
    missing = tmp_path / "no-such-folder" / "x.csv"
    out = runner.invoke(cli, ["export-feedback", "--output", str(missing)])
    assert out.exit_code == 1 and "cannot write" in out.output
    assert isinstance(out.exception, SystemExit)  # a ClickException, not an OSError


def test_correcting_themes_twice_keeps_the_kept_tag(signed_in, inbox):
    client = signed_in(Role.TRIAGER)
    item = inbox["money"]
    client.post(f"/staff/items/{item.id}/themes", data={"theme": ["money"]})
    response = client.post(f"/staff/items/{item.id}/themes", data={"theme": ["money", "jobs"]})
    assert response.status_code == 302
    db.session.refresh(item)
    assert sorted(t.slug for t in item.themes()) == ["jobs", "money"]


def test_bulk_theme_on_an_inbox_filtered_by_theme(signed_in, inbox):
    client = signed_in(Role.TRIAGER)
    client.post(
        "/staff/inbox/bulk",
        data={
            "theme": "unclassified",  # the filter, repeated as a hidden field
            "action": "add_theme",
            "bulk_theme": "jobs",
            "item": [str(inbox["none"].id)],
        },
    )
    db.session.refresh(inbox["none"])
    assert [t.slug for t in inbox["none"].themes()] == ["jobs"]


def test_pages_follow_the_full_order_across_unclassified_and_classified(inbox, make_item):
    extra = make_item("A later thought about the budget", submitted_at=datetime(2019, 8, 1))
    _tag(extra, "services", source=TagSource.STAFF)  # staff tag without a review: counts
    for f in (_filters(), _filters(q="budget"), _filters(sort="oldest"), _filters(theme="money")):
        expected = [i.reference for i in db.session.scalars(inbox_list.inbox_query(f))]
        walked, page = [], 1
        while True:
            result = inbox_list.inbox_page(f, page, per_page=2)
            walked += _refs(result)
            if not result.has_next:
                break
            page += 1
        assert walked == expected and expected
    # Current themes follow FeedbackItem.themes(), the staff tag included.
    for slug in ("money", "services", "jobs", "unclassified"):
        refs = set(_refs(inbox_list.inbox_page(_filters(theme=slug), 1)))
        items = db.session.scalars(select(FeedbackItem)).all()
        if slug == "unclassified":
            want = {i.reference for i in items if not i.themes() and not i.themes_reviewed_at}
        else:
            want = {i.reference for i in items if slug in {t.slug for t in i.themes()}}
        assert refs == want, slug


def test_totals_are_counted_up_to_the_cap(signed_in, inbox, make_item, monkeypatch):
    monkeypatch.setattr(inbox_page_module, "COUNT_CAP", 2)
    first = inbox_list.inbox_page(_filters(), 1, per_page=1)
    assert first.total == 3 and first.total_capped and first.pages is None and first.has_next
    # The last page knows the exact total without counting.
    last = inbox_list.inbox_page(_filters(), 4, per_page=1)
    assert last.total == 4 and not last.total_capped and last.pages == 4 and not last.has_next
    with pytest.raises(PageNotFound):
        inbox_list.inbox_page(_filters(), 5, per_page=1)
    small = inbox_list.inbox_page(_filters(theme="money"), 1)
    assert small.total == 2 and not small.total_capped
    client = signed_in(Role.VIEWER)
    for i in range(inbox_list.PER_PAGE - 2):
        make_item(f"Another comment, number {i}", engagement_slug=None)
    body = client.get("/staff/inbox").get_data(as_text=True)
    assert "More than 2 items · page 1" in body and "page=2" in body
    body = client.get("/staff/inbox?page=2").get_data(as_text=True)
    assert f"{inbox_list.PER_PAGE + 2} items · page 2 of 2" in body and "page=3" not in body
    assert '<input type="hidden" name="page" value="2">' in body  # bulk actions come back here
    assert "2 items match" in client.get("/staff/inbox?theme=money").get_data(as_text=True)


# ------------------------------------------------------- one scale; suggested themes


def test_one_item_shows_the_same_percent_everywhere(signed_in, make_item, runner):
    """The model's 0.814 for Money is "81%" in the inbox, on the item page and in both
    exports; the inbox's margin (certainty) is never shown."""
    item = make_item("The budget for Brent is cut again this year", area="Brent")
    _tag(item, "money", confidence=0.814)
    item.certainty = 0.194  # the margin: orders "least certain first", never shown
    db.session.commit()
    client = signed_in(Role.TRIAGER)

    inbox = client.get("/staff/inbox?sort=uncertain").get_data(as_text=True)
    assert ">Money 81%<" in inbox
    item_page = client.get(f"/staff/items/{item.id}").get_data(as_text=True)
    assert ">Money 81%<" in item_page  # the theme tag
    assert "<strong>Money</strong> 81%" in item_page  # what the model suggested
    csv_rows = _export_rows(client.get("/staff/inbox.csv").get_data(as_text=True))
    assert [r["theme_percent"] for r in csv_rows] == ["money 81%"]
    out = runner.invoke(cli, ["export-feedback", "--format", "jsonl"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["theme_percent"] == {"money": 81}
    out = runner.invoke(cli, ["export-feedback", "--format", "csv"])
    assert _export_rows(out.stdout)[0]["theme_percent"] == "money 81%"
    # The JSON API publishes no per-item themes, so no confidence on another scale.
    for url in ("/api/v1/openapi.json", "/api/v1/statistics", "/api/v1/themes"):
        assert "confidence" not in client.get(url).get_data(as_text=True)
    for page in (inbox, item_page):
        for other_scale in ("0.81", "0.19", "certainty", "% sure"):
            assert other_scale not in page

    # Once staff have set the themes, they carry no percent anywhere.
    client.post(f"/staff/items/{item.id}/themes", data={"theme": ["money"]})
    assert ">Money<" in client.get("/staff/inbox").get_data(as_text=True)
    assert (
        _export_rows(client.get("/staff/inbox.csv").get_data(as_text=True))[0]["theme_percent"]
        == ""
    )


@pytest.fixture
def unclassified(trained, make_item):
    """An item the active model classified without any theme over its threshold."""
    item = make_item("The budget is cut again and the deficit grows: who pays for the savings?")
    for tag in [t for t in item.tags if t.source == TagSource.MODEL]:
        item.tags.remove(tag)
    db.session.commit()
    assert item.classified_at is not None and item.themes() == []
    return item


def _suggestion_forms(body: str) -> dict[str, str]:
    """theme slug -> the CSRF token of each suggestion's form on an item page."""
    forms = re.findall(r'<form class="engage-suggestion".*?</form>', body, re.S)
    found = {}
    for form in forms:
        slug = re.search(r'name="theme" value="([^"]+)"', form).group(1)
        found[slug] = re.search(r'name="csrf_token" value="([^"]*)"', form).group(1)
    return found


def test_an_unclassified_item_offers_its_likeliest_themes_to_triagers(
    app, signed_in, unclassified, monkeypatch
):
    from engage.classify import service as classify
    from engage.feedback.themes import percent

    expected = classify.suggest_themes(unclassified.text)
    assert expected and expected[0][0] == "money"
    client = signed_in(Role.TRIAGER)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    body = client.get(f"/staff/items/{unclassified.id}").get_data(as_text=True)
    names = {t.slug: t.name for t in db.session.scalars(select(Theme))}
    likeliest = ", ".join(f"{names[slug]} {percent(p)}%" for slug, p in expected)
    assert f"Likeliest: {likeliest}</p>" in body
    forms = _suggestion_forms(body)
    assert list(forms) == [slug for slug, _ in expected]
    assert f">Tag as {names['money']}</button>" in body
    # Without the form's CSRF token nothing changes.
    url = f"/staff/items/{unclassified.id}/themes"
    assert client.post(url, data={"theme": "money"}).status_code == 400
    db.session.refresh(unclassified)
    assert unclassified.themes() == []

    response = client.post(url, data={"theme": "money", "csrf_token": forms["money"]})
    assert response.status_code == 302
    db.session.refresh(unclassified)
    assert [t.slug for t in unclassified.themes()] == ["money"]
    assert [t.source for t in unclassified.tags] == [TagSource.STAFF]
    assert unclassified.themes_reviewed_by_id == client.user.id
    assert unclassified.status == Status.TRIAGED
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "item.themes")).one()
    assert event.detail == {"before": [], "after": ["money"]}
    texts, labels = classify.staff_labels()  # the next model learns from it
    assert labels[texts.index(unclassified.text)].tolist() == [1, 0, 0, 0, 0]
    # Now set by staff: no more suggestions.
    body = client.get(f"/staff/items/{unclassified.id}").get_data(as_text=True)
    assert "Likeliest" not in body and not _suggestion_forms(body)
    assert ">Money<" in body


def test_viewers_see_the_suggestions_without_buttons(signed_in, unclassified):
    body = signed_in(Role.VIEWER).get(f"/staff/items/{unclassified.id}").get_data(as_text=True)
    assert "Likeliest: Money " in body
    assert not _suggestion_forms(body) and "Tag as" not in body


def test_suggestions_only_for_an_unclassified_item(signed_in, trained, make_item):
    client = signed_in(Role.TRIAGER)
    tagged = make_item("The budget is cut again and the deficit grows: who pays for the savings?")
    assert tagged.themes()  # the model tagged it: its themes, no suggestions
    waiting = make_item("Who decides for Harrow?")
    waiting.classified_at, waiting.tags = None, []  # not classified yet
    db.session.commit()
    for item in (tagged, waiting):
        body = client.get(f"/staff/items/{item.id}").get_data(as_text=True)
        assert "Likeliest" not in body and "Tag as" not in body


def test_no_suggestions_and_no_error_without_a_model(signed_in, make_item, model_dir):
    from engage.util import utcnow

    item = make_item("The budget is cut again and the deficit grows: who pays for the savings?")
    item.classified_at, item.model_version = utcnow(), "v1-gone"
    db.session.commit()
    response = signed_in(Role.TRIAGER).get(f"/staff/items/{item.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The model found no theme likely enough to tag" in body
    assert "Likeliest" not in body and "Tag as" not in body
