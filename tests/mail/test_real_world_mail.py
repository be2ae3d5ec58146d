"""Issue 19's mail failures, one group of tests each (numbers as in the issue).

1 named inline text · 2 charsets · 3 attached messages · 4 multiparts without their
boundary · 5 de-duplication without a Message-ID · 6 input that is not an email ·
7 headers · 8 every dropped message reported, in email wording · 9 bounces by
structure and headers; limits keep what was read.
"""

from __future__ import annotations

import base64
import gzip
import json
import mailbox
import os
import pty
import random

import pytest
from sqlalchemy import func, select

from engage.cli import cli
from engage.cli import mail as mail_cli
from engage.extensions import db
from engage.feedback.models import Channel, FeedbackItem
from engage.mail import inbound, mailboxes
from engage.mail.parsing import ParseLimits, RejectedMessage, decode_bytes, parse_message
from engage.outbox.models import OutboxMessage

HEAD = (
    b"From: Jo Bloggs <jo@example.org>\r\nTo: engage@engage.example.org\r\n"
    b"Subject: Views\r\nDate: Mon, 3 Jun 2019 09:30:00 +0000\r\n"
)
LETTER = b"Please keep the walk-in centre in Ealing open at weekends.\r\n"


def count(model=FeedbackItem) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def multipart(boundary: bytes, *parts: bytes, subtype: bytes = b"mixed") -> bytes:
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return (
        HEAD
        + b"MIME-Version: 1.0\r\nContent-Type: multipart/"
        + subtype
        + b'; boundary="'
        + boundary
        + b'"\r\n\r\n'
        + body
        + b"--"
        + boundary
        + b"--\r\n"
    )


# 1. A text/plain part with a file name -------------------------------------------------


def test_a_named_inline_text_part_with_no_other_body_is_the_body():
    raw = (
        HEAD + b'Content-Type: text/plain; charset=us-ascii; name="letter.txt"\r\n'
        b'Content-Disposition: inline; filename="letter.txt"\r\n\r\n' + LETTER
    )
    parsed = parse_message(raw)
    assert parsed.text == LETTER.decode().strip()
    assert parsed.attachment_names == ()


def test_named_text_parts_are_the_body_only_when_there_is_no_other():
    named = b'Content-Type: text/plain; name="notes.txt"\r\n\r\nMy notes from the meeting.'
    image = (
        b'Content-Type: image/png; name="photo.png"\r\nContent-Transfer-Encoding: base64\r\n'
        b"\r\niVBORw0KGgo="
    )
    alone = parse_message(multipart(b"n1", named, image))
    assert alone.text == "My notes from the meeting." and alone.attachment_names == ("photo.png",)
    with_body = parse_message(multipart(b"n2", b"Content-Type: text/plain\r\n\r\n" + LETTER, named))
    assert with_body.text == LETTER.decode().strip()
    assert with_body.attachment_names == ("notes.txt",)


def test_a_text_attachment_is_the_body_only_of_an_otherwise_empty_email():
    attached = (
        b"Content-Type: text/plain\r\nContent-Disposition: attachment; "
        b'filename="letter.txt"\r\n\r\n' + LETTER
    )
    only = parse_message(multipart(b"a1", attached))
    assert only.text == LETTER.decode().strip() and only.attachment_names == ("letter.txt",)
    both = parse_message(
        multipart(b"a2", b"Content-Type: text/plain\r\n\r\nSee my letter, attached.", attached)
    )
    assert both.text == "See my letter, attached."


# 2. Charsets ---------------------------------------------------------------------------

RUSSIAN = "Прошу сохранить поликлинику в Эктоне для пожилых людей."


