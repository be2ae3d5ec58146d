"""Real faults: the database going away and coming back, and a corrupt model file.

The outage tests run a separate app (not in testing mode, so errors are handled as in
production) on a database of its own, of the kind the suite runs on, and take that
database away for real:

- PostgreSQL: ``ALTER DATABASE … ALLOW_CONNECTIONS false`` and ``pg_terminate_backend``
  on its sessions; every pooled connection dies and new ones are refused, exactly as
  when the server restarts or fails over. Restoring is ``ALLOW_CONNECTIONS true``.
- SQLite: the database file is moved away and a directory put in its place, so
  opening it fails ("unable to open database file"). A connection SQLite already
  holds keeps reading the moved file (that is how open files work), so the pool is
  emptied when the file goes, as a recycled worker would. Restoring moves it back.

The app is never restarted: it must answer 503 while the database is away and work
again as soon as it is back.

The corrupt-model tests complement tests/classify/test_service.py (which checks the
service layer): here the damaged file meets the web form, the partner API, the staff
item page and `engage classify`, and a retrained model picks up what waited.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from flask_migrate import stamp
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from engage import create_app
from engage.classify import service as classify
from engage.classify.models import ModelVersion
from engage.cli import cli
from engage.extensions import db
from engage.feedback.models import FeedbackItem
from engage.feedback.service import ensure_default_themes
from engage.staff.models import Role
from tests.databases import fresh_database
from tests.partners import create_partner

PASSWORD = "correct horse battery staple"
# What a clean error page must never show.
LEAKS = re.compile(r"Traceback|OperationalError|sqlite3|psycopg|SELECT |File \"", re.I)


class Outage:
    """Take the app's database away for real, and bring it back."""

    def __init__(self, app):
        self.app = app
        self.url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        self.down = False

    def _admin(self):
        return create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def start(self) -> None:
        if self.url.get_backend_name() == "postgresql":
            admin = self._admin()
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{self.url.database}" ALLOW_CONNECTIONS false'))
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": self.url.database},
                )
            admin.dispose()
        else:
            path = Path(self.url.database)
            path.rename(path.with_suffix(".away"))
            path.mkdir()
            with self.app.app_context():
                db.engine.dispose()
        self.down = True

    def end(self) -> None:
        if not self.down:
            return
        if self.url.get_backend_name() == "postgresql":
            admin = self._admin()
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{self.url.database}" ALLOW_CONNECTIONS true'))
            admin.dispose()
        else:
            path = Path(self.url.database)
            path.rmdir()
            path.with_suffix(".away").rename(path)
        self.down = False


@pytest.fixture
def standalone(instance_dir, tmp_path):
    """An app as in production (no testing mode) on a database of its own."""
    with fresh_database(tmp_path) as url:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "faults",
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "SERVER_NAME": "localhost",
                "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": 1,
                "MAIL_TIMEOUT": 2,
                "ENGAGE_MODEL_DIR": str(tmp_path / "models"),
                # Every request asks the database for the public version, so each one
                # meets the outage; test_stored_pages_outlive_a_short_outage covers
                # the production default.
                "ENGAGE_PAGE_VERSION_MAX_AGE": 0,
            }
        )
        with app.app_context():
            from engage.engagements.models import Engagement
            from engage.staff import accounts

            db.create_all()
            stamp()  # the schema is the migrations' head: /readyz reports the database
            ensure_default_themes()
            db.session.add(
                Engagement(
                    slug="case-for-change",
                    title="Case for change",
                    summary="s",
                    body="b",
                    organisation="NHS Test",
                    opens_on=date(2019, 5, 28),
                    closes_on=date(2099, 8, 24),
                    areas=["Brent", "Harrow"],
                )
            )
            accounts.create_staff(
                email="triager@nhs.example", role=Role.TRIAGER, password=PASSWORD, name="T"
            )
            db.session.commit()
            app.partner_token = create_partner("Healthwatch Harrow")[1]
        outage = Outage(app)
        try:
            yield app, outage
        finally:
            outage.end()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def stored_items(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(FeedbackItem))
        db.session.remove()
        return count


def feedback_form(client, text="The merger will take decisions away from Harrow."):
    return client.post("/engagements/case-for-change/feedback", data={"text": text, "area": ""})


def assert_clean_503(response, what):
    assert response.status_code == 503, (what, response.status_code)
    body = response.get_data(as_text=True)
    assert not LEAKS.search(body), (what, body[:500])
    assert response.headers["Content-Security-Policy"], what
    if response.mimetype == "text/html":
        assert "Sorry, the service is unavailable" in body, what
        assert "nhsuk-header" in body, what  # the styled page, not a bare error


