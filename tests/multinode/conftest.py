"""A production-shaped cluster on loopback (issue #26), for tests/multinode/.

nginx (deploy/nginx/engage.conf, over TLS) in front of two gunicorn web nodes
(deploy/gunicorn.conf.py, two processes each), two `engage worker` processes, one fresh
PostgreSQL database, Redis (REDIS_URL: rate limits and the huey queue, on a Redis
database number of its own) and a real SMTP sink (aiosmtpd). Every part is a real
process; the test talks to them over sockets and reads the database with its own app.
"""

from __future__ import annotations

import imaplib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyotp
import pytest
import redis
from sqlalchemy import func, select

from engage import create_app
from engage.extensions import db
from tests.conftest import TEST_DATABASE_URL
from tests.databases import fresh_database
from tests.deployment import (
    NGINX,
    ROOT,
    Process,
    engage,
    flush_redis_db,
    free_port,
    free_redis_db,
    make_certificate,
    request,
    start_nginx,
    start_node,
    start_worker,
    wait_answering,
    wait_ready,
    wait_until,
    write_nginx,
)
from tests.imapserver import PASSWORD as IMAP_PASSWORD
from tests.imapserver import Dovecot
from tests.smtp import SMTPServer

SLUG = "case-for-change"
IMAP_MESSAGES = 30
IMAP_FOLDER = "Feedback"
METRICS_TOKEN = "multinode-metrics-token-42"
SECRET = "multinode-shared-secret-key"
PASSWORD = "correct horse battery staple"

# Variables of the test run that must not leak into the cluster's processes.
_OURS = ("ENGAGE_", "DATABASE_URL", "REDIS_URL", "MAIL_", "IMAP_", "SECRET_KEY", "GUNICORN_",
         "PROMETHEUS_MULTIPROC_DIR", "FLASK_")  # fmt: skip