def test_one_bad_byte_in_utf8_costs_one_replacement_character():
    raw = RUSSIAN.encode()
    cut = raw.index("Эктоне".encode())
    bad = raw[:cut] + b"\xff" + raw[cut:]
    for charset in ("utf-8", "UTF8", None, "x-unknown-charset"):
        text = decode_bytes(bad, charset)
        assert (
            text
            == RUSSIAN[: len(raw[:cut].decode())] + "\ufffd" + RUSSIAN[len(raw[:cut].decode()) :]
        )
    message = HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + bad
    assert parse_message(message).text.count("\ufffd") == 1


@pytest.mark.parametrize(
    ("label", "text", "codec"),
    [
        ("gb2312", "王镕喆说：请保留社区诊所。", "gbk"),  # 镕 and 喆 are GBK, not GB2312
        ("GB2312", "朱镕基", "gbk"),
        ("iso-8859-8-i", "שמרו על מרפאת הילדים", "iso-8859-8"),
        ("ks_c_5601-1987", "똠방각하 야간 진료소", "cp949"),  # 똠 is only in CP949
        ("euc-kr", "똠방각하", "cp949"),
        ("shift_jis", "①病院", "cp932"),
        ("iso-8859-1", "“Café” – £5", "cp1252"),  # Windows-1252 quotes under a Latin-1 label
        ("windows-874", "โรงพยาบาล", "cp874"),
        ("big5", "醫院診所", "big5hkscs"),
    ],
)
def test_labels_are_read_as_their_supersets(label, text, codec):
    assert decode_bytes(text.encode(codec), label) == text


def test_iso_2022_jp_with_microsofts_extra_rows():
    data = base64.b64decode("GyRCLSEtIhsoQg==")  # ①② in the NEC row
    assert decode_bytes(data, "iso-2022-jp") == "①②"


def test_unknown_or_bogus_labels_decide_from_the_bytes():
    utf8 = "Saúde pública em Hounslow".encode()
    latin = "Café près de la clinique".encode("cp1252")
    for label in (None, "unknown-8bit", "x-bogus", "base64", "default"):
        assert decode_bytes(utf8, label) == "Saúde pública em Hounslow"
        assert decode_bytes(latin, label) == "Café près de la clinique"
    # UTF-8 under a single-byte label is UTF-8, not mojibake
    assert decode_bytes(utf8, "iso-8859-1") == "Saúde pública em Hounslow"
    assert decode_bytes(utf8, "us-ascii") == "Saúde pública em Hounslow"


def test_labels_that_name_no_mail_charset_never_make_controls_or_surrogates():
    escaped = b"Keep \\x00 the clinic \\ud800 open"
    assert decode_bytes(escaped, "unicode_escape") == escaped.decode("ascii")
    assert "\ud800" not in decode_bytes(b"+2AA- clinic", "utf-7")


def test_text_labelled_base64_that_is_not_and_enriched_text():
    wrong = HEAD + b"Content-Transfer-Encoding: base64\r\n\r\n" + LETTER
    assert parse_message(wrong).text == LETTER.decode().strip()
    enriched = (
        HEAD + b"Content-Type: text/enriched\r\n\r\n"
        b"<bold>Keep</bold> the clinic open, <italic>please</italic>.\r\n"
    )
    assert parse_message(enriched).text == "Keep the clinic open, please."


def test_each_part_is_decoded_on_its_own():
    raw = multipart(
        b"cs",
        b"Content-Type: text/plain; charset=x-bogus\r\n\r\n" + "Saúde em Brent".encode(),
        b"Content-Type: text/plain; charset=unknown-8bit\r\n\r\n"
        + "Café à Harrow".encode("latin-1"),
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + "Привет".encode()[:-1],
    )
    assert parse_message(raw).text.split("\n\n") == [
        "Saúde em Brent",
        "Café à Harrow",
        "Приве\ufffd",
    ]


# 3. Attached messages --------------------------------------------------------------------

