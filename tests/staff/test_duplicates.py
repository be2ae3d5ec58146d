"""staff.duplicates: template letters and copy-paste campaigns grouped per engagement."""

from __future__ import annotations

import random
import zlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from engage.extensions import db
from engage.feedback.models import Channel, DuplicateGroup, FeedbackItem, Status
from engage.staff import duplicates
from engage.staff.duplicates import (
    cluster_texts,
    group_all,
    group_engagement,
    normalise_for_matching,
    shingles,
    similarity,
)

TEMPLATE = (
    "I am writing to object to the proposal to merge the eight clinical commissioning "
    "groups of North West London into a single organisation. As a resident of {borough} I "
    "believe that decisions about our local health services should be made by people who "
    "know our area, our GP practices and our hospitals. A single commissioning body covering "
    "more than two million people cannot understand the needs of each borough. The case for "
    "change promises savings on management costs, but it does not explain how the money "
    "saved will be spent or whether it will stay in {borough}. I am also concerned that the "
    "engagement took place over the summer holidays, when many families were away and "
    "could not attend the public meetings. The documents were long and hard to follow, and "
    "there was no easy read version for people with learning disabilities. Before any "
    "decision is taken, I ask the governing bodies to publish a full equality impact "
    "assessment, to hold a further round of meetings in every borough in the autumn, and "
    "to give a written answer to every concern raised in this consultation. Local people "
    "deserve a real say in how their health services are planned and paid for, and GPs "
    "who see patients every day must keep a leading role in those decisions."
)
BOROUGHS = [
    "Brent", "Ealing", "Harrow", "Hillingdon", "Hounslow", "Westminster",
    "Hammersmith and Fulham", "Kensington and Chelsea",
]  # fmt: skip
GREETINGS = [
    "Dear Sir/Madam,", "Dear Engagement Team,", "To whom it may concern,", "Hello,",
    "Dear Sir or Madam", "", "Hi,",
]  # fmt: skip
FIRST = [
    "Amina", "Brian", "Chloe", "Dev", "Elena", "Femi", "Grace", "Hassan", "Irene", "Jonas",
    "Kiran", "Lucy", "Mohammed", "Nora", "Oliver", "Patricia", "Ravi", "Sofia",
]  # fmt: skip
LAST = [
    "Ahmed", "Baker", "Clarke", "Da Silva", "Evans", "Fernandes", "Gupta", "Hughes",
    "Ibrahim", "Jones", "Kowalski", "Lewis", "Mensah", "Nowak", "O'Brien", "Patel",
]  # fmt: skip
ADDED = [
    "My mother has lived here for sixty years and relies on her local surgery.",
    "I am a carer and I could not get to any of the meetings.",
    "Our walk-in centre is already under pressure every evening.",
    "Please do not let this become another cost-cutting exercise.",
    "I work as a nurse and my colleagues share these worries.",
]

OPENINGS = [
    "The walk-in centre in {place} is the only place I can see someone after work.",
    "Merging the CCGs will move decisions further away from {place}.",
    "I have waited three weeks for a GP appointment in {place}.",
    "Nobody in {place} heard about the meetings until they were over.",
    "The savings figure in the case for change looks far too optimistic to me.",
    "My son has autism and the mental health services in {place} are stretched.",
    "Why were the meetings held in the daytime when most of us work?",
    "Parking at the hospital in {place} costs more than the bus fare.",
    "I support the merger if it ends the postcode lottery between boroughs.",
    "Local councillors should sit on the new committee for {place}.",
]
MIDDLES = [
    "Last winter my father waited nine hours on a trolley.",
    "The pharmacy on our high street closed in March.",
    "Staff at the surgery are kind but clearly exhausted.",
    "Interpreters are hard to book and leaflets only come in English.",
    "The online booking system does not work on an old phone.",
    "District nurses used to visit weekly and now come once a month.",
    "Our Healthwatch asked these questions two years ago and got no answer.",
    "Young people need services that are open at weekends.",
    "Community transport to the clinic has been cut twice.",
    "The consultation document never mentions dentists at all.",
    "Mental health crisis beds are miles away from here.",
    "I was told to phone at eight and the line was busy until ten.",
]
ENDINGS = [
    "Please publish the figures borough by borough.",
    "I would like a reply explaining what will change.",
    "Keep the clinical leads local and accountable.",
    "Do not close anything until the new services are working.",
    "Ask the people who use the services before deciding.",
    "Tell us who will make the final decision and when.",
    "Put the savings back into front-line care.",
    "Hold the next meetings in the evening.",
]
PLACES = [
    "Southall", "Wembley", "Harrow", "Acton", "Hayes", "Hounslow", "Paddington", "Ealing",
    "Pinner", "Kilburn", "Uxbridge", "Chiswick",
]  # fmt: skip


