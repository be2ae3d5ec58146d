"""How each cost grows from 10,000 to 1,000,000 items (issue #25); print ONE JSON object.

    python -m bench growth                          # PostgreSQL 10k, 100k, 1M; SQLite 10k, 100k
    python -m bench growth --sizes 10000,100000     # a quicker run
    python -m bench growth --backends postgresql --write-readme

For each database and size, on a fresh database (PostgreSQL: ``engage_growth_<pid>``,
created and dropped here; SQLite: a file in a temporary folder):

1. ``bench.generate data --items N --staff-labels 5000`` -- the bench's deterministic
   generator (seed 9), loaded with COPY on PostgreSQL (``--copy``) and with Core
   executemany in one transaction on SQLite; staff review is kept on 5,000 items at
   every size, so ``engage train`` always learns from 5,000 staff labels.
2. ``bench_web.py --only ...`` -- the public log, an engagement page, the API, the staff
   inbox (plain, filtered by engagement, theme and status, searched) and the dashboard,
   8 closed-loop clients against the bench's gunicorn, with the bare route of the same
   run for the ratios.
3. ``engage export-feedback --format csv`` to a file: seconds, rows/s and the child's
   peak RSS (``wait4``).
4. ``engage purge --dry-run --json``: seconds and peak RSS.
5. ``engage import-mail --json`` of a 10,000-message mbox into the full database
   (classified with the bench's model, as in ``make bench``).
6. PostgreSQL only (the issue's targets for these are PostgreSQL's, and training costs
   a minute a run): ``engage train --json`` on the seed corpus plus the 5,000 staff
   labels.
7. PostgreSQL only: the real purge (``retention.purge`` at ENGAGE_RETENTION_DAYS, as
   ``engage purge`` runs it) in a child process that times every transaction from its
   first statement to its commit: how long the longest batch held its row locks, and the rate. It is
   stopped after BENCH_GROWTH_PURGE_SECONDS (default 30) and the time for the whole
   purge projected from the rate and the dry run's count.

The JSON holds every figure per database and size, the growth ratio of the largest
size over the one before it (1M / 100k in a full run), and the issue's targets judged
at the largest PostgreSQL size. ``bench/out/growth.json`` keeps it; ``bench/growth.svg``
is the plot of p95 against size per page (hand-written SVG); ``--write-readme`` puts
the tables into bench/README.md between the ``growth:begin``/``growth:end`` markers.
Not part of .ci/run. The issue asks for under 20 minutes on 2 cores; the one full run so
far took 37 minutes on a machine loaded by other jobs (bench/README.md, "Growth").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_import, bench_web, common  # noqa: E402

HERE = Path(__file__).resolve().parent
SIZES = (10_000, 100_000, 1_000_000)
SQLITE_MAX = 100_000  # SQLite is measured at 10k and 100k only
STAFF_LABELS = 5_000
MBOX_MESSAGES = 10_000
PAGES = (
    "public_log",
    "engagement",
    "api_responses",
    "inbox",
    "inbox_filtered",
    "inbox_search",
    "dashboard",
)
PUBLIC_PAGES = ("public_log", "engagement", "api_responses")
TARGETS = {
    "page_p95_ms_max": 100.0,
    "page_growth_max": 1.5,
    "public_ratio_to_bare_min": 0.5,
    "export_peak_rss_mb_max": 400.0,
    "import_messages_per_s_min": 1000.0,
    "purge_seconds_max": 120.0,
    "purge_batch_seconds_max": 1.0,
}
README_BEGIN = "<!-- growth:begin -->"
README_END = "<!-- growth:end -->"


# ----------------------------------------------------------------- child processes


def measured(args: list[str], env: dict[str, str], timeout: float | None = None) -> dict:
    """Run one command; wall seconds, CPU seconds, its peak RSS (``wait4``) and stdout.

    With ``timeout`` the command is interrupted (SIGINT, then SIGKILL) after that long.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, cwd=common.ROOT, env=env, stdout=out, stderr=err)
        status, usage, stopped = _wait(proc, timeout)
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode("utf-8", "replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0 and not stopped:
        # The command line shortened (a script given with -c would hide the error).
        name = " ".join(a if len(a) < 80 else a[:30] + "…" for a in args[:3])
        raise RuntimeError(f"{name} exited {code}: {stderr[-1500:]}")
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "stopped": stopped,
        "stdout": stdout,
    }


