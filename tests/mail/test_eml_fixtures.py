"""The .eml fixture corpus in tests/data/eml, parsed and imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engage.cli import cli
from engage.mail.parsing import parse_message

EML = Path(__file__).resolve().parent.parent / "data" / "eml"

CASES = {
    "windows-1252.eml": ("genuine", "\u201csavings\u201d of \u00a340m will cost Ealing"),
    "html-only.eml": ("genuine", "Who decides for Harrow & Brent?"),
    "base64.eml": ("genuine", "Keep our surgery open in Harrow."),
    "reply-on-wrote.eml": ("genuine", "The deadline is still too short for councils."),
    "out-of-office.eml": ("auto_reply", "I am away until Monday."),
    "bounce.eml": ("bounce", "Delivery failed."),
    "forwarded.eml": ("genuine", "fear losing their out-of-hours GP service"),
    "malformed-boundary.eml": ("genuine", "The budget for Hounslow must be protected."),
    "attachment.eml": ("genuine", "Please read my letter about nursing jobs."),
}


def test_every_fixture_has_a_case():
    assert {p.name for p in EML.glob("*.eml")} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_parses(name):
    kind, words = CASES[name]
    parsed = parse_message((EML / name).read_bytes())
    assert parsed.kind == kind
    assert words in parsed.text
    assert "alert" not in parsed.text and "> " not in parsed.text


def test_fixture_details():
    cp1252 = parse_message((EML / "windows-1252.eml").read_bytes())
    assert cp1252.subject == "Caf\u00e9 and clinic closures"
    assert cp1252.sender_name == "Si\u00f4n Evans"
    attachment = parse_message((EML / "attachment.eml").read_bytes())
    assert attachment.attachment_names == ("passwd",)


def test_import_the_fixture_folder_twice(app):
    runner = app.test_cli_runner()
    first = json.loads(runner.invoke(cli, ["import-mail", str(EML), "--json"]).output)
    assert first == {"imported": 7, "duplicates": 0, "auto_replies": 2, "rejected": 0}
    second = json.loads(runner.invoke(cli, ["import-mail", str(EML), "--json"]).output)
    assert second == {"imported": 0, "duplicates": 7, "auto_replies": 2, "rejected": 0}