def _typo(word: str, rnd: random.Random) -> str:
    if len(word) <= 3:
        return word
    j = rnd.randrange(1, len(word) - 1)
    if rnd.random() < 0.5:
        return word[:j] + word[j + 1 :]  # a letter dropped
    return word[:j] + word[j + 1] + word[j] + word[j + 2 :]  # two letters swapped


def campaign_letter(rnd: random.Random) -> str:
    """The template as one sender sends it: own greeting, borough, sign-off, maybe more."""
    body = TEMPLATE.format(borough=rnd.choice(BOROUGHS))
    if rnd.random() < 0.35:
        sentences = body.split(". ")
        sentences.insert(rnd.randrange(len(sentences)), rnd.choice(ADDED).rstrip("."))
        body = ". ".join(sentences)
    if rnd.random() < 0.3:
        words = body.split(" ")
        for _ in range(rnd.randint(1, 2)):
            i = rnd.randrange(len(words))
            words[i] = _typo(words[i], rnd)
        body = " ".join(words)
    if rnd.random() < 0.3:
        body = body.replace(". ", ".\n\n", 3)  # the same letter, wrapped differently
    first, last = rnd.choice(FIRST), rnd.choice(LAST)
    email = f"{first}.{last}@example.org".lower().replace(" ", "")
    sign_off = rnd.choice(
        [
            f"Yours sincerely,\n{first} {last}",
            f"Regards,\n{first} {last}\n{email}",
            f"Thanks, {first}",
            f"Kind regards\n\n{first[0]}. {last}\nHA{rnd.randint(0, 9)} {rnd.randint(1, 9)}AB",
            f"{first} {last}",
        ]
    )
    greeting = rnd.choice(GREETINGS)
    return "\n\n".join(part for part in (greeting, body, sign_off) if part)


def distinct_texts(n: int, rnd: random.Random) -> list[str]:
    """``n`` short comments on the same consultation, any two differing in two or more of
    their four parts (opening, place, middle, ending)."""
    chosen: list[tuple[int, int, int, int]] = []
    while len(chosen) < n:
        parts = (
            rnd.randrange(len(OPENINGS)),
            rnd.randrange(len(PLACES)),
            rnd.randrange(len(MIDDLES)),
            rnd.randrange(len(ENDINGS)),
        )
        if all(sum(a != b for a, b in zip(parts, other)) >= 2 for other in chosen):
            chosen.append(parts)
    return [
        f"{OPENINGS[o].format(place=PLACES[p])} {MIDDLES[m]} {ENDINGS[e]}" for o, p, m, e in chosen
    ]


@pytest.fixture
def add_items(app):
    """Factory: store feedback items directly (no classification or mail), then commit."""
    counter = iter(range(1, 1_000_000))
    start = datetime(2019, 6, 1, 9, 0)

    def factory(texts, *, engagement=None, status=Status.NEW) -> list[FeedbackItem]:
        items = []
        for text in texts:
            n = next(counter)
            items.append(
                FeedbackItem(
                    reference=f"YS-2019-{n:06d}",
                    engagement_id=engagement.id if engagement is not None else None,
                    channel=Channel.EMAIL,
                    submitted_at=start + timedelta(minutes=n),
                    text=text,
                    status=status,
                )
            )
        db.session.add_all(items)
        db.session.commit()
        return items

    return factory


def group_rows() -> list[DuplicateGroup]:
    return db.session.scalars(select(DuplicateGroup).order_by(DuplicateGroup.id)).all()


def members(group: DuplicateGroup) -> set[int]:
    return set(
        db.session.scalars(
            select(FeedbackItem.id).where(FeedbackItem.duplicate_group_id == group.id)
        )
    )


# --- matching --------------------------------------------------------------------------


