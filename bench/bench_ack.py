"""Benchmark how soon the acknowledgement email leaves after a post; print one JSON object.

    python bench/bench_ack.py --database-url URL --instance DIR --model-dir DIR

(``python -m bench ack`` makes a fresh, small database per backend and calls this.)

Everything is a real process, as in production: gunicorn serving ``wsgi:app`` (the
request only stores the item and hands its work to the worker), two ``engage worker``
processes on one task queue (huey on a SQLite file in the instance folder, as without
REDIS_URL), and an SMTP server (aiosmtpd) in this process that notes when each email
arrives. After a warm-up, POSTS form posts are sent at RATE a second, each with its own
address; each latency runs from just before its POST is sent to its email's arrival.

Held to: p95 under 5 s, every post acknowledged, and none twice (two workers run the
hand-over and the minute's sweep at once: see engage.claiming).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, loadgen  # noqa: E402
from bench.bench_web import HOST, OPEN_ENGAGEMENT, Gunicorn, free_port  # noqa: E402

P95_SECONDS_MAX = 5.0
WORKER_PROCESSES = 2
WAIT_FOR_MAIL = 60.0  # after the last post, at most

_SETUP = """
import json, sys
from datetime import datetime
from flask_migrate import upgrade
from engage import create_app
from engage.classify.models import ModelVersion
from engage.demo import ENGAGEMENTS, ensure_engagement
from engage.extensions import db
from engage.feedback.service import ensure_default_themes
from bench.generate import MODEL_FILE, MODEL_VERSION
from bench.textgen import THEMES

meta = json.loads(open(sys.argv[1]).read())
app = create_app()
with app.app_context():
    upgrade()
    ensure_default_themes()
    for spec in ENGAGEMENTS.values():
        ensure_engagement(spec)
    db.session.add(ModelVersion(
        version=MODEL_VERSION, design=meta["design"], file_name=MODEL_FILE,
        n_train=meta["n_train"], training_sha256=meta["training_sha256"], cv_metrics={},
        thresholds={t: 0.5 for t in THEMES}, active=True, activated_at=datetime(2019, 5, 1),
        note="benchmark model"))
    db.session.commit()
print(json.dumps({"ok": True}))
"""


class Sink:
    """An aiosmtpd server noting when each recipient's email arrives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.arrived: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname=HOST, port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        now = time.monotonic()
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.arrived.setdefault(recipient.lower(), []).append(now)
        return "250 Message accepted for delivery"

    def count(self, addresses: list[str]) -> int:
        with self.lock:
            return sum(1 for a in addresses if a in self.arrived)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def _wait_for(sink: Sink, addresses: list[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while sink.count(addresses) < len(addresses) and time.monotonic() < deadline:
        time.sleep(0.05)


def run(args: argparse.Namespace) -> dict:
    instance = Path(args.instance)
    env = common.app_env(args.database_url, instance, Path(args.model_dir))
    common.log("ack: database, engagements and the model's registry row")
    common.run_json(
        [sys.executable, "-c", _SETUP, str(Path(args.model_dir, "bench-model.json"))], env=env
    )
    sink = Sink()
    sink.controller.start()
    env.update(MAIL_SERVER=HOST, MAIL_PORT=str(sink.port), ENGAGE_POST_COMMIT_IN_WORKER="true")
    logs = instance / "ack-processes.log"
    workers: list[subprocess.Popen] = []
    app: Gunicorn | None = None
    try:
        with logs.open("ab") as log:
            for _ in range(WORKER_PROCESSES):
                workers.append(
                    subprocess.Popen(
                        [str(common.VENV_BIN / "engage"), "worker", "--workers", "2"],
                        cwd=common.ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        app = Gunicorn("wsgi:app", env, logs)
        app.wait_ready("/healthz")
        clients = [loadgen.Client(HOST, app.port) for _ in range(args.clients)]
        for client in clients:
            client.get_csrf(f"/engagements/{OPEN_ENGAGEMENT}")
        sent: dict[str, float] = {}
        errors = 0
        serial = iter(range(10**9))

        def post(client: loadgen.Client, tag: str) -> None:
            nonlocal errors
            n = next(serial)
            address = f"{tag}-{n}@bench.example.org"
            form = {
                "csrf_token": client.csrf or "",
                "text": f"Post {n}: keep the walk-in centre open at weekends, please.",
                "author_email": address,
                "website": "",
            }
            sent[address] = time.monotonic()
            if client.request("POST", f"/engagements/{OPEN_ENGAGEMENT}/feedback", form)[0] != 303:
                errors += 1

        # Warm-up: the workers start, load the model and send their first emails.
        common.log("ack: warm-up (the workers load the model)")
        for client in clients:
            post(client, "warmup")
        warm = [a for a in sent if a.startswith("warmup")]
        _wait_for(sink, warm, 120)
        if sink.count(warm) < len(warm):
            raise RuntimeError(f"no acknowledgement arrived after warm-up; see {logs}")

        common.log(f"ack: {args.posts} posts at {args.rate:g}/s from {len(clients)} clients")
        threads = []
        started = time.monotonic()
        for n in range(args.posts):
            due = started + n / args.rate
            time.sleep(max(0.0, due - time.monotonic()))
            client = clients[n % len(clients)]
            thread = threading.Thread(target=post, args=(client, "post"))
            thread.start()
            threads.append(thread)
            if len(threads) >= len(clients):
                threads.pop(0).join()
        for thread in threads:
            thread.join()
        measured = [a for a in sent if a.startswith("post")]
        _wait_for(sink, measured, WAIT_FOR_MAIL)
        time.sleep(1.0)  # an email sent twice would arrive now
        with sink.lock:
            arrivals = {a: list(sink.arrived.get(a, [])) for a in measured}
        latencies = [times[0] - sent[a] for a, times in arrivals.items() if times]
        missing = sum(1 for times in arrivals.values() if not times)
        twice = sum(1 for times in arrivals.values() if len(times) > 1)
        for client in clients:
            client.close()
    finally:
        if app is not None:
            app.stop()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        sink.controller.stop()
    out = {
        "posts": len(measured),
        "rate": args.rate,
        "clients": len(clients),
        "worker_processes": WORKER_PROCESSES,
        "post_errors": errors,
        "received": len(latencies),
        "missing": missing,
        "sent_twice": twice,
        "p50_s": round(_percentile(latencies, 50), 3) if latencies else None,
        "p95_s": round(_percentile(latencies, 95), 3) if latencies else None,
        "max_s": round(max(latencies), 3) if latencies else None,
        "target": {"p95_s_max": P95_SECONDS_MAX},
    }
    out["pass"] = bool(
        latencies and not (missing or twice or errors) and out["p95_s"] < P95_SECONDS_MAX
    )
    common.log(
        f"ack: {out['received']} of {out['posts']} acknowledged, p50 {out['p50_s']} s, "
        f"p95 {out['p95_s']} s, max {out['max_s']} s, {twice} twice, {missing} missing"
    )
    return {"post_to_email": out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_where_arguments(parser)
    parser.add_argument("--posts", type=int, default=int(os.environ.get("BENCH_ACK_POSTS", 200)))
    parser.add_argument("--rate", type=float, default=float(os.environ.get("BENCH_ACK_RATE", 20)))
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
