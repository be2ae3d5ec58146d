"""One web node as shipped: nginx (deploy/nginx/engage.conf) in front of gunicorn
(deploy/gunicorn.conf.py, three processes), on the suite's kind of database.

Request ids from nginx reach the node's JSON logs with the client's address; /metrics
adds up every gunicorn process of the node (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.databases import fresh_database
from tests.deployment import (
    NGINX,
    ROOT,
    engage,
    free_port,
    make_certificate,
    request,
    start_nginx,
    start_node,
    wait_ready,
    wait_until,
    write_nginx,
)

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _nginx_installed():
    """nginx is installed by `make test` (system-deps): its absence fails, not skips."""
    if not shutil.which(NGINX):
        pytest.fail("nginx is not installed (make system-deps installs nginx-light)")


TOKEN = "stack-metrics-token"
_OURS = ("ENGAGE_", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "GUNICORN_", "PROMETHEUS_")


@pytest.fixture
def stack(tmp_path):
    with fresh_database(tmp_path) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
        https_port = free_port()
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "DATABASE_URL": url,
                "SECRET_KEY": "stack-secret",
                "ENGAGE_ENV": "production",
                "ENGAGE_BASE_URL": f"https://localhost:{https_port}",
                "ENGAGE_TRUSTED_PROXIES": "1",
                "ENGAGE_INSTANCE_PATH": str(tmp_path / "instance"),
                "ENGAGE_LOG_FORMAT": "json",
                "ENGAGE_METRICS_TOKEN": TOKEN,
            }
        )
        engage(env, "db", "upgrade")
        port = free_port()
        node = start_node(port, env, tmp_path, workers=3)
        cert, key = make_certificate(tmp_path)
        main = write_nginx(
            tmp_path / "nginx",
            upstreams=[port],
            http_port=free_port(),
            https_port=https_port,
            cert=cert,
            key=key,
        )
        nginx = start_nginx(main)
        try:
            wait_ready(port, node)
            tls = ssl.create_default_context(cafile=str(cert))

            def through(path, **kw):
                headers = {"Host": "localhost", **kw.pop("headers", {})}
                return request(https_port, "GET", path, tls=tls, headers=headers, **kw)

            def nginx_up():
                nginx.check_alive()
                try:
                    return through("/healthz")[0] == 200
                except OSError:
                    return False

            wait_until(nginx_up, 30, "nginx")
            yield port, node, through
        finally:
            nginx.stop()
            node.stop()


def _access_lines(node) -> list[dict]:
    return [
        json.loads(line)
        for line in node.output().splitlines()
        if line.startswith("{") and '"engage.access"' in line
    ]


def test_one_node_behind_nginx_logs_and_counts_every_process(stack):
    port, node, through = stack

    def visit(_):
        return through("/", source="127.0.0.5", headers={"X-Request-ID": "client-chosen-id-123"})

    # At the same time, so that more than one of the node's processes answers.
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(visit, range(30)))
    assert [status for status, _, _ in answers] == [200] * 30
    ids = [headers["X-Request-ID"] for _, headers, _ in answers]
    # nginx's own id ($request_id) replaced what the client sent, and the app echoed it.
    assert all(len(i) == 32 and i != "client-chosen-id-123" for i in ids)
    assert len(set(ids)) == 30
    lines = {line["request_id"]: line for line in _access_lines(node)}
    assert set(ids) <= set(lines)
    # The address nginx saw (X-Forwarded-For through ProxyFix), not nginx's own.
    assert {lines[i]["remote_addr"] for i in ids} == {"127.0.0.5"}
    assert {lines[i]["route"] for i in ids} == {"/"}
    processes = Counter(lines[i]["process"] for i in ids)

    # Whichever process answers the scrape, it adds up all three.
    auth = {"Authorization": f"Bearer {TOKEN}", "Host": "127.0.0.1"}
    totals = set()
    for _ in range(6):
        status, _, body = request(port, "GET", "/metrics", headers=auth)
        assert status == 200
        counted = sum(
            float(line.rsplit(" ", 1)[1])
            for line in body.decode().splitlines()
            if line.startswith("engage_http_request_duration_seconds_count{")
            and 'route="/"' in line
            and 'status="200"' in line
        )
        totals.add(counted)
    assert totals == {30.0}, (totals, processes)
    assert len(processes) >= 2, processes  # more than one process took the requests
    assert request(port, "GET", "/metrics", headers={"Host": "127.0.0.1"})[0] == 401