def test_normalise_drops_greeting_sign_off_case_and_punctuation():
    letter = (
        "Dear Sir/Madam,\n\nPlease KEEP the walk-in centre   open -- it matters!\n\n"
        "Yours sincerely,\nJane Smith\n12 Station Road\njane@example.org"
    )
    assert normalise_for_matching(letter) == "please keep the walk in centre open it matters"
    one_line = "Hello, keep the walk-in centre open. It matters. Regards, Jane Smith"
    assert normalise_for_matching(one_line) == "keep the walk in centre open it matters"
    signed = "To whom it may concern:\nKeep the centre open.\nJ. Smith"
    assert normalise_for_matching(signed) == "keep the centre open"
    # Addresses in the body differ from copy to copy.
    assert normalise_for_matching("Write to me (ann@example.org) today") == "write to me today"


def test_normalise_keeps_text_that_only_looks_like_a_greeting():
    assert normalise_for_matching("Hello please keep it open") == "hello please keep it open"
    assert normalise_for_matching("Thanks to the nurses, my mother recovered.") == (
        "thanks to the nurses my mother recovered"
    )
    assert normalise_for_matching("") == ""
    assert normalise_for_matching(" \n\t") == ""


def test_shingles_are_stable_hashes_of_word_windows():
    # Recomputed here from CRC-32 alone: the values never depend on PYTHONHASHSEED.
    def expected(words: list[str]) -> int:
        value = 0
        for word in words:
            value = (value * 0x9E3779B97F4A7C15 + zlib.crc32(word.encode())) % 2**64
        return value

    text = "One two, THREE four five six!"
    words = ["one", "two", "three", "four", "five", "six"]
    assert shingles(text) == {expected(words[0:5]), expected(words[1:6])}
    assert shingles(text, k=3) == {expected(words[i : i + 3]) for i in range(4)}
    # Under k words the whole text is the one shingle.
    assert shingles("Save our A&E") == {expected(["save", "our", "a", "e"])}
    assert shingles("") == set()


def test_similarity():
    rnd = random.Random(1)
    template = TEMPLATE.format(borough="Brent")
    assert similarity(template, template) == 1.0
    assert similarity("Dear Sir,\n" + template, template + "\n\nRegards,\nAnn Lee") == 1.0
    variant = TEMPLATE.format(borough="Harrow") + " I am a carer and I could not attend."
    assert 0.8 <= similarity(template, variant) < 1.0
    one, other = distinct_texts(2, rnd)
    assert similarity(one, other) < 0.5
    assert similarity("Keep Harrow open!", "keep harrow OPEN") == 1.0
    assert similarity("Keep Harrow open", "Keep Ealing open") == 0.0
    assert similarity("", "") == 0.0


@pytest.mark.parametrize(("threshold", "rows"), [(0.9, 4), (0.8, 4), (0.5, 2), (0.05, 1)])
def test_lsh_bands_keep_pairs_at_the_threshold(threshold, rows):
    assert duplicates._rows_per_band(threshold) == rows
    bands = duplicates.NUM_PERMUTATIONS // rows
    if rows > 1:
        assert 1 - (1 - threshold**rows) ** bands > 0.999


def test_cluster_texts_pure():
    rnd = random.Random(2)
    letters = [campaign_letter(rnd) for _ in range(40)]
    others = distinct_texts(30, rnd)
    texts = others[:10] + letters + others[10:]
    clusters = cluster_texts(texts)
    assert sorted(clusters) == clusters
    assert sorted(i for c in clusters for i in c) == list(range(len(texts)))
    big = [c for c in clusters if len(c) > 1]
    assert big == [list(range(10, 50))]


# --- grouping in the database ------------------------------------------------------------


def test_campaign_grouped_distinct_left_alone(add_items, make_engagement):
    rnd = random.Random(2019)
    engagement = make_engagement()
    letters = [campaign_letter(rnd) for _ in range(300)]
    distinct = distinct_texts(100, rnd)
    mixed = letters + distinct
    rnd.shuffle(mixed)
    items = add_items(mixed, engagement=engagement)
    campaign_ids = {item.id for item in items if item.text in set(letters)}
    assert len(campaign_ids) == 300

    result = group_engagement(engagement.id)
    db.session.commit()

    [group] = group_rows()
    assert members(group) == campaign_ids
    assert group.size == 300
    assert group.engagement_id == engagement.id
    assert group.sample_text in letters
    assert group.created_at == group.updated_at
    assert result.as_dict() == {
        "engagements": 1,
        "groups": 1,
        "groups_created": 1,
        "groups_updated": 0,
        "groups_removed": 0,
        "items_grouped": 300,
        "items_released": 0,
    }
    # Grouping never decides for staff.
    statuses = db.session.scalars(select(FeedbackItem.status).distinct()).all()
    assert statuses == [Status.NEW]