def _needs() -> str | None:
    """Why the cluster cannot run here: only the SQLite run skips it. A missing nginx
    or Redis fails the test, so that a machine without them cannot pass in silence."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        return (
            "the multi-node test needs PostgreSQL (several processes on one database "
            "server); it runs in `make test-postgres`"
        )
    if not shutil.which(NGINX):
        pytest.fail("nginx is not installed (make system-deps installs nginx-light)")
    try:
        redis.Redis(socket_connect_timeout=2).ping()
    except redis.RedisError:
        pytest.fail("Redis is not listening on 127.0.0.1:6379")
    return None


@dataclass
class Cluster:
    folder: Path
    env: dict
    app: object  # an engage app on the cluster's database, for the test's own reads
    https_port: int
    node_ports: list[int]
    nodes: list[Process]
    workers: list[Process]
    worker_metrics: list[int]
    nginx: Process
    smtp: SMTPServer
    cert: Path
    tokens: list[str]
    publisher_email: str
    totp_secret: str
    response_id: int
    page_version_max_age: float
    started: list  # every process started, stopped at the end (a restarted worker too)
    notes: dict = field(default_factory=dict)

    # --- through nginx ----------------------------------------------------------------

    def https(self, method: str, path: str, **kwargs):
        import ssl

        context = ssl.create_default_context(cafile=str(self.cert))
        return request(self.https_port, method, path, tls=context, **kwargs)

    # --- the database -----------------------------------------------------------------

    def scalar(self, statement):
        with self.app.app_context():
            try:
                return db.session.scalar(statement)
            finally:
                db.session.remove()

    def rows(self, statement):
        with self.app.app_context():
            try:
                return db.session.execute(statement).all()
            finally:
                db.session.remove()

    def count(self, model, *where) -> int:
        return self.scalar(select(func.count()).select_from(model).where(*where))

    # --- logs -------------------------------------------------------------------------

    def node_serving(self, request_id: str) -> list[int]:
        """The ports of the nodes whose access log has ``request_id``."""
        return [
            port
            for port, node in zip(self.node_ports, self.nodes, strict=True)
            if f'"request_id": "{request_id}"' in node.output()
        ]

    def json_lines(self, process: Process) -> list[dict]:
        found = []
        for line in process.output().splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found


def _seed(app, model_dir: Path, corpus: Path) -> dict:
    """Engagement, two partners, a publisher with an authenticator app, a draft response
    and a trained model, on the cluster's database."""
    from engage.classify import service as classify
    from engage.engagements.models import Engagement
    from engage.feedback.models import Theme
    from engage.feedback.service import ensure_default_themes
    from engage.publish import service as publish
    from engage.publish.models import ResponseStatus
    from engage.staff import accounts
    from engage.staff.models import Role
    from engage.util import utcnow
    from tests.partners import create_partner

    with app.app_context():
        ensure_default_themes()
        engagement = Engagement(
            slug=SLUG,
            title="Case for change",
            summary="The case for change.",
            body="Tell us what you think.",
            organisation="NHS Test",
            opens_on=date(2019, 5, 28),
            closes_on=date(2099, 8, 24),
            areas=["Brent", "Harrow"],
            email_address=f"engage+{SLUG}@example.org",
        )
        db.session.add(engagement)
        db.session.commit()
        tokens = [create_partner(f"Partner {n}")[1] for n in (1, 2)]
        secret = pyotp.random_base32()
        user = accounts.create_staff(
            email="publisher@nhs.example", role=Role.PUBLISHER, password=PASSWORD, name="P"
        )
        user.totp_secret = secret
        user.totp_confirmed_at = utcnow()
        theme = db.session.scalar(select(Theme).where(Theme.slug == "decision-making"))
        draft = publish.create_draft(
            engagement=engagement,
            you_said="decisions about Harrow will be made elsewhere.",
            we_did="Harrow keeps a borough committee that meets in public, every month.",
            status=ResponseStatus.PLANNED,
            themes=[theme],
            items=[],
            by="lead@nhs.example",
        )
        db.session.commit()
        app.config["ENGAGE_MODEL_DIR"] = str(model_dir)
        classify._cache.clear()
        classify.train_model(corpus=[corpus])
        db.session.commit()
        response_id = draft.id
        db.session.remove()
    return {
        "tokens": tokens,
        "secret": secret,
        "email": "publisher@nhs.example",
        "response_id": response_id,
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = _needs()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("cluster")
    started: list[Process] = []
    smtp = SMTPServer().start()
    imap = Dovecot().start()
    deliver_imap(imap, IMAP_MESSAGES)
    redis_db = free_redis_db()
    if redis_db is None:
        pytest.skip("no empty Redis database number (1-15) for the multi-node test")
    with fresh_database(folder) as url:
        try:
            yield _start(folder, url, redis_db, smtp, imap, started)
        finally:
            for process in reversed(started):
                process.stop()
            smtp.stop()
            imap.stop()
            flush_redis_db(redis_db)  # never 0: the run's own database number


def deliver_imap(server: Dovecot, count: int) -> None:
    """``count`` messages in the IMAP folder both workers poll."""
    client = imaplib.IMAP4("127.0.0.1", server.port)
    client.login("engage", IMAP_PASSWORD)
    client.create(IMAP_FOLDER)
    for n in range(count):
        raw = (
            f"From: Caller {n} <imap-{n}@example.org>\r\n"
            f"To: engage+{SLUG}@example.org\r\n"
            f"Subject: About the case for change, {n}\r\n"
            f"Message-ID: <imap-{n}@multinode.example>\r\n"
            "Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"IMAP message {n}: keep the maternity unit at Northwick Park.\r\n"
        )
        client.append(IMAP_FOLDER, None, None, raw.encode())
    client.logout()


def _start(
    folder: Path, url: str, redis_db: int, smtp: SMTPServer, imap: Dovecot, started: list
) -> Cluster:
    import csv

    from tests.classify.corpus import ITEMS

    https_port, http_port = free_port(), free_port()
    node_ports = [free_port(), free_port()]
    model_dir = folder / "models"
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": url,
            "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
            "SECRET_KEY": SECRET,
            "ENGAGE_ENV": "production",
            "ENGAGE_BASE_URL": f"https://localhost:{https_port}",
            "ENGAGE_TRUSTED_PROXIES": "1",
            "ENGAGE_INSTANCE_PATH": str(folder / "instance"),
            "ENGAGE_MODEL_DIR": str(model_dir),
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp.port),
            "MAIL_TIMEOUT": "10",
            "ENGAGE_LOG_FORMAT": "json",
            "ENGAGE_METRICS_TOKEN": METRICS_TOKEN,
            # Both workers poll one IMAP folder in their minute sweeps.
            "IMAP_HOST": "127.0.0.1",
            "IMAP_PORT": str(imap.port),
            "IMAP_USER": "engage",
            "IMAP_PASSWORD": IMAP_PASSWORD,
            "IMAP_FOLDER": IMAP_FOLDER,
            "IMAP_USE_SSL": "false",
        }
    )
    # As docs/deploy.md says: migrate before any node starts.
    engage(env, "db", "upgrade")
    corpus = folder / "corpus.csv"
    with corpus.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "themes"])
        writer.writerows(ITEMS)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": SECRET,
            "ENGAGE_MODEL_DIR": str(model_dir),
            "RATELIMIT_STORAGE_URI": "memory://",
            "REDIS_URL": None,
        }
    )
    seeded = _seed(app, model_dir, corpus)

    nodes = [start_node(port, env, folder) for port in node_ports]
    started.extend(nodes)
    worker_metrics = [free_port(), free_port()]
    workers = [
        start_worker(name, {**env, "ENGAGE_WORKER_METRICS_PORT": str(port)}, folder)
        for name, port in zip(("a", "b"), worker_metrics, strict=True)
    ]
    started.extend(workers)
    cert, key = make_certificate(folder)
    main = write_nginx(
        folder / "nginx",
        upstreams=node_ports,
        http_port=http_port,
        https_port=https_port,
        cert=cert,
        key=key,
    )
    nginx = start_nginx(main)
    started.append(nginx)
    for port, node in zip(node_ports, nodes, strict=True):
        wait_ready(port, node)
    # A worker serves its metrics once it has loaded the model and is taking jobs.
    for port, worker in zip(worker_metrics, workers, strict=True):
        wait_answering(port, worker, "/metrics")
    cluster = Cluster(
        folder=folder,
        env=env,
        app=app,
        https_port=https_port,
        node_ports=node_ports,
        nodes=nodes,
        workers=workers,
        worker_metrics=worker_metrics,
        nginx=nginx,
        smtp=smtp,
        cert=cert,
        tokens=seeded["tokens"],
        publisher_email=seeded["email"],
        totp_secret=seeded["secret"],
        response_id=seeded["response_id"],
        page_version_max_age=float(app.config["ENGAGE_PAGE_VERSION_MAX_AGE"]),
        started=started,
    )

    def nginx_up() -> bool:
        nginx.check_alive()
        try:
            return cluster.https("GET", "/healthz", timeout=5)[0] == 200
        except OSError:
            return False

    wait_until(nginx_up, 30, "nginx to answer")
    for worker in workers:
        wait_until(lambda w=worker: "engage worker:" in w.output(), 60, f"{worker.name} to start")
        worker.check_alive()
    return cluster


