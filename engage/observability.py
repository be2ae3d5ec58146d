"""Operations (issue #26): request ids, JSON logs, readiness checks and Prometheus metrics.

- **Request id**: every request has one, taken from an incoming ``X-Request-ID`` (nginx
  sets it from its ``$request_id``) when it looks like one, else made here. It is echoed
  in the response's ``X-Request-ID`` header and written on every log line of the request.
  The worker's jobs log ``task-<huey task id>`` as theirs, and the web process logs the
  task id it queued under the request's id, so one can be followed into the other.
- **JSON logs** (``ENGAGE_LOG_FORMAT=json``): one JSON object a line on stderr for the
  app's own loggers, plus one ``engage.access`` line a request (method, route, status,
  duration, client address), each with its request id.
- **Metrics** (``ENGAGE_METRICS_TOKEN``): ``GET /metrics`` in Prometheus's text format,
  answered only with ``Authorization: Bearer <token>`` and 404 otherwise (off by
  default). Two kinds of series:

  * counted by the web processes: request latency by route (the URL rule, never the raw
    path). Under gunicorn each worker process counts its own; set
    ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder of the node's own and every scrape
    adds up all of that node's processes (prometheus-client's multiprocess mode; the
    shipped gunicorn.conf.py empties the folder when the node starts);
  * read from the database at scrape time, so the same from every node whichever
    process answers: feedback received by channel, the backlogs of unclassified and
    unacknowledged items, the outbox by status and its retries.

  ``engage worker`` times each job and serves those series on its own port,
  loopback only, when ``ENGAGE_WORKER_METRICS_PORT`` is set.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, abort, current_app, g, request

REQUEST_ID_HEADER = "X-Request-ID"
# What an incoming id may be: nginx's $request_id is 32 hex digits; a load balancer's
# may be a UUID or similar. Anything else is replaced, so logs never carry what a
# client chose to write there.
_GOOD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")

_request_id: ContextVar[str | None] = ContextVar("engage_request_id", default=None)

access_log = logging.getLogger("engage.access")
log = logging.getLogger(__name__)


def current_request_id() -> str | None:
    """The id of the request (or worker job) being handled in this context, if any."""
    return _request_id.get()


def set_request_id(value: str | None):
    """Make ``value`` the current id; returns the token to reset it with."""
    return _request_id.set(value)


def reset_request_id(token) -> None:
    _request_id.reset(token)


def incoming_or_new_id(value: str | None) -> str:
    """The incoming X-Request-ID when it is well formed, else a new random one."""
    if value and _GOOD_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


# --- logs ------------------------------------------------------------------------------


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record as ``request_id`` ("-" outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id() or "-"
        return True


# Attributes every LogRecord has; anything else was passed with extra= and is logged.
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id() or "-",
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


_HANDLER_MARK = "_engage_log_handler"


def configure_logging(log_format: str, level: str = "INFO") -> None:
    """JSON lines on stderr for every logger (``json``); ``text`` leaves logging alone.

    Safe to call more than once (one handler is ever installed).
    """
    if log_format != "json":
        return
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in root.handlers:
        if getattr(handler, _HANDLER_MARK, False):
            return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    setattr(handler, _HANDLER_MARK, True)
    # Replace the default handlers (a second copy of each line in another format helps
    # nobody reading the journal); gunicorn's own loggers keep theirs.
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    # Alembic says which database it found each time /readyz reads the revision.
    logging.getLogger("alembic").setLevel(logging.WARNING)


# --- metrics ---------------------------------------------------------------------------


def _metric_objects():
    """The process's own metric objects, made once (prometheus-client picks its value
    store, in memory or PROMETHEUS_MULTIPROC_DIR's files, when they are made)."""
    from prometheus_client import CollectorRegistry, Histogram

    registry = CollectorRegistry(auto_describe=True)
    latency = Histogram(
        "engage_http_request_duration_seconds",
        "Time to answer a request, by route (the URL rule), method and status code.",
        ["route", "method", "status"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        registry=registry,
    )
    task = Histogram(
        "engage_worker_task_duration_seconds",
        "Time a worker job ran, by task name and outcome (complete or error).",
        ["task", "outcome"],
        buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
        registry=registry,
    )
    return registry, latency, task


_metrics: tuple | None = None


def metrics():
    """(registry, request latency histogram, worker task histogram) of this process."""
    global _metrics
    if _metrics is None:
        _metrics = _metric_objects()
    return _metrics


# Functions that yield Prometheus metric families read from the database, registered by
# the packages that own the tables (create_app registers feedback's and the outbox's),
# so this module imports no domain.
_database_series: list[Callable[[], Iterable[Any]]] = []


def register_database_series(*series: Callable[[], Iterable[Any]]) -> None:
    """Add functions yielding metric families read from the database at each scrape
    (in the order given; registering one twice keeps the first)."""
    for function in series:
        if function not in _database_series:
            _database_series.append(function)


class DatabaseCollector:
    """Series read from the database when scraped: the same whichever process answers."""

    def collect(self):
        for series in _database_series:
            yield from series()


def scrape_registry():
    """The registry a scrape reads: this node's processes (all of them in multiprocess
    mode) plus the database's series."""
    import os

    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=folder)
    else:
        registry = CollectorRegistry()
        registry.register(_Delegate(metrics()[0]))
    registry.register(DatabaseCollector())
    return registry