def test_sample_is_the_most_sent_wording(add_items, make_engagement):
    engagement = make_engagement()
    plain = TEMPLATE.format(borough="Ealing")
    add_items(
        [
            TEMPLATE.format(borough="Brent") + " Please listen.",
            "Dear Sir,\n" + plain + "\nRegards,\nAnn",
            plain,
            "Hello,\n" + plain,
        ],
        engagement=engagement,
    )
    group_engagement(engagement.id)
    [group] = group_rows()
    assert group.sample_text == "Dear Sir,\n" + plain + "\nRegards,\nAnn"


def test_regrouping_is_idempotent(add_items, make_engagement):
    rnd = random.Random(7)
    engagement = make_engagement()
    texts = [campaign_letter(rnd) for _ in range(60)] + distinct_texts(20, rnd)
    add_items(texts, engagement=engagement)
    group_engagement(engagement.id)
    db.session.commit()
    before = [(g.id, g.size, g.sample_text, g.updated_at, members(g)) for g in group_rows()]

    again = group_engagement(engagement.id)
    db.session.commit()

    after = [(g.id, g.size, g.sample_text, g.updated_at, members(g)) for g in group_rows()]
    assert after == before
    assert (again.groups_created, again.groups_updated, again.groups_removed) == (0, 0, 0)
    assert (again.groups, again.items_grouped, again.items_released) == (1, 60, 0)
    assert db.session.scalar(select(func.count()).select_from(DuplicateGroup)) == 1


def test_group_grows_shrinks_then_goes(add_items, make_engagement):
    rnd = random.Random(3)
    engagement = make_engagement()
    first = add_items([campaign_letter(rnd) for _ in range(10)], engagement=engagement)
    group_engagement(engagement.id)
    db.session.commit()
    [group] = group_rows()
    group_id = group.id

    later = add_items([campaign_letter(rnd) for _ in range(5)], engagement=engagement)
    result = group_engagement(engagement.id)
    db.session.commit()
    [group] = group_rows()
    assert (group.id, group.size) == (group_id, 15)
    assert (result.groups_created, result.groups_updated) == (0, 1)

    # Staff mark some as spam: they leave the group, which keeps its id.
    for item in first[:6]:
        item.status = Status.SPAM
    db.session.commit()
    result = group_engagement(engagement.id)
    db.session.commit()
    [group] = group_rows()
    assert (group.id, group.size) == (group_id, 9)
    assert members(group) == {i.id for i in first[6:] + later}
    assert result.items_released == 6
    assert all(item.duplicate_group_id is None for item in first[:6])

    # Below the minimum size the group is deleted and nobody is left pointing at it.
    for item in first[6:] + later[:4]:
        item.status = Status.SPAM
    db.session.commit()
    result = group_engagement(engagement.id)
    db.session.commit()
    assert group_rows() == []
    assert (result.groups, result.groups_removed, result.items_released) == (0, 1, 9)
    assert (
        db.session.scalar(select(func.count()).where(FeedbackItem.duplicate_group_id.is_not(None)))
        == 0
    )


def test_duplicate_status_items_still_count(add_items, make_engagement):
    engagement = make_engagement()
    text = TEMPLATE.format(borough="Harrow")
    add_items([text] * 2, engagement=engagement, status=Status.DUPLICATE)
    add_items([text], engagement=engagement)
    group_engagement(engagement.id)
    assert [g.size for g in group_rows()] == [3]


