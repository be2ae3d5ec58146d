"""Run the benchmarks and print ONE JSON object with every figure (issue #9).

    python -m bench                       # everything, SQLite and PostgreSQL (make bench)
    python -m bench classify              # only the classifier
    python -m bench web import            # only these parts
    python -m bench ack                   # only post-to-acknowledgement latency
    python -m bench growth [--sizes ...]  # 10k to 1M items (issue #25, bench/bench_growth.py)
    python -m bench --backends sqlite     # only one database
    python -m bench --keep                # keep the work folder (databases, logs, mboxes)

Steps, each a separate process printing JSON on its last stdout line:
bench/bench_classify.py; then bench/generate.py (a theme model, mboxes of 1,000 and
10,000 emails) and, for each database, bench/generate.py data (100,000 items),
bench/bench_web.py and bench/bench_import.py; bench/bench_ack.py runs on a fresh small
database of its own per backend (gunicorn, two `engage worker` processes and an SMTP
sink: seconds from a post to its acknowledgement email). PostgreSQL runs on a throwaway database
``engage_bench_<pid>``, dropped afterwards. Progress goes to stderr; the merged JSON
goes to stdout and to bench/out/latest.json. Targets are reported as pass/fail per
figure and never fail the run; a step that crashes does (exit status 1), after the
JSON with its error has been printed.

Budget knobs (environment): BENCH_SECONDS (per web endpoint, default 5),
BENCH_MAX_REQUESTS (per endpoint, 3000), BENCH_IMPORT_MAX_SECONDS (interrupt an
import after this long and count what it did; default 45, 0 = never).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402

HERE = Path(__file__).resolve().parent
PARTS = ("classify", "web", "import", "concerns", "ack")
BACKENDS = ("sqlite", "postgresql")
CLASSIFY_TARGETS = {
    "single_median_ms": ("<", 5.0),
    "batch_items_per_s": (">=", 2000.0),
    "train_seconds": ("<", 60.0),
}


def _script(name: str) -> list[str]:
    return [sys.executable, str(HERE / name)]


def _classify() -> dict:
    result = common.run_json(_script("bench_classify.py"))
    checks = {}
    for key, (op, limit) in CLASSIFY_TARGETS.items():
        value = result.get(key)
        ok = value is not None and (value < limit if op == "<" else value >= limit)
        checks[key] = {"target": f"{op} {limit:g}", "pass": ok}
    result["targets"] = checks
    return result


def _prepare(work: Path, parts: set[str]) -> dict:
    prepared: dict = {}
    models = work / "models"
    if parts & {"web", "import", "ack"}:
        common.log("generate: theme model (seed corpus, no cross-validation)")
        prepared["model"] = common.run_json(
            [sys.executable, "-m", "bench.generate", "model", "--out", str(models)]
        )
    if "import" in parts:
        prepared["mbox"] = {}
        for tag, count in (("k1", 1_000), ("k10", 10_000)):
            common.log(f"generate: mbox of {count:,} emails")
            prepared["mbox"][tag] = common.run_json(
                [
                    sys.executable,
                    "-m",
                    "bench.generate",
                    "mbox",
                    "--out",
                    str(work / f"mail-{tag}.mbox"),
                    "--messages",
                    str(count),
                    "--tag",
                    tag,
                ]
            )
    return prepared


def _backend(backend: str, work: Path, parts: set[str], mboxes: list[str]) -> dict:
    """Generate the data, then the web and import benchmarks, on one database."""
    instance = work / backend
    instance.mkdir(parents=True, exist_ok=True)
    models = work / "models"
    out: dict = {}
    with common.bench_database(backend, instance, f"engage_bench_{os.getpid()}") as url:
        where = ["--database-url", url, "--instance", str(instance), "--model-dir", str(models)]
        common.log(f"{backend}: generating 100,000 items and 5,000 responses")
        out["generate"] = common.run_json([sys.executable, "-m", "bench.generate", "data", *where])
        if "web" in parts:
            common.log(f"{backend}: web benchmark")
            out["web"] = _step(lambda: common.run_json([*_script("bench_web.py"), *where]))
        if "import" in parts:
            common.log(f"{backend}: import-mail benchmark")
            out["import_mail"] = _step(
                lambda: common.run_json([*_script("bench_import.py"), *where, *mboxes])
            )
    return out


def _ack(backend: str, work: Path) -> dict:
    """bench_ack.py on a fresh database of its own (no 100k items: it needs none)."""
    instance = work / backend / "ack"
    instance.mkdir(parents=True, exist_ok=True)
    with common.bench_database(backend, instance, f"engage_bench_ack_{os.getpid()}") as url:
        where = ["--database-url", url, "--instance", str(instance)]
        where += ["--model-dir", str(work / "models")]
        common.log(f"{backend}: post-to-acknowledgement benchmark")
        return common.run_json([*_script("bench_ack.py"), *where])


def _step(fn) -> dict:
    """Run one step; a crash becomes {"error": …} so the other figures still print."""
    t0 = time.perf_counter()
    try:
        result = fn()
    except Exception as error:
        common.log(f"step failed: {error}")
        return {"error": f"{type(error).__name__}: {error}"[:2000]}
    result.setdefault("step_seconds", round(time.perf_counter() - t0, 1))
    return result


def _summary(report: dict) -> dict[str, bool]:
    """Every pass/fail, flat: {"web.sqlite.public_log": false, …}."""
    flat: dict[str, bool] = {}
    for key, check in report.get("classify", {}).get("targets", {}).items():
        flat[f"classify.{key}"] = check["pass"]
    if "target" in report.get("concerns", {}):
        flat["concerns.discover_seconds"] = report["concerns"]["target"]["pass"]
    for section in ("web", "import_mail", "ack"):
        for backend, figures in report.get(section, {}).items():
            for name, figure in figures.items():
                if isinstance(figure, dict) and "pass" in figure:
                    flat[f"{section}.{backend}.{name}"] = figure["pass"]
    return flat


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["growth"]:  # a run of its own, with its own options
        from bench import bench_growth

        return bench_growth.main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", help=f"any of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    parts = {p for p in args.parts if p in PARTS} if args.parts else set(PARTS)
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from {PARTS}")
    backends = [b for b in args.backends.split(",") if b in BACKENDS]
    os.environ.setdefault("BENCH_IMPORT_MAX_SECONDS", "45")

    started = time.perf_counter()
    report: dict = {
        "cpu_count": os.cpu_count(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    failed = False
    if "classify" in parts:
        common.log("classify: bench/bench_classify.py")
        report["classify"] = _step(_classify)
        failed |= "error" in report["classify"]
    if "concerns" in parts:
        common.log("concerns: bench/bench_concerns.py (10,000 items of one theme)")
        report["concerns"] = _step(lambda: common.run_json(_script("bench_concerns.py")))
        failed |= "error" in report["concerns"]
    work = Path(tempfile.mkdtemp(prefix="engage-bench-"))
    try:
        if parts & {"web", "import", "ack"}:
            prepared = _prepare(work, parts)
            mboxes = [m["file"] for m in prepared.get("mbox", {}).values()]
            report["data"] = {"prepared": prepared, "generate": {}}
            if "web" in parts:
                report["web"] = {}
            if "import" in parts:
                report["import_mail"] = {}
            for backend in backends if parts & {"web", "import"} else []:
                result = _step(lambda b=backend: _backend(b, work, parts, mboxes))
                if "error" in result:
                    failed = True
                    report["data"]["generate"][backend] = result
                    continue
                report["data"]["generate"][backend] = result.get("generate")
                for section in ("web", "import_mail"):
                    if section in result:
                        report[section][backend] = result[section]
                        failed |= "error" in result[section]
            if "ack" in parts:
                report["ack"] = {}
                for backend in backends:
                    report["ack"][backend] = _step(lambda b=backend: _ack(b, work))
                    failed |= "error" in report["ack"][backend]
    finally:
        if args.keep:
            common.log(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["summary"] = _summary(report)
    line = json.dumps(report)
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(line, flush=True)
    common.log(
        f"done in {report['seconds']} s; {sum(report['summary'].values())} of "
        f"{len(report['summary'])} targets met; bench/out/latest.json"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