class _Delegate:
    """Reads another registry's collectors (the process's own metrics)."""

    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        return self.registry.collect()


# --- the web app -----------------------------------------------------------------------


def init_app(app: Flask, task_queue=None) -> None:
    """Request ids, the access log line, request latency and /metrics (see module doc).

    ``task_queue``: the huey queue (engage.tasks.huey), whose queued jobs are logged
    under the request's id when logs are JSON; passed in by create_app, so this module
    imports no task."""
    config = app.config
    configure_logging(config.get("ENGAGE_LOG_FORMAT", "text"), config.get("ENGAGE_LOG_LEVEL"))
    json_logs = config.get("ENGAGE_LOG_FORMAT") == "json"
    token = config.get("ENGAGE_METRICS_TOKEN")
    latency = metrics()[1] if token else None

    def start_request():
        g.request_id = incoming_or_new_id(request.headers.get(REQUEST_ID_HEADER))
        g._request_id_token = set_request_id(g.request_id)
        g._request_started = time.perf_counter()

    # First of all, so a request refused by the host check has an id too.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)

    @app.after_request
    def finish_request(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("_request_started")
        if started is None:
            return response
        elapsed = time.perf_counter() - started
        route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
        if latency is not None and request.endpoint != "web.metrics":
            latency.labels(route, request.method, str(response.status_code)).observe(elapsed)
        if json_logs:
            access_log.info(
                "%s %s %s",
                request.method,
                route,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path[:500],
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "remote_addr": request.remote_addr or "-",
                },
            )
        return response

    @app.teardown_request
    def end_request(error):
        token_ = g.pop("_request_id_token", None)
        if token_ is not None:
            # ValueError: set in another context (a copied one): nothing to undo.
            with contextlib.suppress(ValueError):
                reset_request_id(token_)

    if json_logs and task_queue is not None:
        _log_task_ids(task_queue)


def _log_task_ids(huey) -> None:
    """Web processes: log each worker task queued, with its id, under the request's id."""
    from huey.signals import SIGNAL_ENQUEUED

    if getattr(huey, "_engage_enqueue_logged", False):
        return
    huey._engage_enqueue_logged = True

    @huey.signal(SIGNAL_ENQUEUED)
    def queued(signal, task, *args, **kwargs):
        log.info("queued task %s", task.name, extra={"task": task.name, "task_id": task.id})


def metrics_view():
    """GET /metrics: Prometheus's text format, with the bearer token only (404 without)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    token = current_app.config.get("ENGAGE_METRICS_TOKEN")
    if not token:
        abort(404)
    sent = request.headers.get("Authorization", "")
    scheme, _, given = sent.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
        return Response(
            "A bearer token is needed.\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body = generate_latest(scrape_registry())
    response = Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0])
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the worker ------------------------------------------------------------------------


def job_kwargs() -> dict[str, str]:
    """Keyword arguments that carry the current request's id into a worker job.

    A task that accepts ``request_id`` and is queued with
    ``task.schedule(kwargs=job_kwargs(), ...)`` runs with that id on its log lines
    (instrument_worker reads it); without a request, nothing is added.
    """
    request_id = current_request_id()
    return {"request_id": request_id} if request_id else {}


def instrument_worker(huey, *, metrics_port: int | None = None) -> bool:
    """``engage worker``: give each job a request id (``task-<id>``) for its log lines,
    time it into engage_worker_task_duration_seconds and, with ``metrics_port``, serve
    this process's series on 127.0.0.1:<port> (returns whether they are served)."""
    from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR, SIGNAL_EXECUTING

    registry, _, task_seconds = metrics()
    running: dict[str, tuple[float, object]] = {}

    @huey.signal(SIGNAL_EXECUTING)
    def executing(signal, task, *args, **kwargs):
        # A job queued with request_id=<the web request's id> logs under that id (see
        # job_kwargs()); any other under its own task id.
        given = (task.kwargs or {}).get("request_id")
        ok = isinstance(given, str) and _GOOD_ID.fullmatch(given)
        token = set_request_id(given if ok else f"task-{task.id}")
        running[task.id] = (time.perf_counter(), token)
        log.info("running task %s", task.name, extra={"task": task.name, "task_id": task.id})

    @huey.signal(SIGNAL_COMPLETE, SIGNAL_ERROR)
    def finished(signal, task, *args, **kwargs):
        started, token = running.pop(task.id, (None, None))
        if started is None:
            return
        elapsed = time.perf_counter() - started
        outcome = "complete" if signal == SIGNAL_COMPLETE else "error"
        task_seconds.labels(task.name, outcome).observe(elapsed)
        log.info(
            "task %s %s in %.3fs",
            task.name,
            outcome,
            elapsed,
            extra={
                "task": task.name,
                "task_id": task.id,
                "outcome": outcome,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
        try:
            reset_request_id(token)
        except ValueError:
            set_request_id(None)

    if metrics_port:
        from prometheus_client import start_http_server

        try:
            start_http_server(metrics_port, addr="127.0.0.1", registry=registry)
        except OSError as error:  # another worker on this machine has the port
            log.warning("not serving worker metrics on 127.0.0.1:%s: %s", metrics_port, error)
            return False
        return True
    return False
