"""Benchmark the web app under gunicorn against a generated database; print one JSON object.

    python bench/bench_web.py --database-url URL --instance DIR --model-dir DIR

(``python -m bench`` prepares the database and calls this for SQLite and PostgreSQL.)

Starts ``gunicorn wsgi:app`` and ``gunicorn bench.bare:app`` with the same settings
(gunicorn's sync workers, 2 x cores + 1 of them as its documentation and the README's
production example advise, 127.0.0.1, rate limits off), then drives each endpoint
with 8 closed-loop clients for a bounded number of requests or seconds, reads first:
the bare route, the public log, an engagement page, the responses API, the staff inbox
(signed in as a triager) plain, filtered and with a full-text search, then the
feedback form (POST with the CSRF token of each client's session; the request stores
the item and queues the worker's task, which is then run here until it has classified
and acknowledged everything unclassified: "worker_catch_up"). Each figure is
throughput (req/s), p50/p95 latency and, for pages, the ratio to the bare route.

The form is measured twice: closed loop as above ("form": how many posts a second the
server can take), then open loop at the target's 150 posts a second ("form_at_rate":
latency from when each post was due, so waiting for a free client counts).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, loadgen, textgen  # noqa: E402
from bench.generate import STAFF_EMAIL, STAFF_PASSWORD  # noqa: E402

HOST = "127.0.0.1"
# Sync workers, as in production behind a proxy: a worker takes the next connection
# when it is free. (Threaded workers with keep-alive pinned each client's connection
# to the worker that accepted it: 7 of 8 clients could queue on one worker, one core,
# while the other waited on its single client.)
WORKERS = 2 * (os.cpu_count() or 1) + 1
CLIENTS = 8
BIG_ENGAGEMENT = "nwl-commissioning-reform-case-for-change"  # 45,000 items
OPEN_ENGAGEMENT = "nwl-your-local-nhs"  # open, so the form's feedback is counted on it

PAGE_TARGET = {"ratio_to_bare_min": 0.30, "p95_ms_max": 50.0}
# The form: at least 150 posts a second from 8 clients as fast as they can go (closed
# loop), and p95 under 60 ms when posts arrive at that rate (open loop, "form_at_rate").
FORM_TARGET = {"rps_min": 150.0}
FORM_RATE_TARGET = {"rate": 150.0, "p95_ms_max": 60.0}
INBOX_TARGET = {"p95_ms_max": 100.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Gunicorn:
    """One gunicorn master with the benchmark's fixed settings."""

    def __init__(self, app: str, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.log_path = log_path
        self.log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                str(common.VENV_BIN / "gunicorn"),
                "--workers",
                str(WORKERS),
                "--worker-class",
                "sync",
                "--bind",
                f"{HOST}:{self.port}",
                "--timeout",
                "120",
                # A worker thread can be stuck in a long query when gunicorn is stopped:
                # give it 3 s, not 30, before it is killed.
                "--graceful-timeout",
                "3",
                # Import the app once in the master, then fork: quicker (re)starts.
                "--preload",
                "--log-level",
                "warning",
                "--error-logfile",
                "-",
                app,
            ],
            cwd=common.ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, path: str, timeout: float = 90) -> None:
        client = loadgen.Client(HOST, self.port, timeout=5)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            try:
                if client.request("GET", path)[0] == 200:
                    client.close()
                    return
            except OSError:
                pass
            client.close()
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn not ready after {timeout} s; see {self.log_path}")

    def _pids(self) -> list[int]:
        try:
            path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            return [self.proc.pid, *map(int, path.read_text().split())]
        except OSError:
            return [self.proc.pid]

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its workers so far."""
        total = 0
        for pid in self._pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        return total / os.sysconf("SC_CLK_TCK")

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker process, in MB."""
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        sizes = []
        for pid in children.split():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes.append(round(int(line.split()[1]) / 1024, 1))
            except OSError:
                continue
        return sizes

    def stop(self) -> None:
        if self.proc.poll() is None:
            # Quick shutdown: a worker thread may be stuck in a long query.
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _clients(port: int) -> list[loadgen.Client]:
    return [loadgen.Client(HOST, port) for _ in range(CLIENTS)]


