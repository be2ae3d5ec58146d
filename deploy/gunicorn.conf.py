"""gunicorn settings for one engage web node, read from the environment.

    gunicorn -c deploy/gunicorn.conf.py          (from the checkout; wsgi:app)

GUNICORN_BIND       where the node listens (default 127.0.0.1:8000; the systemd unit
                    engage-web@PORT sets 127.0.0.1:PORT)
GUNICORN_WORKERS    processes (default 2 x cores + 1)
GUNICORN_THREADS    threads per process (default 1: sync workers)
GUNICORN_TIMEOUT    seconds before a silent worker is killed and replaced (default 60)
GUNICORN_ACCESS_LOG "-" for gunicorn's own access log on stdout (default: none; nginx
                    logs every request, and ENGAGE_LOG_FORMAT=json logs one line each
                    with its request id)
PROMETHEUS_MULTIPROC_DIR  an empty folder of this node's own when ENGAGE_METRICS_TOKEN
                    is set: emptied here at start, so /metrics adds up every process
ENGAGE_LOG_FORMAT   json: gunicorn's own lines are JSON objects too
"""

import multiprocessing
import os

wsgi_app = "wsgi:app"
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("GUNICORN_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
threads = int(os.environ.get("GUNICORN_THREADS") or 1)
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 60)
graceful_timeout = 30
# nginx keeps connections to the nodes open (upstream keepalive): longer than its idle.
keepalive = 75
# Start the app once and fork the workers from it (wsgi.py freezes start-up's objects
# out of the garbage collector's way first).
preload_app = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("ENGAGE_LOG_LEVEL", "info").lower()
proc_name = "engage-web-" + bind[0].rsplit(":", 1)[-1]
# gunicorn 24+ opens a control socket at one path per user ($HOME/.gunicorn): several
# nodes on one machine would fight over it, and nothing here uses it.
control_socket_disable = True

if os.environ.get("ENGAGE_LOG_FORMAT", "").strip().lower() == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "engage.observability.JsonFormatter"}},
        "handlers": {
            "json_stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": loglevel.upper(), "handlers": ["json_stderr"]},
        "loggers": {
            "alembic": {"level": "WARNING"},  # its start-up chatter, at every import
            "gunicorn.error": {
                "level": loglevel.upper(),
                "handlers": ["json_stderr"],
                "propagate": False,
                "qualname": "gunicorn.error",
            },
            # With a logging config gunicorn always logs access lines: keep them quiet
            # (WARNING) unless GUNICORN_ACCESS_LOG asks for them.
            "gunicorn.access": {
                "level": "INFO" if accesslog else "WARNING",
                "handlers": ["json_stderr"],
                "propagate": False,
                "qualname": "gunicorn.access",
            },
        },
    }


def on_starting(server):
    """Empty the metrics folder: values of a previous run must not be added in."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.unlink(os.path.join(folder, name))


def child_exit(server, worker):
    """A worker process ended: its live gauges no longer count (prometheus-client)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
