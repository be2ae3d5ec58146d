"""A small closed-loop HTTP load generator: N client threads, keep-alive, bounded counts.

Each client owns one ``http.client`` connection and a cookie jar (a browser session).
A run stops after ``max_requests`` or ``max_seconds``, whichever comes first, and
reports throughput and latency percentiles. Latency is measured per request from
sending it to having read the whole body.
"""

from __future__ import annotations

import http.client
import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import urlencode

_RETRYABLE = (
    http.client.RemoteDisconnected,
    http.client.CannotSendRequest,
    http.client.BadStatusLine,
    ConnectionResetError,
    BrokenPipeError,
)
_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
_VALUE = re.compile(r'value="([^"]*)"')


class Client:
    """One simulated browser: a keep-alive connection and its cookies."""

    def __init__(self, host: str, port: int, timeout: float = 60.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request (a form is url-encoded); return status, headers and body."""
        headers = {"Host": f"{self.host}:{self.port}", "User-Agent": "engage-bench"}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except _RETRYABLE:
                # The server closed an idle keep-alive connection: reconnect once.
                self.close()
                if attempt == 2:
                    raise
        for value in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            cookie_value = rest.split(";", 1)[0]
            if "expires=thu, 01 jan 1970" in value.lower() or cookie_value == "":
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = cookie_value
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, dict(response.getheaders()), data

    def get_csrf(self, path: str) -> str:
        """GET a page with a form and keep its CSRF token (and the session cookie)."""
        status, _, body = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        match = _CSRF.search(body.decode("utf-8", "replace"))
        value = _VALUE.search(match.group(0)) if match else None
        if not value:
            raise RuntimeError(f"no csrf_token on {path}")
        self.csrf = unescape(value.group(1))
        return self.csrf


@dataclass
class Result:
    """What one measured run did."""

    requests: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    statuses: Counter
    errors: int
    error_sample: str | None = None

    def summary(self) -> dict:
        lat = sorted(self.latencies_ms)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            "rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(_percentile(lat, 50), 1),
            "p95_ms": round(_percentile(lat, 95), 1),
            "p99_ms": round(_percentile(lat, 99), 1),
            "max_ms": round(lat[-1], 1) if lat else None,
            "mean_ms": round(statistics.fmean(lat), 1) if lat else None,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            **({"error_sample": self.error_sample} if self.error_sample else {}),
        }


def _percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * pct // 100))
    return sorted_values[int(rank) - 1]


# A request function: given the client and the request's sequence number, send one
# request and return its HTTP status.
RequestFn = Callable[[Client, int], int]


def run(
    clients: list[Client],
    send: RequestFn,
    *,
    expect: tuple[int, ...] = (200,),
    max_requests: int,
    max_seconds: float,
    warmup: int = 0,
) -> Result:
    """Run ``send`` from every client in parallel (closed loop); return the measured part.

    The first ``warmup`` requests (spread over the clients) are sent and discarded.
    """
    if warmup:
        _loop(clients, send, expect, max_requests=warmup, max_seconds=max_seconds, offset=10**6)
    return _loop(clients, send, expect, max_requests=max_requests, max_seconds=max_seconds)


def run_at_rate(
    clients: list[Client],
    send: RequestFn,
    *,
    rate: float,
    expect: tuple[int, ...] = (200,),
    max_requests: int,
    max_seconds: float,
) -> Result:
    """Open loop: request ``n`` is due ``n / rate`` seconds after the start.

    The first free client sends it when it is due. Its latency runs from when it was
    due, not from when it was sent: a request that waited because every client was busy
    (the server fell behind) counts its wait, so a server slower than ``rate`` shows up
    as growing latencies rather than as a lower request rate.
    """
    return _loop(
        clients, send, expect, max_requests=max_requests, max_seconds=max_seconds, rate=rate
    )


def _loop(clients, send, expect, *, max_requests, max_seconds, offset=0, rate=None) -> Result:
    lock = threading.Lock()
    issued = 0
    statuses: Counter = Counter()
    latencies: list[list[float]] = [[] for _ in clients]
    errors = [0]
    sample: list[str] = []
    barrier = threading.Barrier(len(clients) + 1)
    deadline = [0.0]

    def worker(index: int, client: Client) -> None:
        nonlocal issued
        mine = latencies[index]
        barrier.wait()
        while True:
            with lock:
                if issued >= max_requests or time.perf_counter() >= deadline[0]:
                    return
                number = issued
                issued += 1
            if rate is None:
                t0 = time.perf_counter()
            else:
                t0 = started[0] + number / rate
                if t0 >= deadline[0]:
                    return
                time.sleep(max(0.0, t0 - time.perf_counter()))
            try:
                status = send(client, offset + number)
            except Exception as error:  # count it and go on: one failure is a figure too
                client.close()
                status = 0
                if not sample:
                    sample.append(f"{type(error).__name__}: {error}"[:300])
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                statuses[status] += 1
                if status not in expect:
                    errors[0] += 1
                    if not sample:
                        sample.append(f"status {status} for request {number}")
            mine.append(elapsed)

    threads = [
        threading.Thread(target=worker, args=(i, c), daemon=True) for i, c in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    started = [time.perf_counter()]
    deadline[0] = started[0] + max_seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started[0]
    flat = [x for per_client in latencies for x in per_client]
    return Result(
        requests=len(flat),
        seconds=seconds,
        latencies_ms=flat,
        statuses=statuses,
        errors=errors[0],
        error_sample=sample[0] if sample else None,
    )