def _signed_in_clients(port: int) -> list[loadgen.Client]:
    """One staff session per client: the sign-in form with its CSRF token, then POST."""
    clients = _clients(port)
    for client in clients:
        client.get_csrf("/staff/sign-in")
        status = client.request(
            "POST",
            "/staff/sign-in",
            {"csrf_token": client.csrf or "", "email": STAFF_EMAIL, "password": STAFF_PASSWORD},
        )[0]
        if status != 302:
            raise RuntimeError(f"staff sign-in answered {status}")
    return clients


def _publisher_clients(port: int) -> list[loadgen.Client]:
    """One publisher session per client, each its own account (a two-factor code is good
    once per account): password, then the code from the account's known secret."""
    import pyotp

    from bench.generate import PUBLISHER_PASSWORD, PUBLISHERS, publisher_email, publisher_secret

    clients = _clients(port)
    for n, client in enumerate(clients):
        account = n % PUBLISHERS
        client.get_csrf("/staff/sign-in")
        status, headers, _ = client.request(
            "POST",
            "/staff/sign-in",
            {
                "csrf_token": client.csrf or "",
                "email": publisher_email(account),
                "password": PUBLISHER_PASSWORD,
            },
        )
        if status != 302 or "/code" not in headers.get("Location", ""):
            raise RuntimeError(f"publisher sign-in answered {status}")
        client.get_csrf("/staff/sign-in/code")
        code = pyotp.TOTP(publisher_secret(account)).now()
        status = client.request(
            "POST", "/staff/sign-in/code", {"csrf_token": client.csrf or "", "code": code}
        )[0]
        if status != 302:
            raise RuntimeError(f"publisher sign-in code answered {status}")
    return clients


def _response_ids(database_url: str, slug: str, count: int = 4) -> list[int]:
    """Responses of an engagement that have themes, for the response editor's pages."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    text(
                        "SELECT DISTINCT r.id FROM response r"
                        " JOIN engagement e ON e.id = r.engagement_id"
                        " JOIN response_theme t ON t.response_id = r.id"
                        " WHERE e.slug = :slug ORDER BY r.id LIMIT :count"
                    ),
                    {"slug": slug, "count": count},
                ).scalars()
            )
    finally:
        engine.dispose()


def _measure_pages(app, env, logs, args, pages, make_clients, out) -> Gunicorn:
    """Load-test signed-in pages one after another against INBOX_TARGET (as the inbox)."""
    pages = {k: v for k, v in pages.items() if not args.only or k in args.only}
    if not pages:
        return app
    clients = make_clients(app.port)
    for name, path_for in pages.items():
        probe_ms, _ = _probe_signed_in(clients[0], path_for, args)
        if probe_ms is None:
            common.log(f"web: {name}: one request took over {args.probe_timeout} s; skipped")
            out[name] = _check(_timed_out(args), INBOX_TARGET)
            _close(clients)
            app = _restart(app, env, logs)
            clients = make_clients(app.port)
            continue
        figure = _measure(name, app, clients, _get(path_for), args)
        figure["single_request_ms"] = round(probe_ms, 1)
        out[name] = _check(figure, INBOX_TARGET)
    _close(clients)
    return app


def _close(clients: list[loadgen.Client]) -> None:
    for client in clients:
        client.close()


def _get(path_for):
    """A request function that GETs ``path_for(n)``."""

    def send(client: loadgen.Client, n: int) -> int:
        return client.request("GET", path_for(n))[0]

    return send


def _probe(port: int, send, args) -> tuple[float | None, int]:
    """One request alone, to catch an endpoint too slow to load-test (None: timed out)."""
    client = loadgen.Client(HOST, port, timeout=args.probe_timeout)
    try:
        t0 = time.perf_counter()
        status = send(client, 0)
        return (time.perf_counter() - t0) * 1000, status
    except TimeoutError:
        return None, 0
    finally:
        client.close()


def _probe_signed_in(client: loadgen.Client, path_for, args) -> tuple[float | None, int]:
    """Like _probe, on a signed-in client's own connection."""
    previous = client.timeout
    client.close()
    client.timeout = args.probe_timeout
    try:
        t0 = time.perf_counter()
        status = client.request("GET", path_for(0))[0]
        return (time.perf_counter() - t0) * 1000, status
    except TimeoutError:
        return None, 0
    finally:
        client.close()
        client.timeout = previous


