"""Model tags against the themes staff gave the same items (issue 18: the models page)."""

from __future__ import annotations

import json

import pytest

from engage.classify import agreement, service
from engage.cli import cli
from engage.extensions import db
from engage.feedback.models import Channel, DuplicateGroup, FeedbackItem, TagSource
from engage.feedback.service import Submission, submit
from engage.staff import campaigns, item_actions
from engage.staff.models import Role


def web(text: str) -> FeedbackItem:
    return submit(Submission(text=text, channel=Channel.WEB))


def model_slugs(item: FeedbackItem) -> set[str]:
    return {t.theme.slug for t in item.tags if t.source == TagSource.MODEL}


def expected(pairs: list[tuple[set[str], set[str]]], slug: str) -> tuple[int, int, int]:
    both = sum(slug in m and slug in s for m, s in pairs)
    return (
        both,
        sum(slug in m and slug not in s for m, s in pairs),
        sum(slug in s and slug not in m for m, s in pairs),
    )


TEXTS = [
    "The deficit means cuts to the budget and the money is running out.",
    "Who decides for Harrow when there is one body for eight boroughs?",
    "I waited three weeks for a GP appointment in Ealing.",
    "Nurses are leaving and the ward is short of staff every night.",
]


def test_counts_compare_the_models_tags_with_what_staff_kept(trained, make_staff):
    triager = make_staff(Role.TRIAGER)
    items = [web(t) for t in TEXTS]
    # Staff keep money only on the first, add jobs to the third, confirm the others.
    review = [
        lambda made: {"money"},
        lambda made: made,
        lambda made: made | {"jobs"},
        lambda made: made,
    ]
    pairs = []
    for item, decide in zip(items, review, strict=True):
        made = model_slugs(item)
        kept = decide(made)
        item_actions.set_themes(item, kept, by=triager)
        pairs.append((made, kept))
    unreviewed = web("Will the new ICB publish its board papers before each meeting?")
    db.session.commit()

    found = agreement.staff_agreement()
    assert set(found) == {trained.version}
    result = found[trained.version]
    assert result.items == len(TEXTS)  # the unreviewed item does not count
    assert unreviewed.themes_reviewed_at is None
    for theme in result.themes:
        assert (theme.both, theme.model_only, theme.staff_only) == expected(pairs, theme.slug)
    jobs = next(t for t in result.themes if t.slug == "jobs")
    assert jobs.staff_only >= 1 and jobs.recall < 1
    # Four items are too few for a macro-F1 to mean anything.
    assert result.macro_f1 is None


def test_an_item_tagged_again_after_review_counts_for_neither(trained, corpus, make_staff):
    triager = make_staff(Role.TRIAGER)
    item = web(TEXTS[0])
    item_actions.set_themes(item, {"money"}, by=triager)
    db.session.commit()
    assert agreement.staff_agreement()[trained.version].items == 1
    newer = service.train_model(corpus=[corpus], force=True)  # learns from that review
    db.session.commit()
    assert service.classify_batch([(item.id, item.text)]) == 1  # tagged again by the new one
    db.session.refresh(item)
    assert item.model_version == newer.version and item.classified_at > item.themes_reviewed_at
    assert agreement.staff_agreement() == {}
    # Reviewed again: the new version learned the money tag it keeps, so still nothing.
    item_actions.set_themes(item, {"money", "jobs"}, by=triager)
    db.session.commit()
    assert agreement.staff_agreement() == {}


def test_a_bulk_theme_change_is_not_a_review_of_the_whole_item(trained, make_staff):
    triager = make_staff(Role.TRIAGER)
    bulk_only, whole_then_bulk = web(TEXTS[0]), web(TEXTS[2])
    item_actions.set_themes(whole_then_bulk, model_slugs(whole_then_bulk), by=triager)
    db.session.commit()
    # "Add a theme" to both from the inbox: the model's other tags are carried over.
    assert (
        item_actions.bulk("add_theme", [bulk_only.id, whole_then_bulk.id], by=triager, theme="jobs")
        == 2
    )
    db.session.commit()
    assert bulk_only.themes_reviewed_at is not None and not bulk_only.themes_reviewed_whole
    assert whole_then_bulk.themes_reviewed_whole  # every theme is still staff's decision
    result = agreement.staff_agreement()[trained.version]
    assert result.items == 1
    jobs = next(t for t in result.themes if t.slug == "jobs")
    assert (jobs.both, jobs.staff_only) == (0, 1)  # whole_then_bulk's added jobs only
    item_actions.set_themes(bulk_only, {"money", "jobs"}, by=triager)  # on the item page
    db.session.commit()
    assert agreement.staff_agreement()[trained.version].items == 2


def test_a_campaign_group_counts_once(trained, make_staff):
    triager = make_staff(Role.TRIAGER)
    copies = [web(f"{TEXTS[0]} Sent by supporter {n}.") for n in range(5)]
    group = DuplicateGroup(engagement_id=None, size=len(copies))
    db.session.add(group)
    db.session.flush()
    for item in copies:
        item.duplicate_group_id = group.id
    db.session.commit()
    campaigns.set_theme(group, "money", by=triager)
    db.session.commit()
    assert all(c.themes_reviewed_whole for c in copies)
    result = agreement.staff_agreement()[trained.version]
    assert result.items == 1
    money = next(t for t in result.themes if t.slug == "money")
    assert money.both + money.staff_only == 1


