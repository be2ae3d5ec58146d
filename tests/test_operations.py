"""Operations (issue #26): /healthz, /readyz, request ids, JSON logs and /metrics."""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from engage import create_app, observability
from engage.extensions import db
from engage.feedback.models import Channel
from engage.feedback.service import Submission, submit
from engage.web import migration_heads
from tests.databases import fresh_database
from tests.test_deployment import made_app

TOKEN = "metrics-test-token-0123456789"


def test_healthz_is_alive_without_asking_the_database(app):
    client = app.test_client()
    with made_app(app, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/x") as down:
        alive = down.test_client().get("/healthz")
        assert alive.status_code == 200 and alive.json == {"status": "ok"}
        ready = down.test_client().get("/readyz")
        assert ready.status_code == 503
        assert ready.json["checks"]["database"] == "unreachable"
        assert "database" in ready.json["failed"]
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_names_migrations_not_run(app):
    # The suite's database is made with create_all(): no migration was ever recorded.
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "ok"
    assert response.json["failed"] == ["migrations"]
    assert "engage db upgrade" in response.json["checks"]["migrations"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture
def migrated(tmp_path):
    """An app on a database brought to the head by the migrations."""
    with fresh_database(tmp_path) as url:
        made = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "TESTING": True, "REDIS_URL": None}
        )
        with made.app_context():
            upgrade()
            db.session.remove()
        yield made
        with made.app_context():
            db.session.remove()
            db.engine.dispose()


def test_readyz_ok_at_head_and_names_a_database_behind(migrated):
    client = migrated.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok"},
        "failed": [],
    }
    with migrated.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = 'older'"))
        db.session.commit()
    behind = client.get("/readyz")
    assert behind.status_code == 503 and behind.json["failed"] == ["migrations"]
    assert "older" in behind.json["checks"]["migrations"]
    assert migration_heads()[0] in behind.json["checks"]["migrations"]


def test_readyz_checks_redis_when_configured(migrated):
    migrated.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    down = migrated.test_client().get("/readyz")
    assert down.status_code == 503
    assert down.json["checks"]["redis"] == "unreachable" and down.json["failed"] == ["redis"]
    migrated.config["REDIS_URL"] = "redis://127.0.0.1:6379/0"  # only PING is sent
    up = migrated.test_client().get("/readyz")
    assert up.status_code == 200 and up.json["checks"]["redis"] == "ok"


# --- request ids and logs --------------------------------------------------------------


def test_request_id_is_echoed_honoured_or_made(app):
    client = app.test_client()
    made = client.get("/healthz").headers["X-Request-ID"]
    other = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32 and made != other
    given = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert client.get("/", headers={"X-Request-ID": given}).headers["X-Request-ID"] == given
    # What is not an id (a log injection, say) is replaced, never logged.
    injected = 'x" {"level":"ERROR"}'
    forged = client.get("/", headers={"X-Request-ID": injected})
    assert forged.headers["X-Request-ID"] != injected
    assert len(forged.headers["X-Request-ID"]) == 32
    # Errors and refused requests carry one too.
    assert client.get("/no-such-page").headers["X-Request-ID"]


@pytest.fixture
def root_logger_restored():
    """ENGAGE_LOG_FORMAT=json replaces the root logger's handlers: put them back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    alembic_level = logging.getLogger("alembic").level
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(alembic_level)


def test_json_log_lines_carry_the_request_id(app, root_logger_restored):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(observability.JsonFormatter())
    handler.addFilter(observability.RequestIdFilter())
    with made_app(app, ENGAGE_LOG_FORMAT="json") as logged:

        @logged.get("/log-for-test")
        def log_something():
            logging.getLogger("engage.test").warning("hello %s", "there", extra={"n": 3})
            return "ok"

        for name in ("engage.test", "engage.access"):
            logging.getLogger(name).addHandler(handler)
        try:
            response = logged.test_client().get(
                "/log-for-test", headers={"X-Request-ID": "req-abcdef123456"}
            )
        finally:
            for name in ("engage.test", "engage.access"):
                logging.getLogger(name).removeHandler(handler)
    assert response.headers["X-Request-ID"] == "req-abcdef123456"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    said = next(line for line in lines if line["logger"] == "engage.test")
    assert said["message"] == "hello there" and said["level"] == "WARNING"
    assert said["request_id"] == "req-abcdef123456" and said["n"] == 3
    access = next(line for line in lines if line["logger"] == "engage.access")
    assert access["request_id"] == "req-abcdef123456"
    assert access["route"] == "/log-for-test" and access["status"] == 200
    assert access["duration_ms"] >= 0
    # The app put one JSON handler on the root logger; configuring again adds none.
    observability.configure_logging("json")
    marked = [
        h
        for h in root_logger_restored.handlers
        if isinstance(h.formatter, observability.JsonFormatter)
    ]
    assert len(marked) == 1


def test_log_format_must_be_known(monkeypatch, tmp_path):
    from engage import config

    monkeypatch.setenv("ENGAGE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("ENGAGE_LOG_FORMAT", "xml")
    with pytest.raises(config.ConfigError, match="ENGAGE_LOG_FORMAT"):
        config.from_environment()
    monkeypatch.setenv("ENGAGE_LOG_FORMAT", "JSON")
    assert config.from_environment()["ENGAGE_LOG_FORMAT"] == "json"
    assert config.from_environment()["ENGAGE_METRICS_TOKEN"] is None


# --- metrics ---------------------------------------------------------------------------


def _samples(body: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric's samples in Prometheus's text format."""
    found = {}
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, _, value = line.rpartition(" ")
            found[key[len(name) :]] = float(value)
    return found


