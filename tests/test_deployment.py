"""Where the app runs (issue #20): allowed hosts, trusted proxies, __Host- cookies and
the development base URL."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from flask import request

from engage import config, create_app
from engage.extensions import db, limiter
from engage.staff.models import Role
from tests.staffing import PASSWORD


@contextmanager
def made_app(app, **overrides):
    """A second app on the test database with ``overrides``; its pool closed after."""
    values = {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "deployment-test",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "ENGAGE_POST_COMMIT_IN_WORKER": False,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": 1,
        "MAIL_TIMEOUT": 2,
    }
    values.update(overrides)
    made = create_app(values)
    try:
        yield made
    finally:
        with made.app_context():
            db.session.remove()
            db.engine.dispose()
        limiter.enabled = app.config["RATELIMIT_ENABLED"]
        limiter.reset()


# --- allowed hosts -------------------------------------------------------------------


def test_production_refuses_a_foreign_host(app, make_engagement):
    make_engagement(slug="case-for-change")
    with made_app(
        app, ENGAGE_ENV="production", ENGAGE_BASE_URL="https://engage.example.nhs.uk"
    ) as production:
        client = production.test_client()
        ours = {"Host": "engage.example.nhs.uk"}
        for path in (
            "/",
            "/you-said-we-did/feed.atom",
            "/api/v1/responses",
            "/engagements/case-for-change/report",
        ):
            refused = client.get(path, headers={"Host": "evil.example"}, base_url="https://x")
            assert refused.status_code == 400, path
            assert "evil.example" not in refused.get_data(as_text=True)
            assert client.get(path, headers=ours).status_code == 200, path
        api = client.get("/api/v1/responses", headers={"Host": "evil.example"})
        assert api.mimetype == "application/problem+json" and api.json["status"] == 400
        # With a port, as a browser may send it: the port is not part of the check.
        assert client.get("/", headers={"Host": "engage.example.nhs.uk:443"}).status_code == 200
        assert client.get("/", headers={"Host": "sub.engage.example.nhs.uk"}).status_code == 400
        # A POST is refused before rate limits, sessions or the database see it.
        post = client.post(
            "/engagements/case-for-change/feedback",
            headers={"Host": "evil.example"},
            data={"text": "x"},
        )
        assert post.status_code == 400
        # The health check answers a probe on the machine, whatever the host.
        health = client.get("/healthz", headers={"Host": "127.0.0.1:8000"})
        assert health.status_code == 200 and health.json["status"] == "ok"


def test_allowed_hosts_can_be_listed(app):
    with made_app(
        app,
        ENGAGE_ENV="production",
        ENGAGE_BASE_URL="https://engage.example.nhs.uk",
        ENGAGE_ALLOWED_HOSTS=["engage.example.nhs.uk", ".nwl.example"],
    ) as production:
        client = production.test_client()
        for host, status in (
            ("engage.example.nhs.uk", 200),
            ("consult.nwl.example", 200),
            ("nwl.example", 200),
            ("evil.example", 400),
            ("nwl.example.evil.example", 400),
        ):
            assert client.get("/", headers={"Host": host}).status_code == status, host


def test_development_answers_any_host_unless_told(app):
    client = app.test_client()
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 200
    with made_app(app, ENGAGE_ALLOWED_HOSTS=["localhost"]) as strict:
        assert strict.test_client().get("/", headers={"Host": "evil.example"}).status_code == 400
        assert strict.test_client().get("/").status_code == 200


# --- proxies -------------------------------------------------------------------------

PROXY = {"REMOTE_ADDR": "10.0.0.2"}


def _post_until_limited(client, slug, forwarded_for, *, times):
    """Post the feedback form ``times`` times as one client; return the statuses."""
    return [
        client.post(
            f"/engagements/{slug}/feedback",
            data={"text": ""},  # refused by the form, but counted by the limit
            headers={"X-Forwarded-For": forwarded_for},
            environ_base=PROXY,
        ).status_code
        for _ in range(times)
    ]


def test_behind_one_proxy_each_client_has_its_own_form_limit(app, make_engagement):
    make_engagement(slug="case-for-change")
    with made_app(app, RATELIMIT_ENABLED=True, ENGAGE_TRUSTED_PROXIES=1) as proxied:
        limiter.reset()
        client = proxied.test_client()
        first = _post_until_limited(client, "case-for-change", "203.0.113.1", times=11)
        assert 429 not in first[:10] and first[10] == 429
        # Another resident behind the same proxy is not held up by the first.
        second = _post_until_limited(client, "case-for-change", "203.0.113.2", times=3)
        assert 429 not in second
        # A client cannot slip past by claiming an address: only the last hop counts.
        spoofed = _post_until_limited(
            client, "case-for-change", "198.51.100.9, 203.0.113.1", times=1
        )
        assert spoofed == [429]


def test_without_trusted_proxies_the_header_is_ignored(app, make_engagement):
    make_engagement(slug="case-for-change")
    with made_app(app, RATELIMIT_ENABLED=True, ENGAGE_TRUSTED_PROXIES=0) as direct:
        limiter.reset()
        client = direct.test_client()
        first = _post_until_limited(client, "case-for-change", "203.0.113.1", times=10)
        assert 429 not in first
        # Every request came from 10.0.0.2: a different header changes nothing.
        assert _post_until_limited(client, "case-for-change", "203.0.113.2", times=1) == [429]


@pytest.mark.parametrize(
    "proxies, address, scheme", [(0, "10.0.0.2", "http"), (1, "203.0.113.7", "https")]
)
def test_the_client_address_and_scheme_come_from_the_trusted_proxy(app, proxies, address, scheme):
    with made_app(app, ENGAGE_TRUSTED_PROXIES=proxies) as made:

        @made.get("/whoami-for-test")
        def whoami():
            return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

        seen = (
            made.test_client()
            .get(
                "/whoami-for-test",
                headers={
                    "X-Forwarded-For": "203.0.113.7",
                    "X-Forwarded-Proto": "https",
                    "X-Forwarded-Host": "evil.example",
                },
                environ_base=PROXY,
            )
            .json
        )
        assert seen == {"addr": address, "scheme": scheme, "host": "localhost"}


# --- cookies -------------------------------------------------------------------------


def _set_cookies(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def test_production_cookies_use_the_host_prefix(app, make_engagement, make_staff):
    make_engagement(slug="case-for-change")
    user = make_staff(Role.TRIAGER)
    with made_app(
        app,
        ENGAGE_ENV="production",
        ENGAGE_BASE_URL="https://localhost",
        WTF_CSRF_ENABLED=True,  # the form's token puts a session cookie on a public page
        SESSION_COOKIE_SECURE=False,  # a wrong setting cannot undo the prefix's rules
        SESSION_COOKIE_DOMAIN="localhost",
    ) as production:
        assert production.config["SESSION_COOKIE_NAME"] == "__Host-session"
        client = production.test_client()
        cookies = _set_cookies(
            client.get("/engagements/case-for-change", base_url="https://localhost")
        )
        production.config["WTF_CSRF_ENABLED"] = False  # sign in without scraping the token
        signed_in = client.post(
            "/staff/sign-in",
            data={"email": user.email, "password": PASSWORD},
            base_url="https://localhost",
        )
        assert signed_in.status_code == 302
        cookies += _set_cookies(signed_in)
        assert cookies
        for cookie in cookies:
            name = cookie.split("=", 1)[0]
            attributes = [a.strip().lower() for a in cookie.split(";")[1:]]
            assert name.startswith("__Host-"), cookie
            assert "secure" in attributes and "path=/" in attributes, cookie
            assert not any(a.startswith("domain") for a in attributes), cookie
        # The renamed cookie still signs the browser in.
        inbox = client.get("/staff/inbox", base_url="https://localhost")
        assert inbox.status_code == 200


def test_development_cookies_keep_their_plain_names(app):
    assert app.config["SESSION_COOKIE_NAME"] == "session"


# --- configuration -------------------------------------------------------------------


def test_base_url_follows_the_port_make_run_serves_on(monkeypatch, tmp_path):
    monkeypatch.setenv("ENGAGE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("ENGAGE_BASE_URL", raising=False)
    monkeypatch.delenv("FLASK_RUN_HOST", raising=False)
    monkeypatch.delenv("FLASK_RUN_PORT", raising=False)
    assert config.from_environment()["ENGAGE_BASE_URL"] == "http://127.0.0.1:5000"
    monkeypatch.setenv("FLASK_RUN_PORT", "8123")
    assert config.from_environment()["ENGAGE_BASE_URL"] == "http://127.0.0.1:8123"
    monkeypatch.setenv("FLASK_RUN_HOST", "0.0.0.0")  # noqa: S104 (listening everywhere)
    assert config.from_environment()["ENGAGE_BASE_URL"] == "http://127.0.0.1:8123"
    monkeypatch.setenv("FLASK_RUN_HOST", "localhost")
    assert config.from_environment()["ENGAGE_BASE_URL"] == "http://localhost:8123"
    monkeypatch.setenv("ENGAGE_BASE_URL", "https://engage.example.nhs.uk/")
    assert config.from_environment()["ENGAGE_BASE_URL"] == "https://engage.example.nhs.uk"


def test_makefile_passes_host_and_port_to_the_server_and_the_worker():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"FLASK_RUN_HOST=\S*\$\(HOST\)", run) and "FLASK_RUN_PORT=$(PORT)" in run
    assert run.index("FLASK_RUN_PORT") < run.index("engage worker")


def test_deployment_settings_are_read_and_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("ENGAGE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("ENGAGE_ALLOWED_HOSTS", " engage.example.nhs.uk, .nwl.example ,")
    monkeypatch.setenv("ENGAGE_TRUSTED_PROXIES", "2")
    monkeypatch.setenv("ENGAGE_PAGE_CACHE_MAX_BYTES", "1048576")
    values = config.from_environment()
    assert values["ENGAGE_ALLOWED_HOSTS"] == ["engage.example.nhs.uk", ".nwl.example"]
    assert values["ENGAGE_TRUSTED_PROXIES"] == 2
    assert values["ENGAGE_PAGE_CACHE_MAX_BYTES"] == 1_048_576
    monkeypatch.setenv("ENGAGE_TRUSTED_PROXIES", "-1")
    with pytest.raises(config.ConfigError, match="ENGAGE_TRUSTED_PROXIES"):
        config.from_environment()


def test_production_will_not_start_without_a_base_url(monkeypatch, tmp_path):
    from engage.config import ConfigError, from_environment

    monkeypatch.setenv("ENGAGE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("ENGAGE_ENV", "production")
    monkeypatch.delenv("ENGAGE_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="ENGAGE_BASE_URL must be set in production"):
        from_environment()
    monkeypatch.setenv("ENGAGE_BASE_URL", "https://engage.example.nhs.uk")
    assert from_environment()["ENGAGE_BASE_URL"] == "https://engage.example.nhs.uk"


@pytest.mark.parametrize(
    "value",
    [
        "example.org",
        "engage.example.nhs.uk/",
        "ftp://engage.example.nhs.uk",
        "https://",
        "https://x.nhs.uk/?a=1",
    ],
)
def test_a_base_url_that_is_not_an_absolute_address_is_refused(monkeypatch, tmp_path, value):
    # An outside review (round 21): "example.org" made every link in feeds and emails
    # relative ("example.org/you-said-we-did/14"), with no word at start-up.
    monkeypatch.setenv("ENGAGE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("ENGAGE_BASE_URL", value)
    with pytest.raises(config.ConfigError, match="ENGAGE_BASE_URL must be an absolute address"):
        config.from_environment()
    monkeypatch.setenv("ENGAGE_BASE_URL", "https://engage.example.nhs.uk/nwl/")
    assert config.from_environment()["ENGAGE_BASE_URL"] == "https://engage.example.nhs.uk/nwl"