def _measure(
    name: str, server: Gunicorn, clients, send, args, *, expect=(200,), warmup=None, rate=None
) -> dict:
    """Closed loop (each client sends again as soon as it has its answer) or, given a
    ``rate``, open loop at that many requests a second."""
    common.log(f"web: {name}" + (f" ({rate:g} requests a second)" if rate else ""))
    warmup = CLIENTS * 3 if warmup is None else warmup
    loadgen.run(clients, send, expect=expect, max_requests=warmup, max_seconds=args.seconds)
    cpu = server.cpu_seconds()
    if rate is None:
        result = loadgen.run(
            clients, send, expect=expect, max_requests=args.max_requests, max_seconds=args.seconds
        )
    else:
        result = loadgen.run_at_rate(
            clients,
            send,
            rate=rate,
            expect=expect,
            max_requests=args.max_requests,
            max_seconds=args.seconds,
        )
    cpu = server.cpu_seconds() - cpu
    summary = result.summary()
    if rate is not None:
        summary["offered_rate"] = rate
    # CPU the gunicorn processes used per request: unlike req/s and latency, hardly
    # changed by other work on the machine (a PostgreSQL server's own CPU is not in it).
    summary["server_cpu_ms_per_request"] = (
        round(1000 * cpu / result.requests, 2) if result.requests else None
    )
    common.log(
        f"web: {name}: {summary['rps']} req/s, p50 {summary['p50_ms']} ms, "
        f"p95 {summary['p95_ms']} ms, {summary['requests']} requests, {summary['errors']} errors, "
        f"{summary['server_cpu_ms_per_request']} ms server CPU per request"
    )
    return summary


def _form_texts(count: int) -> list[dict[str, str]]:
    rng = random.Random(99)
    forms = []
    for _ in range(count):
        themes = textgen.pick_themes(rng)
        borough = textgen.pick(rng, textgen.BOROUGHS_NWL)
        name, email = textgen.person(rng)
        form = {
            "text": textgen.feedback_text(rng, themes, borough),
            "author_name": name if rng.random() < 0.7 else "",
            "author_email": email if rng.random() < 0.6 else "",
            "area": borough if rng.random() < 0.8 else "",
            "website": "",
        }
        if rng.random() < 0.4:
            form["consent_to_quote"] = "y"
        if form["author_email"] and rng.random() < 0.4:
            form["contact_me"] = "y"
        forms.append(form)
    return forms


def _timed_out(args) -> dict:
    return {
        "requests": 0,
        "errors": 1,
        "rps": 0.0,
        "p50_ms": None,
        "p95_ms": None,
        "skipped": f"a single request took longer than {args.probe_timeout} s",
    }


CATCH_UP = """
import json, time
from engage import create_app, tasks
app = create_app()
tasks.bind(app)
done = {"classify": 0, "acknowledge": 0}
t0 = time.perf_counter()
while True:
    result = tasks.process_new_feedback.call_local()
    if not any(isinstance(v, int) and v for v in result.values()):
        break
    for key in done:
        done[key] += result[key] if isinstance(result[key], int) else 0
seconds = time.perf_counter() - t0
print(json.dumps({**done, "seconds": round(seconds, 2),
                  "items_per_s": round(done["classify"] / seconds, 1) if seconds else None}))
"""


def _worker_catch_up(env: dict[str, str]) -> dict:
    """Run the worker's process_new_feedback task until nothing is owed; its rate."""
    common.log("web: form: the worker classifies and acknowledges what the form stored")
    result = common.run_json([sys.executable, "-c", CATCH_UP], env=env)
    common.log(
        f"web: form: worker classified {result['classify']} and acknowledged "
        f"{result['acknowledge']} items in {result['seconds']} s"
    )
    return result


def _restart(app: Gunicorn, env: dict[str, str], logs: Path) -> Gunicorn:
    t0 = time.perf_counter()
    app.stop()
    fresh = Gunicorn("wsgi:app", env, logs)
    fresh.wait_ready("/healthz")
    common.log(f"web: gunicorn restarted in {time.perf_counter() - t0:.1f} s")
    return fresh


