"""The .eml fixture corpus in tests/data/eml, parsed and imported.

Every file is written for engage (none is copied from another project); each is one
shape of real-world mail that has broken an importer: named inline text, mislabelled
charsets, attached messages, multiparts without their boundary, no Message-ID, files
that are not email at all, awkward headers, bounces without a MAILER-DAEMON sender, a
person writing from postmaster@, and MIME nested past the limit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from engage.cli import cli
from engage.extensions import db
from engage.feedback.models import FeedbackItem
from engage.mail.parsing import RejectedMessage, parse_message

EML = Path(__file__).resolve().parent.parent / "data" / "eml"

# name -> (kind, words the stored text must contain)
STORED = {
    "windows-1252.eml": ("genuine", "\u201csavings\u201d of \u00a340m will cost Ealing"),
    "html-only.eml": ("genuine", "Who decides for Harrow & Brent?"),
    "base64.eml": ("genuine", "Keep our surgery open in Harrow."),
    "reply-on-wrote.eml": ("genuine", "The deadline is still too short for councils."),
    "forwarded.eml": ("genuine", "fear losing their out-of-hours GP service"),
    "malformed-boundary.eml": ("genuine", "The budget for Hounslow must be protected."),
    "attachment.eml": ("genuine", "Please read my letter about nursing jobs."),
    # 1. a named inline text part is the body
    "inline-named-body.eml": ("genuine", "If the clinic\nmoves to Northwick Park"),
    "named-text-parts.eml": ("genuine", "GP members keep a vote on clinical priorities"),
    # 2. per-part decoding with charset supersets
    "utf8-one-bad-byte.eml": ("genuine", "Пожилым людям трудно ездить далеко."),
    "gbk-labelled-gb2312.eml": ("genuine", "我叫王镕喆，住在绍索尔。"),
    "iso-8859-8-i.eml": ("genuine", "אנחנו מבקשים לשמור על מרפאת הילדים"),
    "ks-c-5601-1987.eml": ("genuine", "브렌트에 사는 김똠순입니다."),
    "mixed-charsets.eml": ("genuine", "A Saúde pública em Hounslow já está sob pressão"),
    "iso-2022-jp-extended.eml": ("genuine", "夜間の診療を残してください。"),
    # 3. attached messages are attachments
    "forwarded-as-attachment.eml": ("genuine", "Nurses on my ward are worried"),
    "attached-message-only.eml": ("genuine", "The out-of-hours GP service in Acton"),
    # 4. multipart without its boundary
    "no-boundary-line.eml": ("genuine", "The mental health budget in Hillingdon"),
    "other-boundary.eml": ("genuine", "Decisions about Ealing should be taken in Ealing"),
    # 5. no Message-ID
    "no-message-id.eml": ("genuine", "From the start the walk-in centre's evening hours"),
    # 7. headers
    "latin1-raw-header.eml": ("genuine", "The café in the Charing Cross foyer"),
    "undecodable-encoded-word.eml": ("genuine", "The night pharmacy near the clinic"),
    "display-name-crlf.eml": ("genuine", "The phlebotomy clinic should open on Saturday"),
    "attachment-name-newline.eml": ("genuine", "Four hundred residents signed"),
    # 9. structure, not sender names; limits keep what was read
    "postmaster-person.eml": ("genuine", "I also use the Willesden centre. Keep it open."),
    "deeply-nested.eml": ("genuine", "Layer 9: the hospital transport service"),
}
IGNORED = {
    "out-of-office.eml": ("auto_reply", "Auto-Submitted: auto-replied"),
    "bounce.eml": ("bounce", "multipart/report"),
    "bounce-x-failed-recipients.eml": ("bounce", "X-Failed-Recipients"),
    "bounce-empty-return-path.eml": ("bounce", "Return-Path: <>"),
}
# 6. not emails: name -> words of the reason
REJECTED = {
    "not-email-outlook-msg.eml": "Outlook .msg",
    "not-email-gzip.eml": "gzip-compressed",
    "not-email-random-bytes.eml": "it has no headers",
    "not-email-plain-text.eml": "it has no headers",
}
# Two encodings of text read as the wrong charset, and C1 control characters.
MOJIBAKE = re.compile(
    r"[\u00c2\u00c3\u00d0\u00d1\u00e2\u00ef][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178"
    r"\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]|[\u0080-\u009f]"
)
BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{60,}")


def test_every_fixture_has_a_case():
    assert {p.name for p in EML.glob("*.eml")} == set(STORED) | set(IGNORED) | set(REJECTED)


@pytest.mark.parametrize("name", sorted(STORED))
def test_fixture_parses(name):
    kind, words = STORED[name]
    parsed = parse_message((EML / name).read_bytes())
    assert parsed.kind == kind
    assert words in parsed.text
    assert "alert" not in parsed.text and "> " not in parsed.text


@pytest.mark.parametrize("name", sorted(IGNORED))
def test_fixture_is_recognised_as_automatic(name):
    kind, why = IGNORED[name]
    parsed = parse_message((EML / name).read_bytes())
    assert parsed.kind == kind and why in parsed.kind_reason


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_fixture_is_not_an_email(name):
    with pytest.raises(RejectedMessage, match=re.escape(REJECTED[name])):
        parse_message((EML / name).read_bytes())


def test_fixture_details():
    cp1252 = parse_message((EML / "windows-1252.eml").read_bytes())
    assert cp1252.subject == "Caf\u00e9 and clinic closures"
    assert cp1252.sender_name == "Si\u00f4n Evans"
    attachment = parse_message((EML / "attachment.eml").read_bytes())
    assert attachment.attachment_names == ("passwd",)
    # 2: exactly one replacement character for the one bad byte
    assert parse_message((EML / "utf8-one-bad-byte.eml").read_bytes()).text.count("\ufffd") == 1
    # 3: the attached message is listed, its base64 never read as words
    forwarded = parse_message((EML / "forwarded-as-attachment.eml").read_bytes())
    assert forwarded.attachment_names == ("Rota changes.eml",)
    assert "Rota details" not in forwarded.full_text
    # 7: headers
    latin1 = parse_message((EML / "latin1-raw-header.eml").read_bytes())
    assert (latin1.sender_name, latin1.subject) == (
        "J\u00fcrgen L\u00fctkebohle",
        "Caf\u00e9 in the hospital foyer",
    )
    hebrew = parse_message((EML / "iso-8859-8-i.eml").read_bytes())
    assert (hebrew.sender_name, hebrew.subject) == ("רחל כהן", "מרפאת הילדים")
    assert parse_message((EML / "gbk-labelled-gb2312.eml").read_bytes()).sender_name == "王镕喆"
    assert parse_message((EML / "iso-2022-jp-extended.eml").read_bytes()).subject == (
        "\u2460\u2461 two points"
    )
    undecodable = parse_message((EML / "undecodable-encoded-word.eml").read_bytes()).subject
    assert "=?" not in undecodable and "?=" not in undecodable
    assert "という" in undecodable and "café" in undecodable
    crlf = parse_message((EML / "display-name-crlf.eml").read_bytes())
    assert crlf.sender_name == "" and crlf.sender_email == "mallory@example.org"
    newline = parse_message((EML / "attachment-name-newline.eml").read_bytes())
    assert newline.attachment_names == ("petition signed list.pdf",)
    # 9: nested past the limit: the levels within it kept, the message marked
    nested = parse_message((EML / "deeply-nested.eml").read_bytes())
    assert "Layer 0:" in nested.text and "Layer 10:" not in nested.text
    assert "nested more than 10 levels" in nested.truncated


def run_import(runner):
    result = runner.invoke(cli, ["import-mail", str(EML), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def test_import_the_fixture_folder_twice(app):
    runner = app.test_cli_runner()
    first, errors = run_import(runner)
    counts = {key: first[key] for key in ("imported", "duplicates", "auto_replies", "rejected")}
    assert counts == {
        "imported": len(STORED),
        "duplicates": 0,
        "auto_replies": len(IGNORED),
        "rejected": len(REJECTED),
    }
    # Every message not imported is listed with where it was and why, and printed.
    dropped = {Path(entry["source"].partition(":")[2]).name: entry for entry in first["dropped"]}
    assert set(dropped) == set(IGNORED) | set(REJECTED)
    for name, words in REJECTED.items():
        assert dropped[name]["result"] == "rejected" and words in dropped[name]["reason"]
        assert f"{name}: rejected: " in errors
    for name, (_kind, why) in IGNORED.items():
        assert dropped[name]["result"] == "auto_replies" and why in dropped[name]["reason"]
        assert dropped[name]["message_id"] in errors
    assert len(errors.strip().splitlines()) == len(IGNORED) + len(REJECTED)

    items = {item.message_id: item for item in db.session.scalars(select(FeedbackItem))}
    assert len(items) == len(STORED)
    for name, (_kind, words) in STORED.items():
        parsed = parse_message((EML / name).read_bytes())
        item = items[parsed.message_id]
        assert words in item.text, name
        assert not MOJIBAKE.search(item.text), (name, item.text)
        assert not BASE64_RUN.search(item.text), (name, item.text)
        assert item.text.strip() != (item.subject or "").strip(), name
        assert "=?" not in item.text and "=?" not in (item.subject or ""), name
        expected_bad = 1 if name == "utf8-one-bad-byte.eml" else 0
        assert item.text.count("\ufffd") == expected_bad, (name, item.text)
    nested = items["nested-001@mail.example.org"]
    assert nested.text.endswith(
        "[Part of this email was not read: its MIME parts are nested more than 10 levels "
        "deep; the deeper parts were not read.]"
    )
    assert items["crlf-name-001@mail.example.org"].author_name is None
    assert items["att-name-001@mail.example.org"].attachment_names == ["petition signed list.pdf"]

    second, errors_again = run_import(runner)
    assert {key: second[key] for key in counts} == {
        "imported": 0,
        "duplicates": len(STORED),
        "auto_replies": len(IGNORED),
        "rejected": len(REJECTED),
    }
    assert len(errors_again.strip().splitlines()) == len(IGNORED) + len(REJECTED)
    assert db.session.scalar(select(db.func.count()).select_from(FeedbackItem)) == len(STORED)