INNER = (
    b"From: Someone Else <else@example.net>\r\nSubject: Inner\r\n"
    b"Content-Type: text/plain\r\n\r\n" + b"The forwarded message's own words. " * 40 + b"\r\n"
)


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Type: message/rfc822\r\n",
        b"Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n",
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n",
    ],
)
def test_an_attached_message_is_an_attachment_not_the_senders_words(headers):
    inner = base64.encodebytes(INNER) if b"base64" in headers else INNER
    own = (
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>My own view: the merger must not cut nursing jobs.</p>"
    )
    parsed = parse_message(multipart(b"fw", own, headers + b"\r\n" + inner))
    assert parsed.text == "My own view: the merger must not cut nursing jobs."
    assert "forwarded" not in parsed.full_text
    assert parsed.attachment_names == ("forwarded message.eml",)


def test_a_base64_attached_message_alone_gives_its_text_never_its_base64():
    attached = (
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="fwd.eml"\r\n\r\n' + base64.encodebytes(INNER)
    )
    parsed = parse_message(multipart(b"fw2", attached))
    assert parsed.text.startswith("The forwarded message's own words.")
    assert parsed.attachment_names == ("fwd.eml",)
    assert "VGhl" not in parsed.full_text  # no base64


# 4. Multipart without its boundary --------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        b'multipart/alternative; boundary="never-used"',
        b"multipart/mixed",  # no boundary parameter at all
        b'multipart/related; boundary="x"',
    ],
)
def test_a_multipart_without_boundary_lines_keeps_its_text(content_type):
    raw = HEAD + b"MIME-Version: 1.0\r\nContent-Type: " + content_type + b"\r\n\r\n" + LETTER
    assert parse_message(raw).text == LETTER.decode().strip()


def test_a_multipart_under_another_boundary_is_read_by_it():
    raw = (
        HEAD + b'Content-Type: multipart/mixed; boundary="declared"\r\n\r\n'
        b"--actual\r\nContent-Type: text/html\r\n\r\n<p>Keep the GP surgery open.</p>\r\n"
        b'--actual\r\nContent-Type: application/pdf; name="a.pdf"\r\n\r\nxx\r\n--actual--\r\n'
    )
    parsed = parse_message(raw)
    assert parsed.text == "Keep the GP surgery open." and parsed.attachment_names == ("a.pdf",)


def test_a_rule_of_dashes_in_a_body_without_boundary_is_text_not_a_boundary():
    raw = (
        HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"First paragraph of my letter.\r\n----------\r\nSecond paragraph.\r\n"
    )
    assert parse_message(raw).text == (
        "First paragraph of my letter.\n----------\nSecond paragraph."
    )


# 5. No Message-ID: one identity for every copy of a message --------------------------------

NO_ID = (
    HEAD + b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"From the start the consultation was too short.\r\nPlease extend it.\r\n"
)


def variants(tmp_path) -> dict[str, bytes]:
    """The same message as mail systems and tools hand it back."""
    lf = NO_ID.replace(b"\r\n", b"\n")
    copies = {
        "crlf": NO_ID,
        "lf": lf,
        "trailing newlines": lf + b"\n\n\n",
        "no trailing newline": lf.rstrip(b"\n"),
        "mbox From line": b"From jo@example.org Mon Jun  3 09:30:00 2019\n" + lf,
        "mboxo escape": lf.replace(b"\nFrom the", b"\n>From the"),
    }
    box = mailbox.mbox(tmp_path / "written.mbox")
    box.add(NO_ID)  # bytes
    box.add(mailbox.mboxMessage(NO_ID))  # a message object, re-generated
    box.flush()
    box.close()
    box = mailbox.mbox(tmp_path / "written.mbox")
    copies["mailbox bytes"] = box.get_bytes(0)
    copies["mailbox message"] = box.get_bytes(1)
    copies["mailbox as_bytes"] = box.get_message(1).as_bytes()
    box.close()
    for source, raw in mailboxes.iter_messages(tmp_path / "written.mbox"):
        copies[f"engage's mbox reader {source[-2:]}"] = raw
    return copies