def _wait(proc: subprocess.Popen, timeout: float | None, grace: float = 10.0):
    """wait4() the child; after ``timeout`` SIGINT, and SIGKILL ``grace`` seconds later
    (a purge interrupted between batches can carry on with the next one)."""
    if not timeout:
        _, status, usage = os.wait4(proc.pid, 0)
        return status, usage, False
    deadline = time.monotonic() + timeout
    stopped = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return status, usage, stopped
        now = time.monotonic()
        if now >= deadline and not stopped:
            proc.send_signal(signal.SIGINT)
            stopped = True
        elif stopped and now >= deadline + grace:
            proc.kill()
        time.sleep(0.05)


def _last_json(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.strip().startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def export_feedback(env: dict[str, str], instance: Path, rows: int) -> dict:
    target = instance / "export.csv"
    common.log(f"export-feedback of {rows:,} items")
    result = measured(
        [str(common.VENV_BIN / "engage"), "export-feedback", "--output", str(target)], env
    )
    result.pop("stdout")
    result["rows"] = rows
    result["bytes"] = target.stat().st_size
    result["rows_per_s"] = round(rows / result["seconds"], 1)
    target.unlink()
    return result


def purge_dry_run(env: dict[str, str]) -> dict:
    common.log("purge --dry-run")
    result = measured([str(common.VENV_BIN / "engage"), "purge", "--dry-run", "--json"], env)
    result["counts"] = _last_json(result.pop("stdout"))
    return result


def train(env: dict[str, str]) -> dict:
    common.log(f"train with {STAFF_LABELS:,} staff labels")
    result = measured([str(common.VENV_BIN / "engage"), "train", "--json"], env)
    result["result"] = _last_json(result.pop("stdout"))
    return result


def import_mail(env: dict[str, str], mbox: Path) -> dict:
    """`engage import-mail` of the mbox, then one worker until all of it is classified.

    The import stores and commits each batch and hands it to the worker (as every
    channel does with ENGAGE_POST_COMMIT_IN_WORKER, on here), so its rate is that of
    storing; ``classified_after_s`` is the import plus one worker process running
    process_new_feedback until nothing is owed (bench_web's catch-up): how long until
    every message is classified and its acknowledgement queued.
    """
    backlog = _set_backlog_aside(env["DATABASE_URL"])
    common.log(f"import-mail of {MBOX_MESSAGES:,} messages into the full database")
    result = bench_import.import_mail(mbox, {**env, "ENGAGE_POST_COMMIT_IN_WORKER": "true"})
    result["backlog_set_aside"] = backlog
    result["messages"] = MBOX_MESSAGES
    result["messages_per_s"] = round(MBOX_MESSAGES / result["seconds"], 1)
    common.log("import-mail: one worker classifies and acknowledges what it stored")
    catch_up = common.run_json([sys.executable, "-c", bench_web.CATCH_UP], env=env)
    result["worker_catch_up"] = catch_up
    result["classified_after_s"] = round(result["seconds"] + catch_up["seconds"], 2)
    return result


def _set_backlog_aside(url: str) -> int:
    """Mark the data set's never-classified items (a tenth of them, kept for the inbox's
    "unclassified" filter, measured before this) as classified, untagged: a running
    worker would have classified them long before an import, and the worker's catch-up
    after it then times the imported messages, not the generator's backlog (the sweep
    takes the oldest first). Their counts do not move: they stay without a theme."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            return conn.execute(
                text(
                    "UPDATE feedback_item SET classified_at = submitted_at "
                    "WHERE classified_at IS NULL"
                )
            ).rowcount
    finally:
        engine.dispose()


# The real purge, its transactions timed from the session's first statement (row locks
# are taken by the batch's UPDATEs, after it) to its commit. Each duration is written
# to a file as it happens, so a purge stopped at the time limit still reports.
_PURGE = """
import json, sys, time
from sqlalchemy import event
from engage import create_app
from engage.extensions import db
import engage, importlib, pathlib
app = create_app()
# engage/retention.py, or engage/feedback/retention.py before the move: whichever this
# tree holds (a plain "try the new name" can load another checkout's module through an
# editable install's finder).
moved = (pathlib.Path(engage.__file__).parent / "retention.py").exists()
retention = importlib.import_module("engage.retention" if moved else "engage.feedback.retention")
log = open(sys.argv[1], "a", buffering=1)
with app.app_context():
    began = {}
    @event.listens_for(db.session, "after_begin")
    def _begin(session, transaction, connection):
        began.setdefault("t", time.perf_counter())
    @event.listens_for(db.session, "after_commit")
    def _commit(session):
        if "t" in began:
            log.write(json.dumps({"s": time.perf_counter() - began.pop("t")}) + "\\n")
    days = int(app.config.get("ENGAGE_RETENTION_DAYS", retention.DEFAULT_DAYS))
    t0 = time.perf_counter()
    result = retention.purge(days)
    log.write(json.dumps({"done": result.as_dict(), "seconds": time.perf_counter() - t0}) + "\\n")
"""


def purge(env: dict[str, str], instance: Path, to_purge: int, max_seconds: float) -> dict:
    common.log(f"purge for real (stopped after {max_seconds:g} s)")
    record = instance / "purge-batches.jsonl"
    record.unlink(missing_ok=True)
    result = measured([sys.executable, "-c", _PURGE, str(record)], env, timeout=max_seconds)
    result.pop("stdout")
    entries = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    batches = [e["s"] for e in entries if "s" in e]
    done = next((e for e in entries if "done" in e), None)
    batch_size = _retention_batch()
    result["batches"] = len(batches)
    result["batch_items"] = batch_size
    result["longest_batch_s"] = round(max(batches), 3) if batches else None
    result["median_batch_s"] = round(sorted(batches)[len(batches) // 2], 3) if batches else None
    result["completed"] = done is not None
    result["items_to_purge"] = to_purge
    if done:
        result["counts"] = done["done"]
        result["purge_seconds"] = round(done["seconds"], 2)
        result["projected_seconds"] = result["purge_seconds"]
    elif batches:
        # Batches walk the items older than the cutoff by id, BATCH at a time; the items
        # read so far over the time they took gives the rate for the rest.
        total_items = to_purge or 1
        per_batch = sum(batches) / len(batches)
        result["projected_seconds"] = round(per_batch * (total_items / batch_size), 1)
    return result


def _retention_batch() -> int:
    return 250  # retention.BATCH (importing the module here would load the app's models)


# ---------------------------------------------------------------- one size, one db


def measure_size(backend: str, size: int, work: Path, args) -> dict:
    instance = work / f"{backend}-{size}"
    instance.mkdir(parents=True, exist_ok=True)
    models = work / "models"
    database = contextlib.ExitStack()  # closed in the finally below: drops PostgreSQL's
    url = database.enter_context(
        common.bench_database(backend, instance, f"engage_growth_{os.getpid()}")
    )
    where = ["--database-url", url, "--instance", str(instance), "--model-dir", str(models)]
    env = common.app_env(url, instance, models)
    out: dict = {"items": size, "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        common.log(f"{backend} {size:,}: generating")
        command = [sys.executable, "-m", "bench.generate", "data", *where, "--items", str(size)]
        command += ["--staff-labels", str(STAFF_LABELS), "--copy"]
        out["generate"] = common.run_json(command, timeout=3600)
        rows = out["generate"]["rows"]["feedback_item"]
        common.log(f"{backend} {size:,}: pages")
        out["web"] = _step(
            lambda: common.run_json(
                [sys.executable, str(HERE / "bench_web.py"), *where, "--only", ",".join(PAGES)]
            )
        )
        out["export_feedback"] = _step(lambda: export_feedback(env, instance, rows))
        out["purge_dry_run"] = _step(lambda: purge_dry_run(env))
        # Before training: the import classifies with the bench's model, as in `make bench`.
        out["import_mail"] = _step(lambda: import_mail(env, Path(args.mbox)))
        if backend == "postgresql":  # the train and purge targets are PostgreSQL's
            out["train"] = _step(lambda: train(env))
            to_purge = out["purge_dry_run"].get("counts", {}).get("items", 0)
            out["purge"] = _step(lambda: purge(env, instance, to_purge, args.purge_seconds))
        out["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        database.close()
        if not args.keep:
            shutil.rmtree(instance, ignore_errors=True)
    return out


def _step(fn) -> dict:
    t0 = time.perf_counter()
    try:
        result = fn()
    except Exception as error:
        common.log(f"step failed: {error}")
        return {"error": f"{type(error).__name__}: {error}"[:2000]}
    result.setdefault("step_seconds", round(time.perf_counter() - t0, 1))
    return result


# ------------------------------------------------------------- figures and targets


def figures(run: dict) -> dict[str, float | None]:
    """The flat figures of one database and size, e.g. {"inbox.p95_ms": 41.2, ...}."""
    flat: dict[str, float | None] = {}
    web = run.get("web", {})
    for page in PAGES:
        page_figures = web.get(page) or {}
        flat[f"{page}.p95_ms"] = page_figures.get("p95_ms")
        flat[f"{page}.rps"] = page_figures.get("rps")
        flat[f"{page}.cpu_ms"] = page_figures.get("server_cpu_ms_per_request")
        # One request alone before the load test: for the dashboard and the engagement
        # page's figures, the recount that the per-worker cache then hides for a minute.
        flat[f"{page}.first_ms"] = page_figures.get("single_request_ms")
        if page in PUBLIC_PAGES:
            flat[f"{page}.ratio_to_bare"] = page_figures.get("ratio_to_bare")
    flat["bare.rps"] = (web.get("bare") or {}).get("rps")
    export = run.get("export_feedback", {})
    flat["export_feedback.seconds"] = export.get("seconds")
    flat["export_feedback.rows_per_s"] = export.get("rows_per_s")
    flat["export_feedback.peak_rss_mb"] = export.get("peak_rss_mb")
    flat["purge_dry_run.seconds"] = run.get("purge_dry_run", {}).get("seconds")
    flat["purge_dry_run.peak_rss_mb"] = run.get("purge_dry_run", {}).get("peak_rss_mb")
    flat["train.seconds"] = run.get("train", {}).get("seconds")
    flat["import_mail.messages_per_s"] = run.get("import_mail", {}).get("messages_per_s")
    flat["import_mail.peak_rss_mb"] = run.get("import_mail", {}).get("peak_rss_mb")
    flat["import_mail.classified_after_s"] = run.get("import_mail", {}).get("classified_after_s")
    purged = run.get("purge", {})
    flat["purge.longest_batch_s"] = purged.get("longest_batch_s")
    flat["purge.median_batch_s"] = purged.get("median_batch_s")
    flat["purge.projected_seconds"] = purged.get("projected_seconds")
    flat["generate.seconds"] = run.get("generate", {}).get("seconds", {}).get("total")
    return flat


def growth(runs: dict[str, dict]) -> dict:
    """Each figure at the largest size over the size before it."""
    sizes = sorted(int(s) for s in runs)
    if len(sizes) < 2:
        return {}
    small, large = sizes[-2], sizes[-1]
    a, b = figures(runs[str(small)]), figures(runs[str(large)])
    ratios = {
        key: round(b[key] / a[key], 2) if a.get(key) and b.get(key) is not None else None
        for key in b
    }
    return {"from": small, "to": large, "ratios": ratios}


def judge(report: dict) -> dict[str, dict]:
    """The issue's targets, at the largest PostgreSQL size measured."""
    runs = report.get("postgresql", {})
    if not runs:
        return {}
    largest = str(max(int(s) for s in runs))
    f = figures(runs[largest])
    ratios = report.get("growth", {}).get("postgresql", {}).get("ratios", {})
    t = TARGETS
    checks: dict[str, dict] = {}

    def check(name: str, value, op: str, limit: float) -> None:
        ok = value is not None and (value < limit if op == "<" else value >= limit)
        if op == "<=":
            ok = value is not None and value <= limit
        checks[name] = {"value": value, "target": f"{op} {limit:g}", "pass": ok, "size": largest}

    for page in PAGES:
        check(f"{page}.p95_ms", f[f"{page}.p95_ms"], "<", t["page_p95_ms_max"])
        if ratios:
            check(f"{page}.p95_growth", ratios.get(f"{page}.p95_ms"), "<=", t["page_growth_max"])
    for page in PUBLIC_PAGES:
        check(
            f"{page}.ratio_to_bare", f[f"{page}.ratio_to_bare"], ">=", t["public_ratio_to_bare_min"]
        )
    check(
        "export_feedback.peak_rss_mb",
        f["export_feedback.peak_rss_mb"],
        "<",
        t["export_peak_rss_mb_max"],
    )
    check(
        "import_mail.messages_per_s",
        f["import_mail.messages_per_s"],
        ">=",
        t["import_messages_per_s_min"],
    )
    check("purge.projected_seconds", f["purge.projected_seconds"], "<", t["purge_seconds_max"])
    check("purge.longest_batch_s", f["purge.longest_batch_s"], "<", t["purge_batch_seconds_max"])
    return checks


# ------------------------------------------------------------------ plot and tables


_COLOURS = ("#005eb8", "#d5281b", "#007f3b", "#7c2855", "#ed8b00", "#330072", "#425563")


def svg_plot(report: dict) -> str:
    """p95 against size per page: log-log axes, PostgreSQL solid, SQLite dashed."""
    import math

    width, height, left, right, top, bottom = 720, 440, 70, 200, 40, 60
    series = []
    for backend, dash in (("postgresql", ""), ("sqlite", "6 4")):
        for n, page in enumerate(PAGES):
            points = [
                (int(size), run.get("web", {}).get(page, {}).get("p95_ms"))
                for size, run in sorted(report.get(backend, {}).items(), key=lambda kv: int(kv[0]))
            ]
            points = [(x, y) for x, y in points if y]
            if points:
                series.append((backend, page, _COLOURS[n % len(_COLOURS)], dash, points))
    xs = [x for *_, pts in series for x, _ in pts] or [10_000, 1_000_000]
    ys = [y for *_, pts in series for _, y in pts] or [1, 100]
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    x1 = x1 if x1 > x0 else x0 + 1
    y0 = math.floor(math.log10(min(ys + [TARGETS["page_p95_ms_max"]])))
    y1 = math.ceil(math.log10(max(ys + [TARGETS["page_p95_ms_max"]])))
    y1 = y1 if y1 > y0 else y0 + 1
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (math.log10(x) - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (math.log10(y) - y0) / (y1 - y0) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="22" font-size="14" font-weight="bold">p95 latency against '
        "feedback items (8 clients, gunicorn)</text>",
    ]
    for exponent in range(y0, y1 + 1):
        for mantissa in (1, 2, 5):
            value = mantissa * 10**exponent
            if value > 10**y1:
                continue
            y = py(value)
            out.append(
                f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="#d8dde0" stroke-width="{1 if mantissa == 1 else 0.5}"/>'
            )
            label = f"{value:g}"
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    target = py(TARGETS["page_p95_ms_max"])
    out.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{target:.1f}" y2="{target:.1f}" '
        'stroke="#d5281b" stroke-dasharray="2 3"/>'
    )
    out.append(f'<text x="{left + 4}" y="{target - 4:.1f}" fill="#d5281b">target 100 ms</text>')
    for size in sorted({x for *_, pts in series for x, _ in pts}):
        x = px(size)
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#d8dde0"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle">{size:,}</text>'
        )
    out.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#425563"/>'
    )
    out.append(
        f'<text x="{left + plot_w / 2}" y="{height - 14}" text-anchor="middle">feedback '
        "items (log scale)</text>"
    )
    out.append(
        f'<text transform="translate(18 {top + plot_h / 2}) rotate(-90)" '
        'text-anchor="middle">p95 ms (log scale)</text>'
    )
    legend_y = top
    for backend, page, colour, dash, points in series:
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dashes}/>'
        )
        for x, y in points:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
        lx = left + plot_w + 12
        out.append(
            f'<line x1="{lx}" x2="{lx + 22}" y1="{legend_y + 8}" y2="{legend_y + 8}" '
            f'stroke="{colour}" stroke-width="2"{dashes}/>'
        )
        short = "pg" if backend == "postgresql" else "sqlite"
        out.append(f'<text x="{lx + 28}" y="{legend_y + 12}">{page} ({short})</text>')
        legend_y += 17
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


