"""Staff exports: formula injection, CSV and JSON Lines round trips, batched loading."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from sqlalchemy import event, insert, select

from engage.extensions import db
from engage.feedback.models import (
    Channel,
    DuplicateGroup,
    FeedbackItem,
    Status,
    TagSource,
    Theme,
    ThemeTag,
)
from engage.staff import export
from engage.staff.export import FIELDS, csv_safe, items_query, iter_csv, iter_jsonl

TRICKY = 'He said "no, never",\nthen left;\r\nsecond line, with commas'
UNICODE = "Ysbyty Gwynedd — café, naïve, 北京, emoji 🏥, Zoë\u2028separator"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+44 20 7946 0000", "'+44 20 7946 0000"),
        ("-1", "'-1"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Plain words", "Plain words"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        # Numbers and flags we write ourselves are left alone.
        (-1, "-1"),
        (42, "42"),
        (1.5, "1.5"),
        (True, "true"),
        (False, "false"),
    ],
)
def test_csv_safe(value, cell):
    assert csv_safe(value) == cell


def themes() -> dict[str, Theme]:
    return {t.slug: t for t in db.session.scalars(select(Theme))}


@pytest.fixture
def items(app, make_engagement):
    """Three items with awkward text, tags from the model and staff, and a group."""
    engagement = make_engagement(slug="commissioning-reform")
    t = themes()
    group = DuplicateGroup(engagement_id=engagement.id)
    db.session.add(group)
    db.session.flush()
    first = FeedbackItem(
        reference="NWL-0001",
        engagement_id=engagement.id,
        channel=Channel.EMAIL,
        submitted_at=datetime(2019, 6, 3, 9, 30, 15),
        text=TRICKY,
        author_email="=cmd@example.org",
        author_name="@Mallory",
        area="Harrow",
        consent_to_quote=True,
        status=Status.TRIAGED,
        duplicate_group_id=group.id,
        redacted_text="He said no; [name removed]",
    )
    second = FeedbackItem(
        reference="NWL-0002",
        engagement_id=engagement.id,
        channel=Channel.WEB,
        submitted_at=datetime(2019, 6, 4, 23, 59, 59),
        text=UNICODE,
        author_name="Zoë Ñúñez",
        area=None,
    )
    third = FeedbackItem(
        reference="GEN-0003",
        engagement_id=None,
        channel=Channel.LETTER,
        submitted_at=datetime(2019, 6, 5, 12, 0, 0),
        text="-1 for the merger. =SUM(A1:A9)",
        status=Status.SPAM,
    )
    db.session.add_all([first, second, third])
    db.session.add_all(
        [
            # Staff tags replace the model's.
            ThemeTag(item=first, theme=t["money"], source=TagSource.MODEL),
            ThemeTag(item=first, theme=t["jobs"], source=TagSource.STAFF),
            ThemeTag(item=first, theme=t["decision-making"], source=TagSource.STAFF),
            ThemeTag(item=second, theme=t["services"], source=TagSource.MODEL, confidence=0.814),
            ThemeTag(item=third, theme=t["jobs"], source=TagSource.MODEL),  # no confidence
        ]
    )
    db.session.commit()
    return first, second, third


def expected_records(first, second, third) -> list[dict]:
    slug = "commissioning-reform"
    return [
        {
            "reference": "NWL-0001",
            "channel": "email",
            "engagement": slug,
            "submitted_at": "2019-06-03T09:30:15Z",
            "text": TRICKY,
            "themes": ["decision-making", "jobs"],
            "status": "triaged",
            "author_email": "=cmd@example.org",
            "author_name": "@Mallory",
            "area": "Harrow",
            "consent_to_quote": True,
            "duplicate_group_id": first.duplicate_group_id,
            "redacted_text": "He said no; [name removed]",
            "theme_percent": {},  # staff set the themes
        },
        {
            "reference": "NWL-0002",
            "channel": "web",
            "engagement": slug,
            "submitted_at": "2019-06-04T23:59:59Z",
            "text": UNICODE,
            "themes": ["services"],
            "status": "new",
            "author_email": None,
            "author_name": "Zoë Ñúñez",
            "area": None,
            "consent_to_quote": False,
            "duplicate_group_id": None,
            "redacted_text": None,
            "theme_percent": {"services": 81},  # the model's 0.814, as staff see it
        },
        {
            "reference": "GEN-0003",
            "channel": "letter",
            "engagement": None,
            "submitted_at": "2019-06-05T12:00:00Z",
            "text": "-1 for the merger. =SUM(A1:A9)",
            "themes": ["jobs"],
            "status": "spam",
            "author_email": None,
            "author_name": None,
            "area": None,
            "consent_to_quote": False,
            "duplicate_group_id": None,
            "redacted_text": None,
            "theme_percent": {},
        },
    ]


def read_csv(lines) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(lines), newline="")))


def test_csv_round_trip(items):
    lines = list(iter_csv(items_query()))
    assert lines[0] == ",".join(FIELDS) + "\r\n"
    assert len(lines) == 1 + len(items)  # one string per record, even with newlines inside
    header, *rows = read_csv(lines)
    assert header == list(FIELDS)
    for row, record in zip(rows, expected_records(*items), strict=True):
        got = dict(zip(header, row, strict=True))
        want = {k: csv_safe(v) for k, v in record.items()}
        want["themes"] = ";".join(record["themes"])
        want["theme_percent"] = ";".join(f"{k} {v}%" for k, v in record["theme_percent"].items())
        assert got == want
    first, second, third = (dict(zip(header, r, strict=True)) for r in rows)
    # Text a spreadsheet would run is defused; everything else comes back exactly.
    assert first["text"] == TRICKY
    assert first["author_email"] == "'=cmd@example.org"
    assert first["author_name"] == "'@Mallory"
    assert first["themes"] == "decision-making;jobs"
    assert first["consent_to_quote"] == "true"
    assert first["duplicate_group_id"] == str(items[0].duplicate_group_id)
    assert second["text"] == UNICODE and second["author_name"] == "Zoë Ñúñez"
    assert second["area"] == "" and second["duplicate_group_id"] == ""
    assert third["text"] == "'-1 for the merger. =SUM(A1:A9)"
    assert third["engagement"] == "" and third["themes"] == "jobs"
    assert first["theme_percent"] == "" and second["theme_percent"] == "services 81%"
    assert third["theme_percent"] == ""


def test_csv_encodes_as_utf8_with_optional_bom(items):
    data = "".join(iter_csv(items_query(), bom=True)).encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbfreference,")
    assert UNICODE.encode("utf-8") in data
    rows = read_csv([data.decode("utf-8-sig")])
    assert rows[0] == list(FIELDS)


def test_jsonl_round_trip(items):
    lines = list(iter_jsonl(items_query()))
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    text = "".join(lines)
    # One object per line, however the reader splits lines.
    records = [json.loads(line) for line in text.splitlines()]
    assert records == expected_records(*items)
    assert list(records[0]) == list(FIELDS)
    assert "Zoë" in text  # UTF-8 kept readable, not \u-escaped


def test_accepts_a_list_of_items_and_a_filtered_query(items):
    assert list(iter_jsonl(list(items))) == list(iter_jsonl(items_query()))
    engagement_id = items[0].engagement_id
    references = [json.loads(line)["reference"] for line in iter_jsonl(items_query(engagement_id))]
    assert references == ["NWL-0001", "NWL-0002"]
    assert list(iter_csv([])) == [",".join(FIELDS) + "\r\n"]


@pytest.fixture
def statements(app):
    """SQL statements run while the fixture is active."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def bulk_items(count: int, engagements) -> None:
    t = list(themes().values())
    db.session.execute(
        insert(FeedbackItem),
        [
            {
                "reference": f"BULK-{n:06d}",
                "engagement_id": engagements[n % len(engagements)].id,
                "channel": Channel.WEB,
                "status": Status.NEW,
                "submitted_at": datetime(2019, 6, 3, 0, 0, n % 60),
                "text": f"Comment {n}",
            }
            for n in range(count)
        ],
    )
    ids = db.session.scalars(select(FeedbackItem.id).order_by(FeedbackItem.id)).all()
    db.session.execute(
        insert(ThemeTag),
        [
            {"item_id": item_id, "theme_id": t[i % len(t)].id, "source": TagSource.MODEL}
            for i, item_id in enumerate(ids)
        ],
    )
    db.session.commit()


def test_loads_in_batches_without_a_query_per_item(app, make_engagement, statements, monkeypatch):
    monkeypatch.setattr(export, "BATCH", 10)
    bulk_items(35, [make_engagement() for _ in range(3)])
    statements.clear()
    lines = iter_csv(items_query())
    header, first = next(lines), next(lines)
    assert header.startswith("reference,") and first.startswith("BULK-000000,")
    # Only the first batch has been read so far.
    theme_queries = [s for s in statements if "theme_tag" in s]
    assert len(theme_queries) == 1
    rows = read_csv(lines)
    assert len(rows) == 34
    batches = 4
    assert len([s for s in statements if "theme_tag" in s]) == batches
    # The items query, then per batch one themes query, plus engagements once.
    assert len(statements) <= 1 + batches + 1


def test_exports_many_items(app, make_engagement):
    bulk_items(3 * export.BATCH + 7, [make_engagement(), make_engagement()])
    records = [json.loads(line) for line in iter_jsonl(items_query())]
    assert len(records) == 3 * export.BATCH + 7
    assert len({r["reference"] for r in records}) == len(records)
    assert all(len(r["themes"]) == 1 for r in records)
    assert sum(1 for _ in iter_csv(items_query())) == len(records) + 1