def test_copies_of_a_message_without_message_id_have_one_identity(tmp_path):
    identity = parse_message(NO_ID).message_id
    assert identity.startswith("sha256:")
    for name, raw in variants(tmp_path).items():
        assert parse_message(raw).message_id == identity, name
    other = NO_ID.replace(b"Please extend it.", b"Please extend it by a month.")
    assert parse_message(other).message_id != identity
    later = NO_ID.replace(b"09:30:00", b"09:31:00")
    assert parse_message(later).message_id != identity


def test_copies_import_nothing_the_second_time(app, tmp_path):
    assert inbound.ingest(NO_ID).result == inbound.IMPORTED
    for name, raw in variants(tmp_path).items():
        assert inbound.ingest(raw).result == inbound.DUPLICATE, name
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["import-mail", str(tmp_path / "written.mbox"), "--json"])
    assert json.loads(result.stdout)["duplicates"] == 2
    assert json.loads(result.stdout)["imported"] == 0
    assert count() == 1


def test_the_message_id_is_still_the_identity_when_there_is_one(app):
    with_id = NO_ID.replace(b"MIME-Version", b"Message-ID: <kept@example.org>\r\nMIME-Version")
    assert parse_message(with_id).message_id == "kept@example.org"
    assert parse_message(with_id).legacy_ids == ()
    inbound.ingest(with_id)
    assert db.session.scalar(select(FeedbackItem.message_id)) == "kept@example.org"


def test_a_message_stored_under_the_old_fingerprint_stays_a_duplicate(app):
    """Mail imported before this release is found by the identity it was given then."""
    parsed = parse_message(NO_ID)
    (old,) = parsed.legacy_ids
    assert old != parsed.message_id and old.startswith("sha256:")
    assert inbound.ingest(NO_ID).result == inbound.IMPORTED
    item = db.session.scalar(select(FeedbackItem))
    item.message_id = old  # as an earlier release stored it
    db.session.commit()
    assert inbound.ingest(NO_ID).result == inbound.DUPLICATE
    summary = inbound.ingest_many([("again", NO_ID)], channel=Channel.IMPORT)
    assert summary.as_dict()["duplicates"] == 1 and count() == 1


# 6. Input that is not an email -------------------------------------------------------------

_RANDOM = random.Random("engage-not-email")
NOT_EMAIL = {
    "outlook msg": (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + _RANDOM.randbytes(4000),
        "Outlook .msg",
    ),
    "random bytes": (_RANDOM.randbytes(4000).replace(b"\x00", b"\x01"), "not an email"),
    "gzip": (gzip.compress(LETTER * 50), "gzip-compressed"),
    "zip": (b"PK\x03\x04" + _RANDOM.randbytes(200), "ZIP archive"),
    "pdf": (b"%PDF-1.4\n" + _RANDOM.randbytes(200), "PDF"),
    "text without headers": (b"Dear team,\nI think the plan is wrong.\n", "no headers"),
    "http request": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not an email"),
    "headers but none of email's": (
        b"Name: Jo\r\nPostcode: HA0 1AA\r\n\r\nKeep the clinic open please.\r\n",
        "none of its header lines is an email header",
    ),
    "binary body": (
        HEAD + b"Content-Type: text/plain\r\n\r\n" + bytes(range(1, 32)) * 100,
        "binary data",
    ),
}


@pytest.mark.parametrize("name", sorted(NOT_EMAIL))
def test_input_that_is_not_an_email_is_rejected_with_a_reason(name):
    raw, reason = NOT_EMAIL[name]
    with pytest.raises(RejectedMessage, match=reason):
        parse_message(raw)