ROWS = (
    *((f"{p}.p95_ms", f"{p}, p95 ms") for p in PAGES),
    *((f"{p}.cpu_ms", f"{p}, server CPU ms/request") for p in PAGES),
    *((f"{p}.first_ms", f"{p}, first request alone, ms") for p in PAGES),
    *((f"{p}.ratio_to_bare", f"{p}, × bare route") for p in PUBLIC_PAGES),
    ("bare.rps", "bare route, req/s"),
    ("export_feedback.seconds", "export-feedback, s"),
    ("export_feedback.rows_per_s", "export-feedback, rows/s"),
    ("export_feedback.peak_rss_mb", "export-feedback, peak RSS MB"),
    ("purge_dry_run.seconds", "purge --dry-run, s"),
    ("train.seconds", "train (5,000 staff labels), s"),
    ("import_mail.messages_per_s", "import-mail 10k, msg/s"),
    ("import_mail.peak_rss_mb", "import-mail 10k, peak RSS MB"),
    ("import_mail.classified_after_s", "import-mail 10k + one worker, s until all classified"),
    ("purge.median_batch_s", "purge, median batch s"),
    ("purge.longest_batch_s", "purge, longest batch s"),
    ("purge.projected_seconds", "purge, whole run s (projected if stopped)"),
    ("generate.seconds", "load (generate + COPY/insert + index), s"),
)