def _check(figure: dict, target: dict, bare_rps: float | None = None) -> dict:
    ok = figure["errors"] == 0 and figure["requests"] > 0
    if "ratio_to_bare_min" in target and bare_rps:
        figure["ratio_to_bare"] = round(figure["rps"] / bare_rps, 3)
        ok = ok and figure["ratio_to_bare"] >= target["ratio_to_bare_min"]
    if "p95_ms_max" in target:
        ok = ok and figure["p95_ms"] is not None and figure["p95_ms"] < target["p95_ms_max"]
    if "rps_min" in target:
        ok = ok and figure["rps"] >= target["rps_min"]
    figure["target"] = target
    figure["pass"] = bool(ok)
    return figure


def run(args: argparse.Namespace) -> dict:
    instance = Path(args.instance)
    env = common.app_env(args.database_url, instance, Path(args.model_dir))
    logs = instance / "gunicorn.log"
    common.log(f"web: starting gunicorn ({WORKERS} sync workers), log {logs}")
    app = Gunicorn("wsgi:app", env, logs)
    bare = Gunicorn("bench.bare:app", env, instance / "gunicorn-bare.log")
    out: dict = {
        "server": {
            "workers": WORKERS,
            "worker_class": "sync",
            "clients": CLIENTS,
            "max_requests": args.max_requests,
            "max_seconds": args.seconds,
        }
    }

    def wanted(name: str) -> bool:
        return not args.only or name in args.only

    try:
        app.wait_ready("/healthz")
        bare.wait_ready("/")
        clients = _clients(bare.port)
        out["bare"] = _measure("bare", bare, clients, _get(lambda n: "/"), args)
        _close(clients)
        bare.stop()
        bare_rps = out["bare"]["rps"]

        pages = {
            "public_log": lambda n: "/you-said-we-did",
            "engagement": lambda n: f"/engagements/{BIG_ENGAGEMENT}",
            "api_responses": lambda n: "/api/v1/responses",
        }
        clients = _clients(app.port)
        for name, path_for in pages.items():
            if not wanted(name):
                continue
            # A request that alone takes longer than the probe limit is not load-tested:
            # it is reported as failing, and gunicorn restarted (a thread is still busy).
            probe_ms, _ = _probe(app.port, _get(path_for), args)
            if probe_ms is None:
                common.log(f"web: {name}: one request took over {args.probe_timeout} s; skipped")
                out[name] = _check(_timed_out(args), PAGE_TARGET, bare_rps)
                _close(clients)
                app = _restart(app, env, logs)
                clients = _clients(app.port)
                continue
            figure = _measure(name, app, clients, _get(path_for), args)
            figure["single_request_ms"] = round(probe_ms, 1)
            out[name] = _check(figure, PAGE_TARGET, bare_rps)

        # The staff inbox, signed in as a triager (one session per client), on the data
        # set as generated: before the form's posts and the worker's catch-up write to it.
        filters = [
            f"engagement={e}&theme={t}&status={s}"
            for e in (BIG_ENGAGEMENT, "nel-integrated-care-system", OPEN_ENGAGEMENT)
            for t in ("services", "money", "unclassified")
            for s in ("new", "triaged")
        ]
        inbox = {
            "inbox": lambda n: "/staff/inbox",
            "inbox_filtered": lambda n: f"/staff/inbox?{filters[n % len(filters)]}",
            "inbox_search": lambda n: (
                f"/staff/inbox?q={textgen.SEARCH_WORDS[n % len(textgen.SEARCH_WORDS)]}"
            ),
        }
        app = _measure_pages(app, env, logs, args, inbox, _signed_in_clients, out)
        out["inbox_variants"] = {
            "inbox_filtered": filters,
            "inbox_search": [f"q={w}" for w in textgen.SEARCH_WORDS],
        }

        # The rest of the staff area at the same target (issue #22): the dashboard, the
        # campaigns page and the response editor. The dashboard's figures are kept a
        # minute per worker, so single_request_ms (the first, uncounted request) is what
        # the first person to open it waits.
        dashboards = [
            "",  # the default: the engagement open today, over its open period
            f"?engagement={BIG_ENGAGEMENT}",
            "?engagement=all&from=2019-01-01&to=2026-12-31",
        ]
        campaign_filters = [
            "",
            f"?engagement={BIG_ENGAGEMENT}",
            "?theme=money",
            f"?engagement={OPEN_ENGAGEMENT}&size=100",
        ]
        staff_pages = {
            "dashboard": lambda n: f"/staff/dashboard{dashboards[n % len(dashboards)]}",
            "campaigns": lambda n: (
                f"/staff/duplicates{campaign_filters[n % len(campaign_filters)]}"
            ),
        }
        app = _measure_pages(app, env, logs, args, staff_pages, _signed_in_clients, out)
        responses = _response_ids(args.database_url, BIG_ENGAGEMENT)
        editor_pages = {
            "response_editor": lambda n: f"/staff/responses/{responses[n % len(responses)]}",
            "response_new": lambda n: (
                f"/staff/responses/new?engagement={BIG_ENGAGEMENT}"
                f"&theme={('money', 'services', 'jobs')[n % 3]}"
            ),
        }
        app = _measure_pages(app, env, logs, args, editor_pages, _publisher_clients, out)
        out["staff_variants"] = {
            "dashboard": dashboards,
            "campaigns": campaign_filters,
            "response_editor": [f"/staff/responses/{i}" for i in responses],
        }
        _close(clients)  # gunicorn may have been restarted: the form's clients start afresh
        clients = _clients(app.port)

        # The form: each client is a browser session that loaded the form's page first.
        # If that page is too slow to load (see "engagement"), the session's token comes
        # from /track instead: Flask-WTF's token belongs to the session, not to a form.
        csrf_page = f"/engagements/{OPEN_ENGAGEMENT}"
        if not wanted("form"):
            pass
        elif out.get("engagement", {}).get("skipped"):
            # Engagement pages time out on this database: do not wait for one again.
            common.log("web: form: engagement pages too slow; CSRF tokens from /track")
            csrf_page = "/track"
        elif _probe(app.port, _get(lambda n: csrf_page), args)[0] is None:
            common.log(f"web: form: {csrf_page} too slow; CSRF tokens from /track")
            _close(clients)
            app = _restart(app, env, logs)
            clients = _clients(app.port)
            csrf_page = "/track"
        if wanted("form"):
            for client in clients:
                client.get_csrf(csrf_page)
            forms = _form_texts(500)
            # Every post's text is its own: the form stores a repeat of the same text
            # from the same session once, and this measures storing, not answering
            # repeats.
            serial = itertools.count(1)

            def post(client: loadgen.Client, n: int) -> int:
                form = {**forms[n % len(forms)], "csrf_token": client.csrf or ""}
                form["text"] = f"{form['text']} (post {next(serial)})"
                path = f"/engagements/{OPEN_ENGAGEMENT}/feedback"
                return client.request("POST", path, form)[0]

            figure = _measure("form", app, clients, post, args, expect=(303,))
            out["form"] = _check(figure, FORM_TARGET)
            out["form"]["csrf_from"] = csrf_page
            figure = _measure(
                "form_at_rate",
                app,
                clients,
                post,
                args,
                expect=(303,),
                rate=FORM_RATE_TARGET["rate"],
            )
            out["form_at_rate"] = _check(figure, FORM_RATE_TARGET)
            # The request only stores; the worker's task classifies and acknowledges
            # what the form run left, in batches: how fast does it catch up?
            out["form"]["worker_catch_up"] = _worker_catch_up(env)
        _close(clients)

        out["server"]["worker_rss_mb"] = app.worker_rss_mb()
        for name, figure in out.items():
            if name not in ("server", "bare") and isinstance(figure, dict) and "rps" in figure:
                figure.setdefault("ratio_to_bare", round(figure["rps"] / bare_rps, 3))
    finally:
        app.stop()
        bare.stop()
    errors = [line for line in logs.read_text(errors="replace").splitlines() if "Error" in line]
    if errors:
        out["server_log_errors"] = errors[:5]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_where_arguments(parser)
    parser.add_argument("--probe-timeout", type=float, default=10.0)
    parser.add_argument(
        "--only",
        type=lambda v: set(filter(None, v.split(","))),
        default=set(),
        help="comma-separated endpoints, e.g. form,inbox (the bare route always runs)",
    )
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 5)))
    parser.add_argument(
        "--max-requests", type=int, default=int(os.environ.get("BENCH_MAX_REQUESTS", 3000))
    )
    args = parser.parse_args(argv)
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