# --- a browser-like client for one node or for nginx ---------------------------------------


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


class Browser:
    """Cookies kept by hand, so one browser can be sent to any node (or through nginx).

    Straight to a node it says what nginx would (Host, X-Forwarded-Proto: https): the
    cookies are the production __Host- ones, Secure, as over TLS.
    """

    def __init__(self, cluster: Cluster, source: str | None = None):
        self.cluster = cluster
        self.cookies: dict[str, str] = {}
        self.source = source

    def _headers(self, extra: dict | None) -> dict:
        # Flask-WTF checks an HTTPS form's Referer against the Host the app sees: nginx
        # passes $host, without the port (as on 443, where the two are the same).
        headers = {"Host": "localhost", "Referer": "https://localhost/"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers.update(extra or {})
        return headers

    def _keep(self, headers) -> None:
        for cookie in headers.get_all("Set-Cookie") or []:
            pair = cookie.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if (
                value
                and "max-age=0" not in cookie.lower()
                and "expires=thu, 01 jan 1970" not in (cookie.lower())
            ):
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)

    def node(self, port: int, method: str, path: str, form: dict | None = None, **kw):
        from urllib.parse import urlencode

        headers = {"X-Forwarded-Proto": "https"}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        status, response_headers, data = request(
            port, method, path, body=body, headers=self._headers(headers), **kw
        )
        self._keep(response_headers)
        return status, response_headers, data.decode("utf-8", "replace")

    def nginx(self, method: str, path: str, form: dict | None = None, headers: dict | None = None):
        import ssl
        from urllib.parse import urlencode

        extra = dict(headers or {})
        body = None
        if form is not None:
            body = urlencode(form).encode()
            extra["Content-Type"] = "application/x-www-form-urlencoded"
        context = ssl.create_default_context(cafile=str(self.cluster.cert))
        status, response_headers, data = request(
            self.cluster.https_port,
            method,
            path,
            body=body,
            headers=self._headers(extra),
            tls=context,
            source=self.source,
        )
        self._keep(response_headers)
        return status, response_headers, data.decode("utf-8", "replace")

    def sign_in(self, port: int, email: str, secret: str) -> None:
        _, _, page = self.node(port, "GET", "/staff/sign-in")
        status, headers, _ = self.node(
            port,
            "POST",
            "/staff/sign-in",
            form={"csrf_token": csrf_token(page), "email": email, "password": PASSWORD},
        )
        assert status == 302 and "/staff/sign-in/code" in headers["Location"], status
        _, _, page = self.node(port, "GET", "/staff/sign-in/code")
        # A code is accepted once (the replay guard): a second sign-in within the same
        # 30 seconds waits for the next code, as a person would.
        totp = pyotp.TOTP(secret)
        step = int(time.time() // totp.interval)
        while step <= self.cluster.notes.get("last_totp_step", -1):
            time.sleep(0.5)
            step = int(time.time() // totp.interval)
        self.cluster.notes["last_totp_step"] = step
        code = totp.at(step * totp.interval)
        status, headers, body = self.node(
            port,
            "POST",
            "/staff/sign-in/code",
            form={"csrf_token": csrf_token(page), "code": code},
        )
        assert status == 302, (status, body[:500])


def wait_for_quiet(condition, seconds: float, what: str) -> None:
    """Wait for ``condition``, then make sure it still holds a moment later."""
    wait_until(condition, seconds, what, interval=0.25)
    time.sleep(1.0)
    assert condition(), f"{what} stopped holding"