def markdown(report: dict) -> str:
    """The growth tables for bench/README.md."""
    lines = [
        f"Run of {report['started_at']}: {report['cpu_count']} CPUs, load average "
        f"{report['load_average_start']} at the start and {report['load_average_end']} at "
        f"the end, {report['seconds']:,} s in all.",
        "",
    ]
    for backend in ("postgresql", "sqlite"):
        runs = report.get(backend)
        if not runs:
            continue
        sizes = sorted(runs, key=int)
        grown = report.get("growth", {}).get(backend, {})
        ratio_head = f"{int(grown['to']):,} ÷ {int(grown['from']):,}" if grown else "growth"
        lines.append(f"**{backend}**")
        lines.append("")
        lines.append(
            "| figure | " + " | ".join(f"{int(s):,}" for s in sizes) + f" | {ratio_head} |"
        )
        lines.append("| --- | " + " | ".join("---:" for _ in sizes) + " | ---: |")
        per_size = {s: figures(runs[s]) for s in sizes}
        for key, label in ROWS:
            values = [
                _num(per_size[s].get(key), 2 if ("batch" in key or "ratio" in key) else 1)
                for s in sizes
            ]
            ratio = grown.get("ratios", {}).get(key) if grown else None
            lines.append(f"| {label} | " + " | ".join(values) + f" | {_num(ratio, 2)} |")
        lines.append("")
    checks = report.get("targets", {})
    if checks:
        lines.append("| target (PostgreSQL, largest size) | value | wanted | met |")
        lines.append("| --- | ---: | --- | --- |")
        for name, check in checks.items():
            met = "yes" if check["pass"] else "**no**"
            lines.append(f"| {name} | {_num(check['value'], 2)} | {check['target']} | {met} |")
        lines.append("")
    return "\n".join(lines)