def test_database_outage_gives_503_and_recovers_without_restart(standalone):
    app, outage = standalone
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    assert feedback_form(client).status_code == 303
    assert stored_items(app) == 1

    outage.start()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["checks"]["database"] == "unreachable"
    assert ready.json["failed"] == ["database", "migrations"]
    # Alive all the same: a supervisor must not restart processes for the database.
    assert client.get("/healthz").status_code == 200
    token = {"Authorization": f"Bearer {app.partner_token}"}
    tracking = {"reference": "YS-2026-000001", "author_email": "a@example.org"}
    for what, response in [
        ("home", client.get("/")),
        ("engagement", client.get("/engagements/case-for-change")),
        ("feedback form", feedback_form(client, "Sent while the database was away.")),
        ("track", client.post("/track", data=tracking)),
        ("public log", client.get("/you-said-we-did?q=harrow")),
        ("open data", client.get("/open-data/feedback-counts.csv")),
        ("public API", client.get("/api/v1/responses")),
        ("partner API", client.post("/api/v1/feedback", json={"text": "x" * 20}, headers=token)),
        ("sign-in", client.post("/staff/sign-in", data={"email": "t@x.org", "password": "p"})),
    ]:
        assert_clean_503(response, what)
    assert client.get("/readyz").status_code == 503  # still down, still answering

    outage.end()
    # Back without a restart: the pool replaces the connections that died.
    assert client.get("/readyz").json["checks"] == {"database": "ok", "migrations": "ok"}
    assert client.get("/").status_code == 200
    assert feedback_form(client, "Sent once the database was back.").status_code == 303
    # Exactly what was accepted is stored: nothing from the outage, nothing twice.
    assert stored_items(app) == 2


def test_outage_during_a_burst_of_requests_never_gives_500(standalone):
    app, outage = standalone
    client = app.test_client()
    statuses = []
    for round_ in range(3):
        statuses += [client.get("/").status_code, feedback_form(client).status_code]
        outage.start()
        statuses += [client.get("/").status_code, feedback_form(client).status_code]
        statuses.append(client.get("/readyz").status_code)
        outage.end()
        statuses.append(client.get("/readyz").status_code)
    assert 500 not in statuses
    assert statuses.count(503) == 9 and stored_items(app) == 3


def test_stored_pages_outlive_a_short_outage(standalone):
    """A public page stored just before the outage is still served while the version
    read is trusted; what needs the database (the form) gets a clean 503."""
    app, outage = standalone
    app.config["ENGAGE_PAGE_VERSION_MAX_AGE"] = 60
    client = app.test_client()
    before = client.get("/you-said-we-did")
    assert before.status_code == 200
    outage.start()
    during = client.get("/you-said-we-did")
    assert during.status_code == 200 and during.get_data() == before.get_data()
    assert_clean_503(feedback_form(client), "feedback form")
    outage.end()
    assert feedback_form(client).status_code == 303


def test_signed_in_staff_get_a_clean_503(standalone):
    app, outage = standalone
    client = app.test_client()
    login = client.post(
        "/staff/sign-in", data={"email": "triager@nhs.example", "password": PASSWORD}
    )
    assert login.status_code == 302
    assert client.get("/staff/inbox").status_code == 200
    outage.start()
    assert_clean_503(client.get("/staff/inbox"), "staff inbox")
    assert_clean_503(client.get("/"), "home, signed in")
    outage.end()
    assert client.get("/staff/inbox").status_code == 200


# A corrupt model file ---------------------------------------------------------------


@pytest.fixture
def corrupt_model(trained, model_dir, corpus):
    """A trained, active model whose file has then been overwritten with garbage."""
    row = db.session.scalar(select(ModelVersion).where(ModelVersion.active.is_(True)))
    (model_dir / row.file_name).write_bytes(b"\x00garbage, not a skops file\xff" * 64)
    classify._cache.clear()  # as in a process started after the file was damaged
    return {"version": trained.version, "corpus": corpus}


def test_corrupt_model_feedback_is_stored_unclassified(
    app, client, make_engagement, signed_in, corrupt_model
):
    engagement = make_engagement()
    response = client.post(
        f"/engagements/{engagement.slug}/feedback",
        data={"text": "The deficit means cuts to the budget for Harrow.", "area": ""},
    )
    assert response.status_code == 303
    assert client.get(response.location).status_code == 200  # the reference page
    token = create_partner("Healthwatch Brent")[1]
    api = client.post(
        "/api/v1/feedback",
        json={"text": "Money is tight and the budget is shrinking."},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 201
    db.session.expire_all()
    items = db.session.scalars(select(FeedbackItem)).all()
    assert len(items) == 2
    assert all(i.classified_at is None and i.tags == [] for i in items)
    # The worker's sweep leaves them waiting rather than failing.
    assert classify.classify_pending() == 0
    # Staff can still open the item (the model's explanation is simply left out).
    staff = signed_in(Role.TRIAGER)
    page = staff.get(f"/staff/items/{items[0].id}")
    assert page.status_code == 200 and "The deficit means cuts" in page.get_data(as_text=True)

    # A good model again: the waiting items are classified, nothing was lost.
    classify.train_model(corpus=[corrupt_model["corpus"]], force=True)
    db.session.commit()
    assert classify.classify_pending() == 2
    db.session.expire_all()
    assert all(i.classified_at is not None for i in db.session.scalars(select(FeedbackItem)))


def test_corrupt_model_classify_command_gives_a_clear_error(app, runner, corrupt_model):
    for args in (["classify", "The budget is too small"], ["classify", "x", "--json"]):
        out = runner.invoke(cli, args)
        assert out.exit_code == 1, out.output
        assert "Traceback" not in out.output
        lines = out.output.strip().splitlines()
        assert len(lines) == 1, out.output
        assert lines[0].startswith("Error: The model file for ")
        assert corrupt_model["version"] in lines[0] and "cannot be used" in lines[0]
