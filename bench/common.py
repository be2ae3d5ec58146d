"""Shared helpers: PostgreSQL throwaway databases, the app's environment, subprocesses."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def log(message: str) -> None:
    """Progress goes to stderr; stdout is kept for the one JSON line."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pg_connect(dbname: str = "postgres"):
    import psycopg

    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname
    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def pg_ensure_running() -> None:
    """Start the local cluster if nothing answers on 127.0.0.1:5432."""
    import psycopg

    try:
        pg_connect().close()
        return
    except psycopg.OperationalError:
        pass
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        raise RuntimeError("PostgreSQL is not running and no cluster is configured")
    log(f"starting PostgreSQL {versions[-1]}")
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=True
    )
    for _ in range(30):
        try:
            pg_connect().close()
            return
        except psycopg.OperationalError:
            time.sleep(0.5)
    raise RuntimeError("PostgreSQL did not start")


def pg_create(name: str) -> str:
    """Create an empty database; return its SQLAlchemy URL."""
    with pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def pg_drop(name: str) -> None:
    with pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def bench_database(backend: str, instance: Path, name: str):
    """A fresh database for one benchmark step: yields its SQLAlchemy URL (PostgreSQL:
    a database called ``name``, dropped afterwards; SQLite: a file in ``instance``)."""
    if backend != "postgresql":
        yield f"sqlite:///{instance / 'engage.db'}"
        return
    pg_ensure_running()
    url = pg_create(name)
    try:
        yield url
    finally:
        pg_drop(name)


def add_where_arguments(parser) -> None:
    """The arguments every step takes to find its app: database, instance, model folder."""
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--instance", required=True)
    parser.add_argument("--model-dir", required=True)


def app_env(database_url: str, instance: Path, model_dir: Path) -> dict[str, str]:
    """Environment for the app under test: its own instance folder, no rate limits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "IMAP_"))}
    env.update(
        DATABASE_URL=database_url,
        ENGAGE_INSTANCE_PATH=str(instance),
        ENGAGE_MODEL_DIR=str(model_dir),
        SECRET_KEY="bench-secret-key-not-for-production",
        RATELIMIT_ENABLED="false",
        ENGAGE_ENV="development",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT="9",  # nothing is sent: mail waits in the outbox, no worker runs
        PYTHONUNBUFFERED="1",
    )
    env.pop("REDIS_URL", None)
    return env


def run_json(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 900) -> dict:
    """Run a command from the project root; return the JSON object on its last stdout line.

    Its stderr passes through (progress); a failure raises with the command's output.
    """
    proc = subprocess.run(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(args)} exited {proc.returncode}; stdout: {proc.stdout[-2000:]}"
        )
    return json.loads(lines[-1])