def test_min_size_and_threshold(add_items, make_engagement):
    engagement = make_engagement()
    text = TEMPLATE.format(borough="Harrow")
    add_items([text, "Hello,\n" + text], engagement=engagement)
    assert group_engagement(engagement.id).groups == 0
    assert group_engagement(engagement.id, min_size=2).groups == 1
    # A looser threshold lets a rewritten letter in.
    rewritten = text
    for before, after in [
        ("I am also concerned that the engagement", "Worse, the engagement"),
        ("The documents were long", "Papers were long"),
        ("Before any decision is taken, I ask", "I ask"),
        ("Local people deserve", "We all deserve"),
        ("cannot understand", "will never understand"),
    ]:
        rewritten = rewritten.replace(before, after)
    assert 0.5 < similarity(text, rewritten) < 0.8
    add_items([rewritten], engagement=engagement)
    assert group_engagement(engagement.id, min_size=2).items_grouped == 2
    assert group_engagement(engagement.id, min_size=2, threshold=0.5).items_grouped == 3


def test_engagements_are_not_mixed(add_items, make_engagement):
    one, two = make_engagement(), make_engagement()
    text = TEMPLATE.format(borough="Brent")
    in_one = add_items([text] * 4, engagement=one)
    in_two = add_items([text] * 3, engagement=two)
    general = add_items([text] * 3)  # sent to the general address, no engagement

    group_engagement(one.id)
    db.session.commit()
    [group] = group_rows()
    assert (group.engagement_id, members(group)) == (one.id, {i.id for i in in_one})

    result = group_all()
    db.session.commit()
    assert (result.engagements, result.groups, result.items_grouped) == (3, 3, 10)
    assert result.groups_created == 2
    by_engagement = {g.engagement_id: members(g) for g in group_rows()}
    assert by_engagement == {
        one.id: {i.id for i in in_one},
        two.id: {i.id for i in in_two},
        None: {i.id for i in general},
    }
    again = group_all()
    assert (again.groups_created, again.groups_updated, again.groups_removed) == (0, 0, 0)


def test_item_moved_to_another_engagement(add_items, make_engagement):
    one, two = make_engagement(), make_engagement()
    items = add_items([TEMPLATE.format(borough="Brent")] * 3, engagement=one)
    group_engagement(one.id)
    db.session.commit()
    items[0].engagement_id = two.id
    db.session.commit()

    result = group_engagement(one.id)
    db.session.commit()
    assert group_rows() == []
    assert result.groups_removed == 1
    db.session.expire_all()
    assert {db.session.get(FeedbackItem, i.id).duplicate_group_id for i in items} == {None}


def test_result_adds_up():
    total = duplicates.GroupingResult()
    total.add(duplicates.GroupingResult(engagements=1, groups=2, items_grouped=7))
    total.add(duplicates.GroupingResult(engagements=1, groups=1, items_grouped=3))
    assert total.as_dict()["groups"] == 3
    assert total.items_grouped == 10


def test_purged_items_form_no_group_and_keep_the_one_they_had(add_items, make_engagement):
    # An outside review (round 21) purged the demo (items from 2019) and regrouped: every
    # purged text was the same placeholder, so 192 of them became one "campaign" and the
    # real groups went.
    from engage.feedback.models import PLACEHOLDER
    from engage.retention import purge

    rnd = random.Random(11)
    engagement = make_engagement()
    letters = add_items([campaign_letter(rnd) for _ in range(8)], engagement=engagement)
    others = add_items(distinct_texts(12, rnd), engagement=engagement)
    group_engagement(engagement.id)
    db.session.commit()
    [group] = group_rows()
    before = (group.id, group.size, members(group))
    assert before[1] >= 6

    def purge_before(item) -> int:
        cutoff = item.submitted_at + timedelta(seconds=30)
        purge(1, now=cutoff + timedelta(days=1))
        db.session.expire_all()
        purged = select(func.count()).where(FeedbackItem.text == PLACEHOLDER)
        return db.session.scalar(purged)

    # Six of the letters lose their text; the copies left matched them, not each other.
    assert purge_before(letters[5]) == 6
    result = group_engagement(engagement.id)
    db.session.commit()
    [group] = group_rows()
    assert (group.id, group.size, members(group)) == before
    assert (result.groups_created, result.groups_updated, result.groups_removed) == (0, 0, 0)
    # Then every letter and eight other texts: fourteen-plus placeholders, no new group.
    assert purge_before(others[7]) == 16
    group_engagement(engagement.id)
    db.session.commit()
    [group] = group_rows()
    assert (group.id, group.size, members(group)) == before
    again = group_engagement(engagement.id)
    db.session.commit()
    assert (again.groups_created, again.groups_updated, again.groups_removed) == (0, 0, 0)
