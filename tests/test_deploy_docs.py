"""docs/deploy.md, followed on this machine's PostgreSQL as far as it can run here.

The blocks marked ``<!-- test: NAME -->`` are read from the document and run with
bash, with this machine's folders and a database and role of the test's own in place of
the document's (each replacement must be found, so the document cannot drift from what
runs). A web node is started as its systemd unit starts it (the unit's ExecStart and
Environment lines, through deploy/run-with-env and an environment file made from
.env.example). Not run: apt, systemctl, certbot, git and pip.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import TEST_DATABASE_URL
from tests.deployment import (
    BIN,
    DEPLOY,
    ROOT,
    Process,
    flush_redis_db,
    free_port,
    free_redis_db,
    request,
    wait_ready,
)

DOC = ROOT / "docs" / "deploy.md"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not TEST_DATABASE_URL.startswith("postgresql"),
        reason="docs/deploy.md sets up PostgreSQL; this runs in `make test-postgres`",
    ),
]


def doc_blocks() -> dict[str, str]:
    blocks = dict(re.findall(r"<!-- test: ([\w-]+) -->\n```sh\n(.*?)```", DOC.read_text(), re.S))
    assert set(blocks) >= {"engage-command", "database", "migrate", "backup", "restore", "upgrade"}
    return blocks


def replace(script: str, old: str, new: str) -> str:
    assert old in script, f"docs/deploy.md no longer has {old!r}"
    return script.replace(old, new)


def names(script: str, database: str) -> str:
    """The document's database and role, both ``engage``, as the test's own."""
    script = script.replace("engage_restored", f"{database}_restored")
    script = script.replace("/engage-*.dump", f"/{database}-*.dump")
    return re.sub(r"(?<![\w/.-])engage(?![\w/.-])", database, script)


@pytest.fixture
def machine(tmp_path):
    """The names and folders standing in for the document's, removed afterwards."""
    database = f"engage_docs_{uuid.uuid4().hex[:8]}"
    redis_db = free_redis_db()
    if redis_db is None:
        pytest.skip("no empty Redis database number (1-15)")
    server = make_url(TEST_DATABASE_URL)
    env_file = tmp_path / "engage.env"
    settings = (ROOT / ".env.example").read_text()
    overrides = {
        "DATABASE_URL": f"postgresql+psycopg://{database}@{server.host}:{server.port}/{database}",
        "ENGAGE_INSTANCE_PATH": str(tmp_path / "instance"),
        "ENGAGE_MODEL_DIR": str(tmp_path / "instance" / "models"),
        "SECRET_KEY": uuid.uuid4().hex,
        "ENGAGE_METRICS_TOKEN": "docs-metrics-token",
        # The queue and limits on a Redis database number of the test's own.
        "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
    }
    for key, value in overrides.items():
        settings = re.sub(rf"^{key}=.*$", f"{key}={value}", settings, flags=re.M)
    env_file.write_text(settings)
    values = {
        "database": database,
        "env_file": env_file,
        "backups": tmp_path / "backups",
        "shell_env": {
            "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
            "PGHOST": server.host or "127.0.0.1",
            "PGPORT": str(server.port or 5432),
            "PGUSER": server.username or "postgres",
            "HOME": str(tmp_path),
            "PYTHONPATH": str(ROOT),
        },
        "folder": tmp_path,
    }
    yield values
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in (f"{database}_restored", database):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'DROP ROLE IF EXISTS "{database}"'))
    admin.dispose()
    flush_redis_db(redis_db)


def localise(script: str, machine) -> str:
    """The document's paths as this machine's."""
    for old, new in (
        ("sudo -u postgres ", ""),
        ("sudo -u engage ", ""),
        ("/opt/engage/app", str(ROOT)),
        ("/opt/engage/venv/bin/", f"{BIN}/"),
        ("/etc/engage/engage.env", str(machine["env_file"])),
        ("/var/backups/engage", str(machine["backups"])),
    ):
        script = script.replace(old, new)
    return script


def run(script: str, machine) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=machine["folder"],
        env=machine["shell_env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done.stdout


def start_web_unit(port: int, machine) -> Process:
    """engage-web@PORT as systemd would start it: its Environment lines and ExecStart,
    with the environment file read by deploy/run-with-env."""
    unit = (DEPLOY / "systemd" / "engage-web@.service").read_text()
    [exec_start] = re.findall(r"^ExecStart=(.*)$", unit, re.M)
    environment = dict(line.split("=", 1) for line in re.findall(r"^Environment=(.*)$", unit, re.M))
    runtime = machine["folder"] / "run"
    env = dict(machine["shell_env"])
    for key, value in environment.items():
        env[key] = value.replace("%i", str(port)).replace("/run/", f"{runtime}/")
    command = [
        str(DEPLOY / "run-with-env"),
        str(machine["env_file"]),
        *localise(exec_start, machine).replace("%i", str(port)).split(),
    ]
    return Process(f"engage-web@{port}", command, env, machine["folder"] / f"web-{port}.log")


def test_following_the_deployment_guide(machine):
    blocks = {name: localise(script, machine) for name, script in doc_blocks().items()}
    database = machine["database"]
    engage_function = blocks["engage-command"]

    # 4. PostgreSQL: the role and its database.
    run(names(blocks["database"], database), machine)
    # 6. The schema, through the engage() helper (the service's user and environment).
    migrate = blocks["migrate"]
    assert migrate.strip() == "engage db upgrade"
    run(engage_function + migrate, machine)
    token = run(engage_function + "engage create-partner 'Docs partner'", machine).split()[-1]

    # 7. A web node started as its unit starts it, ready and answering through it.
    port = free_port()
    node = start_web_unit(port, machine)
    try:
        wait_ready(port, node)
        host = {"Host": "engage.example.nhs.uk", "X-Forwarded-Proto": "https"}
        items = [{"text": f"Backed-up comment {n} on the case for change."} for n in range(3)]
        status, _, body = request(
            port,
            "POST",
            "/api/v1/feedback",
            body=json.dumps(items).encode(),
            headers={**host, "Authorization": f"Bearer {token}",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        assert status == 201, body
        # JSON logs (ENGAGE_LOG_FORMAT=json in .env.example), one line per request.
        access = [
            json.loads(line)
            for line in node.output().splitlines()
            if line.startswith("{") and '"engage.access"' in line
        ]
        assert any(line["route"] == "/api/v1/feedback" for line in access)
        # The value with spaces came through the environment file whole.
        page = request(port, "GET", "/", headers=host)[2].decode()
        assert "NHS North West London" in page

        # 10. Backups: a dump, then a restore into a new database, compared.
        dump = run(names(blocks["backup"], database), machine).strip().splitlines()[-1]
        assert dump.startswith(str(machine["backups"])) and dump.endswith(".dump")
        counts = run(names(blocks["restore"], database), machine).split()
        assert counts == ["3", "3"], counts

        # 11. Upgrades: back up, then migrate (git and pip are not run here).
        runnable = [
            names(line, database) if "backup.sh" in line else line
            for line in blocks["upgrade"].splitlines()
            if not line.startswith(("git ", f"{BIN}/pip "))
        ]
        assert len(runnable) == 2 and runnable[1] == "engage db upgrade"
        run(engage_function + "\n".join(runnable), machine)
        assert request(port, "GET", "/readyz")[0] == 200
    finally:
        node.stop()