def write_readme(table: str, readme: Path = HERE / "README.md") -> None:
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        raise RuntimeError(f"{readme} has no {README_BEGIN} … {README_END} markers")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_BEGIN}\n{table}\n{README_END}{tail}")


# ---------------------------------------------------------------------------- main


def _save(report: dict, started: float, args, *, partial: bool) -> None:
    """bench/out/growth.json and growth.md, and the plot; after each size (``partial``)
    and at the end (and bench/README.md then, with --write-readme)."""
    report["partial"] = partial
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["targets"] = judge(report)
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "growth.json").write_text(json.dumps(report, indent=2) + "\n")
    Path(args.svg).write_text(svg_plot(report))
    table = markdown(report)
    (out_dir / "growth.md").write_text(table)
    if args.write_readme and not partial:
        write_readme(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--write-readme", action="store_true", help="update bench/README.md")
    parser.add_argument(
        "--purge-seconds",
        type=float,
        default=float(os.environ.get("BENCH_GROWTH_PURGE_SECONDS", 30)),
        help="stop the real purge after this long and project the rest (0: never)",
    )
    parser.add_argument("--svg", default=str(HERE / "growth.svg"))
    args = parser.parse_args(argv)
    os.environ.setdefault("BENCH_SECONDS", "4")  # per page (bench_web.py's default is 5)
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s)
    backends = [b for b in args.backends.split(",") if b in ("postgresql", "sqlite")]

    started = time.perf_counter()
    report: dict = {
        "cpu_count": os.cpu_count(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sizes": sizes,
        "staff_labels": STAFF_LABELS,
    }
    work = Path(tempfile.mkdtemp(prefix="engage-growth-"))
    failed = False
    try:
        common.log("growth: theme model and a 10,000-message mbox")
        report["model"] = common.run_json(
            [sys.executable, "-m", "bench.generate", "model", "--out", str(work / "models")]
        )
        args.mbox = str(work / "mail-g10k.mbox")
        mbox = ["--out", args.mbox, "--messages", str(MBOX_MESSAGES), "--tag", "g10k"]
        report["mbox"] = common.run_json([sys.executable, "-m", "bench.generate", "mbox", *mbox])
        for backend in backends:
            report[backend] = {}
            for size in sizes:
                if backend == "sqlite" and size > SQLITE_MAX:
                    continue
                run = _step(lambda b=backend, s=size: measure_size(b, s, work, args))
                report[backend][str(size)] = run
                failed |= "error" in run
                report.setdefault("growth", {})[backend] = growth(report[backend])
                _save(report, started, args, partial=True)  # a long run keeps what it has
    finally:
        if args.keep:
            common.log(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    _save(report, started, args, partial=False)
    print(json.dumps(report), flush=True)
    met = sum(c["pass"] for c in report["targets"].values())
    common.log(
        f"growth: done in {report['seconds']} s; {met} of {len(report['targets'])} targets "
        f"met; bench/out/growth.json, {args.svg}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
