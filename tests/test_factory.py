"""The app factory, configuration and site-wide plumbing."""

import base64
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engage import config, create_app

ROOT = Path(__file__).resolve().parent.parent
ENGAGE = str(Path(sys.executable).with_name("engage"))


def test_config_overrides_environment(app):
    assert app.testing
    assert app.config["SECRET_KEY"] == "test-secret"


def test_secret_key_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = config.secret_key(tmp_path)
    assert len(first) == 64
    assert config.secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_secret_key_from_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert config.secret_key(tmp_path) == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_default_database_is_sqlite_in_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert config.database_url(tmp_path) == f"sqlite:///{tmp_path / 'engage.db'}"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_postgres_urls_use_psycopg3(given, expected, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", given)
    assert config.database_url(tmp_path) == expected


@pytest.mark.parametrize("bad", ["not a url", "mysql://u@h/db", "://"])
def test_bad_database_url_raises_config_error(bad, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", bad)
    with pytest.raises(config.ConfigError, match="DATABASE_URL"):
        config.database_url(tmp_path)


def test_instance_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_INSTANCE_PATH", str(tmp_path / "two"))
    assert config.instance_path() == (tmp_path / "two").resolve()


def _engage(*args, env_extra=None, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY"}}
    env["ENGAGE_INSTANCE_PATH"] = str(tmp_path)
    env.update(env_extra or {})
    return subprocess.run(
        [ENGAGE, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def test_broken_database_url_is_one_clear_line(tmp_path):
    result = _engage("db", "upgrade", env_extra={"DATABASE_URL": "nonsense://"}, tmp_path=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_clear_line(tmp_path):
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    result = _engage("db", "upgrade", env_extra={"DATABASE_URL": url}, tmp_path=tmp_path)
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_not_yet_migrated_says_to_upgrade(tmp_path):
    # An outside review (round 21) was told it could not reach a database it had reached.
    result = _engage("models", "list", tmp_path=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "run `engage db upgrade` first" in lines[0]
    assert "cannot reach" not in lines[0]


def test_a_redis_url_that_is_not_one_is_one_clear_line(tmp_path):
    result = _engage("models", "list", env_extra={"REDIS_URL": "notaurl"}, tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "engage: configuration error: REDIS_URL must be a redis://, rediss:// or unix:// "
        "address, got 'notaurl'"
    ]


def test_engage_help_lists_commands(tmp_path):
    result = _engage("--help", tmp_path=tmp_path)
    assert result.returncode == 0
    for command in ("db", "demo", "run"):
        assert f"  {command} " in result.stdout


def test_two_instances_side_by_side(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("ENGAGE_INSTANCE_PATH", str(tmp_path / "a"))
    first = create_app()
    monkeypatch.setenv("ENGAGE_INSTANCE_PATH", str(tmp_path / "b"))
    second = create_app()
    assert first.config["SQLALCHEMY_DATABASE_URI"] != second.config["SQLALCHEMY_DATABASE_URI"]
    assert first.config["SECRET_KEY"] != second.config["SECRET_KEY"]
    assert first.instance_path == str((tmp_path / "a").resolve())


def test_healthz_says_the_process_is_alive(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_nhsuk_assets_served(client):
    with client.get("/assets/images/favicon.svg") as icon:
        assert icon.status_code == 200
    with client.get("/static/nhsuk/nhsuk-frontend.min.css") as css:
        assert css.status_code == 200
        assert b"nhsuk-header" in css.data


def test_unknown_page_is_nhsuk_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert b"Page not found" in response.data
    assert b"nhsuk-header" in response.data


def test_unexpected_error_is_friendly_500(app):
    fresh = create_app(
        {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "x"}
    )

    @fresh.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret internals")

    response = fresh.test_client().get("/boom-for-test")
    assert response.status_code == 500
    assert b"secret internals" not in response.data
    assert b"problem with the service" in response.data


def test_security_headers_and_script_hash(client, app):
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    # The page's one inline script (NHS.UK's js-enabled switch) is allowed by its hash.
    script = re.search(r"<script>(.*?)</script>", response.get_data(as_text=True), re.S)
    assert script and "js-enabled" in script.group(1)
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_in_production(app):
    fresh = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": "x",
            "ENGAGE_ENV": "production",
            "ENGAGE_BASE_URL": "https://localhost",  # the test client's host
        }
    )
    with fresh.test_client() as client, client.get("/assets/images/favicon.svg") as response:
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