def test_versions_are_counted_apart_oldest_first(trained, corpus, make_staff):
    triager = make_staff(Role.TRIAGER)
    first = web(TEXTS[0])
    item_actions.set_themes(first, model_slugs(first), by=triager)
    newer = service.train_model(corpus=[corpus], force=True)
    db.session.commit()
    later = [web(t) for t in TEXTS[1:]]
    for item in later:
        item_actions.set_themes(item, set(), by=triager)  # none of the themes
    db.session.commit()
    found = agreement.staff_agreement()
    assert list(found) == [trained.version, newer.version]
    assert found[trained.version].items == 1 and found[newer.version].items == 3
    old = {t.slug: (t.both, t.model_only, t.staff_only) for t in found[trained.version].themes}
    assert all(model_only == staff_only == 0 for _, model_only, staff_only in old.values())
    made = [model_slugs(item) for item in later]
    for theme in found[newer.version].themes:  # every tag the model gave was taken off
        assert (theme.both, theme.staff_only) == (0, 0)
        assert theme.model_only == sum(theme.slug in m for m in made)


def test_an_item_left_without_a_version_does_not_count(trained, make_staff):
    triager = make_staff(Role.TRIAGER)
    item = web(TEXTS[0])
    item_actions.set_themes(item, {"money"}, by=triager)
    # As engage.languages.backfill leaves an item found not to be in English.
    item.model_version = None
    db.session.commit()
    assert agreement.staff_agreement() == {}


def test_f1_precision_and_recall_of_one_theme():
    theme = agreement.ThemeAgreement("money", "Money", both=6, model_only=2, staff_only=4)
    assert theme.precision == pytest.approx(0.75)
    assert theme.recall == pytest.approx(0.6)
    assert theme.f1 == pytest.approx(2 * 6 / (12 + 2 + 4))
    nothing = agreement.ThemeAgreement("jobs", "Jobs")
    assert nothing.precision is None and nothing.recall is None and nothing.f1 is None


def test_macro_f1_averages_the_themes_either_side_gave(monkeypatch):
    themes = (
        agreement.ThemeAgreement("money", "Money", both=9, model_only=1, staff_only=0),
        agreement.ThemeAgreement("jobs", "Jobs", both=1, model_only=1, staff_only=2),
        agreement.ThemeAgreement("services", "Impact on services"),  # nobody gave it
    )
    few = agreement.VersionAgreement("v1", agreement.MIN_ITEMS - 1, themes)
    enough = agreement.VersionAgreement("v1", agreement.MIN_ITEMS, themes)
    assert few.macro_f1 is None
    assert enough.macro_f1 == pytest.approx((18 / 19 + 2 / 5) / 2)
    assert enough.as_dict()["themes"]["services"]["f1"] is None


def test_the_models_page_shows_the_active_versions_agreement(trained, make_staff, signed_in):
    triager = make_staff(Role.TRIAGER)
    item = web(TEXTS[0])
    made = model_slugs(item)
    assert "money" in made and "jobs" not in made
    item_actions.set_themes(item, made | {"jobs"}, by=triager)
    db.session.commit()
    admin = signed_in(Role.ADMIN)
    page = admin.get("/staff/models")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "The active version on feedback your team reviewed" in html
    assert "1 item reviewed after" in html and trained.version in html
    assert "fewer than 30 reviewed items" in html
    # Jobs: staff added it, the model had missed it.
    row = html.split(">Impact on jobs</th>", 1)[1].split("</tr>", 1)[0]
    cells = [c.split(">", 1)[1].split("<", 1)[0] for c in row.split("<td")[1:]]
    assert cells[:3] == ["0", "0", "1"] and cells[4] == "0%"
    assert signed_in(Role.TRIAGER).get("/staff/models").status_code == 403


def test_the_models_page_before_any_review(trained, signed_in):
    html = signed_in(Role.ADMIN).get("/staff/models").get_data(as_text=True)
    assert "No item has been reviewed since the active version tagged it" in html


def test_cli_prints_agreement_as_json(app, trained, make_staff):
    triager = make_staff(Role.TRIAGER)
    item = web(TEXTS[0])
    item_actions.set_themes(item, model_slugs(item), by=triager)
    db.session.commit()
    runner = app.test_cli_runner()
    out = runner.invoke(cli, ["models", "agreement", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [v["version"] for v in data] == [trained.version]
    assert data[0]["reviewed_items"] == 1
    money = data[0]["themes"]["money"]
    assert money["both"] == 1 and money["model_only"] == 0 and money["precision"] == 1.0
    text = runner.invoke(cli, ["models", "agreement"])
    assert text.exit_code == 0 and trained.version in text.output and "1 reviewed" in text.output


def test_the_models_page_without_any_version(app, model_dir, signed_in):
    html = signed_in(Role.ADMIN).get("/staff/models").get_data(as_text=True)
    assert "No model has been trained yet" in html
    assert "No version is active yet." in html
    assert "since the active version tagged it" not in html
