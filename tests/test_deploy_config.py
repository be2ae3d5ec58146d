"""The shipped production files (deploy/) are valid and agree with the app's settings."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from engage import config
from tests.deployment import (
    DEPLOY,
    NGINX,
    NGINX_SITE,
    ROOT,
    make_certificate,
    nginx_test,
    write_nginx,
)


@pytest.fixture(autouse=True)
def _nginx_installed():
    """nginx is installed by `make test` (system-deps): its absence fails, not skips."""
    if not shutil.which(NGINX):
        pytest.fail("nginx is not installed (make system-deps installs nginx-light)")


@pytest.fixture
def rendered(tmp_path):
    cert, key = make_certificate(tmp_path)
    return write_nginx(
        tmp_path / "nginx",
        upstreams=[18001, 18002],
        http_port=18080,
        https_port=18443,
        cert=cert,
        key=key,
    )


def test_nginx_accepts_the_shipped_site(rendered):
    checked = nginx_test(rendered)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr


def test_nginx_refuses_a_broken_site(rendered):
    """The check above can fail: a site with an unknown directive is refused."""
    site = rendered.parent / "engage.conf"
    site.write_text(site.read_text().replace("keepalive 32;", "keepalive_nonsense 32;"))
    checked = nginx_test(rendered)
    assert checked.returncode != 0 and "keepalive_nonsense" in checked.stderr


def _directives(name: str) -> list[str]:
    text = re.sub(r"#.*", "", NGINX_SITE.read_text())
    return re.findall(rf"^\s*{name}\s+([^;]+);", text, re.M)


def _size(value: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    value = value.strip().lower()
    return int(value[:-1]) * units[value[-1]] if value[-1] in units else int(value)


def test_body_limit_matches_max_content_length(monkeypatch, tmp_path):
    monkeypatch.setenv("ENGAGE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("MAX_CONTENT_LENGTH", raising=False)
    limits = _directives("client_max_body_size")
    assert limits and {_size(v) for v in limits} == {
        config.from_environment()["MAX_CONTENT_LENGTH"]
    }


def test_proxy_headers_match_one_trusted_proxy():
    headers = dict(v.split(None, 1) for v in _directives("proxy_set_header"))
    # ProxyFix with ENGAGE_TRUSTED_PROXIES=1 believes the last X-Forwarded-For entry:
    # nginx appends the address it saw, whatever the client sent.
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["X-Request-ID"] == "$request_id"
    assert headers["Host"] == "$host"
    assert "ENGAGE_TRUSTED_PROXIES=1" in NGINX_SITE.read_text()
    env = (ROOT / ".env.example").read_text()
    assert re.search(r"^ENGAGE_TRUSTED_PROXIES=1$", env, re.M)


def test_env_example_names_only_settings_the_code_reads():
    env = (ROOT / ".env.example").read_text()
    names = re.findall(r"^([A-Z][A-Z0-9_]+)=", env, re.M)
    assert "ENGAGE_METRICS_TOKEN" in names and "ENGAGE_LOG_FORMAT" in names
    readers = "".join(
        path.read_text() for path in (ROOT / "engage" / "config.py", DEPLOY / "gunicorn.conf.py")
    )
    unknown = [name for name in names if f'"{name}"' not in readers]
    assert unknown == []


def _unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as {section: {key: [values, in order]}} (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def test_systemd_units_run_the_shipped_commands():
    web = _unit("engage-web@.service")["Service"]
    assert web["ExecStart"][0].endswith("gunicorn -c /opt/engage/app/deploy/gunicorn.conf.py")
    assert "GUNICORN_BIND=127.0.0.1:%i" in web["Environment"]
    assert "PROMETHEUS_MULTIPROC_DIR=/run/engage-web-%i" in web["Environment"]
    assert web["RuntimeDirectory"] == ["engage-web-%i"]
    assert web["EnvironmentFile"] == ["/etc/engage/engage.env"]
    worker = _unit("engage-worker.service")["Service"]
    assert worker["ExecStart"][0].endswith("engage worker --workers 2")
    assert worker["EnvironmentFile"] == ["/etc/engage/engage.env"]
    purge = _unit("engage-purge.service")["Service"]
    assert purge["Type"] == ["oneshot"] and "engage purge" in purge["ExecStart"][0]
    backup = _unit("engage-backup.service")["Service"]
    assert "deploy/backup.sh engage" in backup["ExecStart"][0]
    for timer in ("engage-purge.timer", "engage-backup.timer"):
        [calendar] = _unit(timer)["Timer"]["OnCalendar"]
        if shutil.which("systemd-analyze"):
            parsed = subprocess.run(
                ["systemd-analyze", "calendar", calendar], capture_output=True, text=True
            )
            assert parsed.returncode == 0, parsed.stderr
            assert "Next elapse" in parsed.stdout


def test_gunicorn_config_reads_the_environment(tmp_path):
    script = (
        "import runpy, json; c = runpy.run_path('deploy/gunicorn.conf.py');"
        "print(json.dumps([c['bind'], c['workers'], c['wsgi_app'], c['preload_app'],"
        " 'logconfig_dict' in c]))"
    )
    env = {"PATH": "/usr/bin:/bin", "GUNICORN_BIND": "127.0.0.1:8123", "GUNICORN_WORKERS": "3",
           "ENGAGE_LOG_FORMAT": "json"}  # fmt: skip
    import json
    import sys

    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [["127.0.0.1:8123"], 3, "wsgi:app", True, True]