def test_metrics_are_off_by_default(app):
    assert app.config["ENGAGE_METRICS_TOKEN"] is None
    assert app.test_client().get("/metrics").status_code == 404


def test_metrics_need_the_token_and_count_from_the_database(app, make_engagement):
    engagement = make_engagement()
    for channel, n in ((Channel.WEB, 3), (Channel.API, 2)):
        for i in range(n):
            submit(
                Submission(
                    text=f"Comment {i} about {channel}",
                    channel=channel,
                    engagement_slug=engagement.slug,
                    author_email="someone@example.org",
                )
            )
    with made_app(app, ENGAGE_METRICS_TOKEN=TOKEN) as measured:
        client = measured.test_client()
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "Bearer" in wrong.headers["WWW-Authenticate"]
        client.get(f"/engagements/{engagement.slug}")
        client.get("/engagements/no-such-one")
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert scraped.status_code == 200
        assert scraped.headers["Content-Type"].startswith("text/plain")
        body = scraped.get_data(as_text=True)
    received = _samples(body, "engage_feedback_received_total")
    assert received == {'{channel="api"}': 2.0, '{channel="web"}': 3.0}
    # Acknowledgements were queued in the request (the suite's setting): none owed.
    assert _samples(body, "engage_feedback_unacknowledged") == {"": 0.0}
    # No model is trained in this test: every item waits for one.
    assert _samples(body, "engage_feedback_unclassified") == {"": 5.0}
    outbox = _samples(body, "engage_outbox_messages")
    assert outbox['{status="pending"}'] == 5.0 and outbox['{status="failed"}'] == 0.0
    # Latency by the URL rule, never the path a visitor typed.
    counts = _samples(body, "engage_http_request_duration_seconds_count")
    routes = {key for key in counts if 'route="/engagements/<slug>"' in key}
    assert routes and sum(counts[key] for key in routes) >= 2
    assert not any("no-such-one" in key for key in counts)


# --- the worker ------------------------------------------------------------------------


def test_worker_jobs_log_under_their_request_id_and_are_timed():
    from huey import MemoryHuey

    huey = MemoryHuey("ops-test", immediate=True)
    seen = []

    @huey.task()
    def job(request_id=None, fail=False):
        seen.append(observability.current_request_id())
        if fail:
            raise RuntimeError("job failed on purpose")
        return "done"

    observability.instrument_worker(huey)
    registry = observability.metrics()[0]

    def count(outcome):
        labels = {"task": "job", "outcome": outcome}
        return registry.get_sample_value("engage_worker_task_duration_seconds_count", labels) or 0

    before_complete, before_error = count("complete"), count("error")
    assert job(request_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0")() == "done"
    result = job()
    assert result() == "done"
    with pytest.raises(Exception, match="failed on purpose"):
        job(fail=True)()
    assert seen[0] == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert seen[1] == f"task-{result.id}"
    assert seen[2].startswith("task-")
    assert count("complete") == before_complete + 2
    assert count("error") == before_error + 1
    # After the job, nothing is left set for the thread's next one.
    assert observability.current_request_id() is None


def test_job_kwargs_carry_the_current_request_id(app):
    assert observability.job_kwargs() == {}
    with app.test_request_context("/"):
        token = observability.set_request_id("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
        try:
            assert observability.job_kwargs() == {"request_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
        finally:
            observability.reset_request_id(token)


def test_worker_metrics_port_serves_or_steps_aside():
    import socket
    import urllib.request

    from huey import MemoryHuey

    from tests.deployment import free_port

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        # Another worker on this machine has the port: this one runs without serving.
        assert observability.instrument_worker(MemoryHuey("a"), metrics_port=busy) is False
    port = free_port()
    assert observability.instrument_worker(MemoryHuey("b"), metrics_port=port) is True
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        body = answer.read().decode()
    assert "engage_worker_task_duration_seconds" in body
