"""bench/loadgen.py: the closed loop counts answers, the open loop counts lateness too."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import loadgen

SERVICE_S = 0.05


class _Slow(BaseHTTPRequestHandler):
    """Answers every GET after SERVICE_S seconds."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        time.sleep(SERVICE_S)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def _get(client: loadgen.Client, n: int) -> int:
    return client.request("GET", "/")[0]


@pytest.fixture
def clients(server):
    """``clients(n)``: n keep-alive clients of the server, closed after the test."""
    made: list[loadgen.Client] = []

    def make(count: int) -> list[loadgen.Client]:
        new = [loadgen.Client("127.0.0.1", server) for _ in range(count)]
        made.extend(new)
        return new

    yield make
    for client in made:
        client.close()


def test_open_loop_sends_at_the_rate_it_is_given(clients):
    result = loadgen.run_at_rate(clients(4), _get, rate=20, max_requests=1000, max_seconds=1.0)
    summary = result.summary()
    # 20 a second for one second; each answer takes 50 ms and 4 clients keep up.
    assert 18 <= result.requests <= 20
    assert summary["errors"] == 0
    assert SERVICE_S * 1000 <= summary["p50_ms"] < SERVICE_S * 1000 * 3


def test_open_loop_counts_the_wait_when_the_server_falls_behind(clients):
    # One client, 40 requests due a second, 20 answered a second: each request is due
    # before the last one is back, so the backlog, and with it latency, keeps growing.
    result = loadgen.run_at_rate(clients(1), _get, rate=40, max_requests=1000, max_seconds=1.0)
    latencies = result.latencies_ms
    assert result.requests <= 25
    assert latencies[-1] > latencies[0] + 200
    # The closed loop, in contrast, only ever sees the service time.
    closed = loadgen.run(clients(1), _get, max_requests=10, max_seconds=5.0)
    assert max(closed.latencies_ms) < SERVICE_S * 1000 * 3