def test_an_outlook_file_given_to_import_mail_is_rejected_not_stored(app, tmp_path):
    path = tmp_path / "Feedback from Jo.msg"
    path.write_bytes(NOT_EMAIL["outlook msg"][0])
    result = app.test_cli_runner().invoke(cli, ["import-mail", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rejected"] == 1 and count() == 0
    assert "Outlook .msg" in report["dropped"][0]["reason"]
    assert result.stderr.startswith(f"file:{path}: rejected: not an email but an Outlook .msg")


def test_a_utf16_file_with_a_byte_order_mark_is_read():
    raw = NO_ID.decode().encode("utf-16")
    assert parse_message(raw).text.startswith("From the start the consultation")
    assert parse_message(b"\xef\xbb\xbf" + NO_ID).text.startswith("From the start")


# 7. Headers --------------------------------------------------------------------------------


def test_a_raw_latin1_display_name_and_subject():
    raw = (
        b"From: Ingo L\xfctkebohle <ingo@example.org>\r\nTo: engage@engage.example.org\r\n"
        b"Subject: Caf\xe9 closure\r\n\r\n" + LETTER
    )
    parsed = parse_message(raw)
    assert (parsed.sender_name, parsed.subject) == ("Ingo Lütkebohle", "Café closure")


def test_raw_utf8_header_text():
    raw = (
        "From: Siân Dafydd <sian@example.org>\r\nTo: engage@engage.example.org\r\n"
        "Subject: Ysbyty ar gau – pam?\r\n\r\n"
    ).encode() + LETTER
    parsed = parse_message(raw)
    assert (parsed.sender_name, parsed.subject) == ("Siân Dafydd", "Ysbyty ar gau – pam?")


def test_encoded_words_in_supersets_and_split_characters():
    hebrew = base64.b64encode("מרפאת ילדים".encode("iso-8859-8")).decode()
    utf8 = "Ysbyty Gŵyr".encode()
    cut = utf8.index("ŵ".encode()) + 1  # the middle of a two-byte character
    first = base64.b64encode(utf8[:cut]).decode()
    second = base64.b64encode(utf8[cut:]).decode()
    raw = (
        f"From: =?utf-8?b?{first}?= =?utf-8?b?{second}?= <g@example.org>\r\n"
        f"To: engage@engage.example.org\r\nSubject: =?iso-8859-8-i?b?{hebrew}?=\r\n\r\n"
    ).encode() + LETTER
    parsed = parse_message(raw)
    assert parsed.subject == "מרפאת ילדים"
    assert parsed.sender_name == "Ysbyty Gŵyr"


@pytest.mark.parametrize(
    "subject",
    [
        b"=?iso-2022-jp?B?A?= clinic",  # base64 that cannot be decoded
        b"=?utf-8?B?Zm9v=====x?= clinic",
        b"clinic =?iso-2022-jp?B?GyRCNUhGIzFR",  # cut short: never closed
    ],
)
def test_undecodable_encoded_words_never_reach_the_text(app, subject):
    raw = (
        b"From: Jo <jo@example.org>\r\nTo: engage@engage.example.org\r\nSubject: "
        + subject
        + b"\r\nMessage-ID: <undecodable@example.org>\r\n\r\nOK\r\n"
    )
    parsed = parse_message(raw)
    assert "=?" not in parsed.subject and "clinic" in parsed.subject
    assert inbound.ingest(raw).result == inbound.IMPORTED
    item = db.session.scalar(select(FeedbackItem))
    assert "=?" not in item.text and "clinic" in item.text  # the subject joins a short text


def test_a_display_name_that_decodes_to_a_line_break_is_dropped_not_the_email(client, app):
    app.config["INBOUND_EMAIL_TOKEN"] = "hook"
    try:
        name = base64.b64encode(b"Jo\r\nBcc: victim@example.org").decode()
        raw = (
            f"From: =?utf-8?b?{name}?= <jo@example.org>\r\nTo: engage@engage.example.org\r\n"
            "Subject: Views\r\nMessage-ID: <crlf-name@example.org>\r\n\r\n"
        ).encode() + LETTER
        response = client.post("/inbound/email", data=raw, headers={"Authorization": "Bearer hook"})
    finally:
        app.config["INBOUND_EMAIL_TOKEN"] = None
    assert response.status_code == 201, response.json
    item = db.session.scalar(select(FeedbackItem))
    assert item.author_name is None and item.author_email == "jo@example.org"


@pytest.mark.parametrize(
    "disposition",
    [
        b"attachment; filename*=utf-8''petition%0D%0Alist%09final.pdf",
        b'attachment; filename="=?utf-8?b?'
        + base64.b64encode(b"petition\nlist\tfinal.pdf")
        + b'?="',
        b'attachment; filename="petition\r\n list\tfinal.pdf"',
    ],
)
def test_attachment_names_are_one_clean_line(disposition):
    raw = multipart(
        b"att",
        b"Content-Type: text/plain\r\n\r\nSee the petition.",
        b"Content-Type: application/pdf\r\nContent-Disposition: " + disposition + b"\r\n\r\nxx",
    )
    assert parse_message(raw).attachment_names == ("petition list final.pdf",)


# 8. Every rejected or ignored message reported, in email wording ----------------------------


def _mbox(path, messages: list[bytes]) -> None:
    box = mailbox.mbox(path)
    for raw in messages:
        box.add(raw)
    box.flush()
    box.close()


def test_import_mail_reports_each_message_it_did_not_import(app, tmp_path):
    def mail(number: int, body: bytes, extra: bytes = b"") -> bytes:
        return (
            HEAD.replace(b"Subject: Views", b"Subject: ")
            + b"Message-ID: <r%d@example.org>\r\n" % number
            + extra
            + b"\r\n"
            + body
        )

    path = tmp_path / "inbox.mbox"
    _mbox(
        path,
        [
            mail(1, LETTER),
            mail(2, b"Hi"),  # too short, even with the (empty) subject
            mail(3, LETTER, b"Auto-Submitted: auto-replied\r\n"),
            b"Not an email at all, just a line of text.\r\n",
            mail(5, b"", b"Content-Type: multipart/mixed; boundary=x\r\n"),
            mail(6, LETTER, b"X-Failed-Recipients: gone@example.org\r\n"),
            mail(7, LETTER.replace(b"Ealing", b"Brent")),
        ],
    )
    result = app.test_cli_runner().invoke(cli, ["import-mail", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ("Imported 2, duplicates 0, auto-replies and bounces 2, rejected 3.\n")
    lines = result.stderr.splitlines()
    assert lines == [
        f"mbox:{path}#2 <r2@example.org>: rejected: the email's text is too short to record "
        "(2 characters with the subject; at least 10 are needed)",
        f"mbox:{path}#3 <r3@example.org>: ignored: an automatic reply "
        "(Auto-Submitted: auto-replied)",
        f"mbox:{path}#4: rejected: not an email: it has no headers "
        "(such as From:, To: or Subject:)",
        f"mbox:{path}#5 <r5@example.org>: rejected: the email has no text to record "
        "(no body or subject)",
        f"mbox:{path}#6 <r6@example.org>: ignored: a bounce (it has an X-Failed-Recipients header)",
    ]
    assert "Enter your feedback" not in result.stderr


def test_the_webhook_answers_in_email_wording(client, app):
    app.config["INBOUND_EMAIL_TOKEN"] = "hook"
    max_bytes = app.config["INBOUND_MAX_BYTES"]
    auth = {"Authorization": "Bearer hook"}
    try:
        short = client.post(
            "/inbound/email",
            data=HEAD.replace(b"Subject: Views", b"Subject: Hi") + b"\r\nok\r\n",
            headers=auth,
        )
        not_email = client.post("/inbound/email", data=NOT_EMAIL["gzip"][0], headers=auth)
        bounce = client.post(
            "/inbound/email",
            data=HEAD + b"Return-Path: <>\r\n\r\n" + LETTER,
            headers=auth,
        )
        app.config["INBOUND_MAX_BYTES"] = 100
        too_large = client.post("/inbound/email", data=HEAD + b"\r\n" + LETTER, headers=auth)
    finally:
        app.config["INBOUND_EMAIL_TOKEN"] = None
        app.config["INBOUND_MAX_BYTES"] = max_bytes
    assert too_large.status_code == 413
    assert too_large.json["reason"] == (
        "the email is larger than the limit of 100 bytes (INBOUND_MAX_BYTES)"
    )
    assert short.status_code == 422
    assert short.json["reason"].startswith("the email's text is too short to record")
    assert "Enter your feedback" not in short.json["reason"]
    assert not_email.status_code == 422 and "gzip-compressed" in not_email.json["reason"]
    assert bounce.status_code == 202 and "Return-Path: <>" in bounce.json["reason"]
    assert count() == 0


def _drain(controller: int) -> str:
    """Everything written to a pseudo-terminal whose other end is closed."""
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the terminal end is closed and everything was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return b"".join(chunks).decode()


def test_a_progress_bar_on_a_terminal_once_an_import_takes_a_while(tmp_path):
    path = tmp_path / "box.mbox"
    _mbox(path, [NO_ID] * 5)
    ticks = iter(range(100))
    lines = mail_cli._DroppedLines()
    controller, terminal = pty.openpty()
    with os.fdopen(terminal, "w") as stream:
        read = list(
            mail_cli._with_progress(
                mailboxes.iter_messages(path),
                path,
                lines,
                stream=stream,
                after=3,
                clock=lambda: next(ticks),  # one "second" a message
            )
        )
    drawn = _drain(controller)
    assert len(read) == 5
    assert f"Importing {path}" in drawn and "3/5" in drawn and "5/5" in drawn
    assert "1/5" not in drawn  # nothing drawn before the import had run 3 "seconds"
    assert lines.holding  # lines wait for the bar to finish (the command releases them)


def test_no_progress_bar_off_a_terminal_or_for_a_short_import(tmp_path):
    path = tmp_path / "box.mbox"
    _mbox(path, [NO_ID] * 3)
    lines = mail_cli._DroppedLines()
    # stderr is captured by pytest: not a terminal, so no bar
    quiet = list(mail_cli._with_progress(mailboxes.iter_messages(path), path, lines))
    assert len(quiet) == 3 and not lines.holding
    controller, terminal = pty.openpty()
    with os.fdopen(terminal, "w") as stream:
        quick = list(
            mail_cli._with_progress(
                mailboxes.iter_messages(path), path, lines, stream=stream, clock=lambda: 0.0
            )
        )
    assert _drain(controller) == ""
    assert len(quick) == 3 and not lines.holding


# 9. Bounces by structure and headers; limits keep what was read ---------------------------


@pytest.mark.parametrize(
    ("extra", "kind"),
    [
        (b"", "genuine"),
        (b"Return-Path: <>\r\n", "bounce"),
        (b"Return-Path: <jo@example.org>\r\n", "genuine"),
        (b"X-Failed-Recipients: a@example.net\r\n", "bounce"),
        (b"Auto-Submitted: auto-generated\r\n", "auto_reply"),
        (b"Auto-Submitted: no\r\n", "genuine"),
        (b"Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n", "bounce"),
        (
            b"Content-Type: multipart/report; report-type=disposition-notification; boundary=r\r\n",
            "auto_reply",
        ),
    ],
)
def test_kinds_by_structure_and_headers(extra, kind):
    assert parse_message(HEAD + extra + b"\r\n" + LETTER).kind == kind


@pytest.mark.parametrize(
    "local", [b"postmaster", b"Postmaster", b"mailer-daemon", b"MAILER-DAEMON"]
)
def test_a_mail_system_address_alone_does_not_make_a_bounce(local):
    raw = HEAD.replace(b"jo@example.org", local + b"@council.example.org") + b"\r\n" + LETTER
    assert parse_message(raw).kind == "genuine"


def test_an_old_style_bounce_from_mailer_daemon_is_still_recognised():
    raw = (
        HEAD.replace(b"jo@example.org", b"MAILER-DAEMON@mx.example.org").replace(
            b"Subject: Views", b"Subject: Undelivered Mail Returned to Sender"
        )
        + b"\r\n"
        + LETTER
    )
    assert parse_message(raw).kind == "bounce"


def test_mail_from_postmaster_is_stored_and_from_mailer_daemon_not_acknowledged(app):
    for number, local in enumerate((b"postmaster", b"mailer-daemon")):
        raw = (
            HEAD.replace(b"jo@example.org", local + b"@council.example.org")
            + b"Message-ID: <daemon-%d@example.org>\r\n\r\n" % number
            + LETTER
        )
        assert inbound.ingest(raw).result == inbound.IMPORTED
    assert count() == 2
    assert db.session.scalars(select(OutboxMessage.recipient)).all() == [
        "postmaster@council.example.org"
    ]


def nested(levels: int) -> bytes:
    body = b""
    for n in range(levels):
        body += b'Content-Type: multipart/mixed; boundary="l%d"\r\n\r\n--l%d\r\n' % (n, n)
        body += b"Content-Type: text/plain\r\n\r\nLevel %d of the letter.\r\n--l%d\r\n" % (n, n)
    body += b"Content-Type: text/plain\r\n\r\nThe deepest level.\r\n"
    body += b"".join(b"--l%d--\r\n" % n for n in reversed(range(levels)))
    return HEAD + b"Message-ID: <nested-%d@example.org>\r\n" % levels + body


@pytest.mark.parametrize("levels", [12, 3000])  # past the limit; past Python's stack
def test_a_deeply_nested_message_keeps_what_was_read_and_is_marked(app, levels):
    parsed = parse_message(nested(levels), limits=ParseLimits(max_depth=10))
    assert parsed.text.startswith("Level 0 of the letter.\n\nLevel 1 of the letter.")
    assert "Level 9 of the letter." in parsed.text and "deepest" not in parsed.text
    assert "nested" in parsed.truncated
    assert inbound.ingest(nested(levels)).result == inbound.IMPORTED
    item = db.session.scalar(select(FeedbackItem))
    assert item.text.startswith("Level 0 of the letter.")
    assert "[Part of this email was not read: its MIME parts are nested" in item.text


def test_within_the_limits_nothing_is_marked():
    parsed = parse_message(nested(3))
    assert parsed.truncated is None and "The deepest level." in parsed.text


def test_parse_limits_come_from_the_configuration(app):
    app.config["INBOUND_MAX_PARTS"] = 5
    try:
        raw = multipart(
            b"p",
            *(b"Content-Type: text/plain\r\n\r\nPart %d of my letter." % n for n in range(8)),
        )
        raw = raw.replace(b"Subject: Views", b"Subject: Views\r\nMessage-ID: <parts@x>")
        assert inbound.ingest(raw).result == inbound.IMPORTED
    finally:
        app.config.pop("INBOUND_MAX_PARTS")
    item = db.session.scalar(select(FeedbackItem))
    assert "Part 3 of my letter." in item.text and "Part 4 of my letter." not in item.text
    assert item.text.endswith(
        "[Part of this email was not read: it has more than 5 MIME parts; the rest was not read.]"
    )


def test_parsing_never_leaves_surrogates_or_controls():
    raw = (
        b"From: \xff\xfe <a@example.org>\r\nTo: engage@engage.example.org\r\n"
        b"Subject: \xc3\x28 \x1b[31m\r\n\r\ncaf\xe9 \xff \x1b[0m and more text here\r\n"
    )
    parsed = parse_message(raw)
    for value in (parsed.text, parsed.subject, parsed.sender_name):
        value.encode("utf-8")  # no lone surrogates
        assert not any(ord(char) < 32 and char not in "\n\t" for char in value)
