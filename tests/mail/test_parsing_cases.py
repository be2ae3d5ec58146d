"""parse_message() and the mailbox readers on real-shaped messages."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage.mail import mailboxes
from engage.mail.parsing import ParseLimits, RejectedMessage, engagement_hint, parse_message

HEAD = b"From: Jo Bloggs <jo@example.org>\r\nTo: engage@example.org\r\nSubject: Views\r\n"


def test_windows_1252_body():
    raw = (
        HEAD + b"Content-Type: text/plain; charset=windows-1252\r\n\r\n"
        b"The \x93savings\x94 of \xa340m will cost us our walk-in centre.\r\n"
    )
    parsed = parse_message(raw)
    assert "\u201csavings\u201d of \u00a340m" in parsed.text


def test_unknown_charset_falls_back_losslessly():
    raw = (
        HEAD + b'Content-Type: text/plain; charset="x-unknown-foo"\r\n\r\n'
        b"Caf\xe9 closed, GP gone.\r\n"
    )
    assert parse_message(raw).text == "Caf\u00e9 closed, GP gone."


def test_base64_and_quoted_printable():
    b64 = (
        HEAD + b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"S2VlcCBvdXIgc3VyZ2VyeSBvcGVuIGluIEhhcnJvdy4=\r\n"
    )
    assert parse_message(b64).text == "Keep our surgery open in Harrow."
    qp = (
        HEAD + b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Cr=E8che and clinic =\r\nboth matter.\r\n"
    )
    assert parse_message(qp).text == "Cr\u00e8che and clinic both matter."


def test_rfc2047_subject_and_name():
    raw = (
        b"From: =?utf-8?b?U2lvYmjDoW4gTyfDgW5nYWlz?= <s@example.org>\r\n"
        b"To: engage@example.org\r\n"
        b"Subject: =?iso-8859-1?q?Caf=E9_and_clinic?=\r\n\r\nPlease keep both open.\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.subject == "Caf\u00e9 and clinic"
    assert parsed.sender_name == "Siobh\u00e1n O'\u00c1ngais"


def test_html_only_is_converted_safely():
    raw = (
        HEAD + b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p{color:red}</style><script>alert(1)</script></head>"
        b"<body><p>Fish &amp; chips</p><p>Keep&nbsp;A&amp;E open</p></body></html>"
    )
    text = parse_message(raw).text
    assert "alert" not in text and "color" not in text
    assert "Fish & chips" in text and "Keep A&E open" in text


def test_reply_quotes_and_signature_stripped():
    raw = (
        HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"I still think the deadline is too short.\r\n\r\n"
        b"On Tue, 4 Jun 2019 at 10:12, NWL Engagement <engage@example.org> wrote:\r\n"
        b"> Thank you for your feedback about the money.\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.text == "I still think the deadline is too short."
    assert "money" in parsed.full_text


def test_attachments_recorded_not_kept():
    raw = (
        HEAD + b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain\r\n\r\nSee attached letter.\r\n"
        b"--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        b'filename="../../etc/passwd"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n'
        b"--b1\r\nContent-Type: image/png\r\nContent-Disposition: attachment; "
        b'filename="photo.png"\r\n\r\nxx\r\n--b1--\r\n'
    )
    parsed = parse_message(raw)
    assert parsed.text == "See attached letter."
    assert parsed.attachment_names == ("passwd", "photo.png") and parsed.attachment_count == 2


def test_malformed_boundary_does_not_crash():
    raw = (
        HEAD + b'Content-Type: multipart/alternative; boundary="never"\r\n\r\n'
        b"--other\r\nContent-Type: text/plain\r\n\r\nStill readable text here.\r\n"
    )
    parsed = parse_message(raw)
    assert isinstance(parsed.text, str)


@pytest.mark.parametrize(
    ("extra", "kind"),
    [
        (b"Auto-Submitted: auto-replied\r\n", "auto_reply"),
        (b"Auto-Submitted: no\r\n", "genuine"),
        (b"X-Autoreply: yes\r\n", "auto_reply"),
        (b"Precedence: bulk\r\n", "bulk"),
        (b"List-Id: <campaign.example.org>\r\n", "bulk"),
        (b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n", "bounce"),
    ],
)
def test_kinds(extra, kind):
    assert parse_message(HEAD + extra + b"\r\nSome body text here.\r\n").kind == kind


def test_out_of_office_subject_and_own_address():
    raw = HEAD.replace(b"Subject: Views", b"Subject: Out of Office: back Monday")
    assert parse_message(raw + b"\r\nAway.\r\n").kind == "auto_reply"
    own = parse_message(HEAD + b"\r\nloop\r\n", own_addresses=frozenset({"jo@example.org"}))
    assert own.kind == "own"


def test_message_id_or_stable_hash():
    with_id = parse_message(HEAD + b"Message-ID: <a1@b>\r\n\r\nBody text here.\r\n")
    assert with_id.message_id == "a1@b"
    one = parse_message(HEAD + b"\r\nBody text here.\r\n")
    assert one.message_id == parse_message(HEAD + b"\r\nBody text here.\r\n").message_id
    assert one.message_id.startswith("sha256:")
    assert one.message_id != parse_message(HEAD + b"\r\nOther body.\r\n").message_id


def test_limits_checked_before_parsing():
    huge = HEAD + b"\r\n" + b"x" * (20 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(RejectedMessage, match="larger than the limit"):
        parse_message(huge)
    assert time.perf_counter() - started < 0.5
    many = (
        HEAD
        + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % n for n in range(30))
        + b"--b--\r\n"
    )
    # Over the part limit: the parts read within it are kept, and the message says so.
    parsed = parse_message(many, limits=ParseLimits(max_parts=10))
    assert parsed.full_text.split("\n\n") == [f"part {n}" for n in range(9)]
    assert "more than 10 MIME parts" in parsed.truncated
    assert parse_message(many).truncated is None


def test_plus_addressing():
    parsed = parse_message(
        HEAD.replace(b"To: engage@example.org", b"To: engage+case-for-change@example.org")
        + b"\r\nx\r\n"
    )
    assert engagement_hint(parsed) == "case-for-change"
    assert (
        engagement_hint(parse_message(HEAD + b"\r\nx\r\n"), mapping={"engage@example.org": "nel"})
        == "nel"
    )


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_reject(raw):
    try:
        parsed = parse_message(raw)
    except RejectedMessage:
        return
    assert isinstance(parsed.text, str) and "\x00" not in parsed.text


def test_mbox_streaming_and_from_escapes(tmp_path):
    path = tmp_path / "box.mbox"
    path.write_bytes(
        b"From a@example.org Mon Jun  3 09:30:00 2019\n"
        + HEAD.replace(b"\r\n", b"\n")
        + b"\n>From the start this was wrong.\n\n"
        b"From b@example.org Mon Jun  3 09:31:00 2019\n"
        + HEAD.replace(b"\r\n", b"\n")
        + b"\nSecond message, no trailing newline"
    )
    messages = list(mailboxes.iter_messages(path))
    assert len(messages) == mailboxes.count_messages(path) == 2
    assert b"\nFrom the start this was wrong." in messages[0][1]
    assert messages[1][1].endswith(b"no trailing newline")


def test_maildir_and_eml_folder(tmp_path):
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.host").write_bytes(HEAD + b"\r\none\r\n")
    (maildir / "cur" / "2.host:2,S").write_bytes(HEAD + b"\r\ntwo\r\n")
    assert len(list(mailboxes.iter_messages(maildir))) == mailboxes.count_messages(maildir) == 2
    folder = tmp_path / "emls"
    folder.mkdir()
    (folder / "a.eml").write_bytes(HEAD + b"\r\nthree\r\n")
    assert [s for s, _ in mailboxes.iter_messages(folder)] == [f"eml:{folder / 'a.eml'}"]
    with pytest.raises(FileNotFoundError):
        mailboxes.iter_messages(tmp_path / "missing")
    # Any other file is one message: the parser says why it is not an email.
    (tmp_path / "notes.txt").write_text("hello")
    notes = list(mailboxes.iter_messages(tmp_path / "notes.txt"))
    assert notes == [(f"file:{tmp_path / 'notes.txt'}", b"hello")]
    assert mailboxes.count_messages(tmp_path / "notes.txt") == 1
    with pytest.raises(RejectedMessage, match="not an email"):
        parse_message(notes[0][1])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError):
        mailboxes.iter_messages(tmp_path / "empty")


def test_forwarded_message_keeps_the_forwarded_words():
    raw = (
        HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"---------- Forwarded message ---------\r\n"
        b"From: Councillor Ahmed <ahmed@example.org>\r\n"
        b"Subject: CCG merger\r\n\r\n"
        b"Residents in Southall tell me they fear losing their GP out-of-hours service.\r\n"
    )
    assert "fear losing their GP" in parse_message(raw).text


NOTE = b"Forwarding this from my neighbour, who has no email.\r\n\r\n"
NEIGHBOUR = b"The stroke unit must stay in Andover: the drive to Winchester takes an hour.\r\n"


@pytest.mark.parametrize(
    "marker, headers",
    [
        (  # Gmail
            b"---------- Forwarded message ---------\r\n",
            b"From: Carol Hay <carol@example.net>\r\nDate: Mon, 7 Dec 2026 at 10:02\r\n"
            b"Subject: Stroke unit\r\nTo: Jo Bloggs <jo@example.org>\r\n\r\n",
        ),
        (  # Apple Mail
            b"Begin forwarded message:\r\n\r\n",
            b"From: Carol Hay <carol@example.net>\r\nSubject: Stroke unit\r\n"
            b"Date: 7 December 2026 at 10:02:11 GMT\r\nTo: Jo Bloggs <jo@example.org>\r\n\r\n",
        ),
        (  # Outlook: a rule and a header block, as for a reply, but the subject is FW:
            b"________________________________\r\n",
            b"From: Carol Hay <carol@example.net>\r\nSent: 07 December 2026 10:02\r\n"
            b"To: Jo Bloggs\r\nSubject: FW: Stroke unit\r\n\r\n",
        ),
    ],
    ids=["gmail", "apple", "outlook"],
)
def test_a_forward_below_a_note_keeps_both_and_drops_its_headers(marker, headers):
    # An outside review (round 21): the note was kept and the neighbour's words, the
    # feedback itself, were lost, with nowhere for staff to find them.
    raw = HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + NOTE + marker + headers
    text = parse_message(raw + NEIGHBOUR).text
    assert text.startswith("Forwarding this from my neighbour")
    assert "The stroke unit must stay in Andover" in text
    assert "carol@example.net" not in text and "Subject" not in text and "Jo Bloggs" not in text


def test_a_forward_alone_leaves_no_header_lines():
    raw = (
        HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"---------- Forwarded message ---------\r\n"
        b"From: Carol Hay <carol@example.net>\r\nDate: Mon, 7 Dec 2026 at 10:02\r\n"
        b"Subject: Stroke unit\r\nTo: Jo Bloggs <jo@example.org>\r\n\r\n" + NEIGHBOUR
    )
    assert parse_message(raw).text == NEIGHBOUR.decode().strip()


def test_an_outlook_reply_below_an_answer_is_still_cut():
    raw = (
        HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Yes, and the budget is still the problem.\r\n\r\n"
        b"________________________________\r\n"
        b"From: Engagement team <engage@example.org>\r\nSent: 07 December 2026 10:02\r\n"
        b"To: Jo Bloggs\r\nSubject: RE: Stroke unit\r\n\r\nWhat else worries you?\r\n"
    )
    assert parse_message(raw).text == "Yes, and the budget is still the problem."


def test_greater_than_quotes_dropped():
    raw = (
        HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Yes, and the budget is still the problem.\r\n"
        b"> What else worries you?\r\n> Reply to this email.\r\n"
    )
    assert parse_message(raw).text == "Yes, and the budget is still the problem."
