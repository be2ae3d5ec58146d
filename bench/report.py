"""Print the figures of a `python -m bench` JSON as Markdown tables (for bench/README.md).

python -m bench.report [bench/out/latest.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

WEB = (
    "public_log",
    "engagement",
    "api_responses",
    "form",
    "form_at_rate",
    "inbox",
    "inbox_filtered",
    "inbox_search",
    "dashboard",
    "campaigns",
    "response_editor",
    "response_new",
)


def _ok(figure: dict) -> str:
    return "yes" if figure.get("pass") else "**no**"


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def web_table(report: dict) -> list[str]:
    lines = [
        "| endpoint | db | req/s | p50 ms | p95 ms | × bare | server CPU ms/req | target | met |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for backend, figures in report.get("web", {}).items():
        if "error" in figures:
            lines.append(f"| – | {backend} | error: {figures['error'][:80]} | | | | | | |")
            continue
        bare = figures.get("bare", {})
        lines.append(
            f"| bare route | {backend} | {_num(bare.get('rps'))} | {_num(bare.get('p50_ms'))} "
            f"| {_num(bare.get('p95_ms'))} | 1 | {_num(bare.get('server_cpu_ms_per_request'), 2)} "
            "| – | – |"
        )
        for name in WEB:
            f = figures.get(name)
            if not f:
                continue
            target = f.get("target", {})
            wanted = []
            if "ratio_to_bare_min" in target:
                wanted.append(f"≥ {target['ratio_to_bare_min']:.0%} of bare")
            if "rate" in target:
                wanted.append(f"at {target['rate']:g} posts/s")
            if "rps_min" in target:
                wanted.append(f"≥ {target['rps_min']:g}/s")
            if "p95_ms_max" in target:
                wanted.append(f"p95 < {target['p95_ms_max']:g} ms")
            rps = "timed out" if f.get("skipped") else _num(f.get("rps"))
            lines.append(
                f"| {name} | {backend} | {rps} | {_num(f.get('p50_ms'))} | {_num(f.get('p95_ms'))} "
                f"| {_num(f.get('ratio_to_bare'), 3)} "
                f"| {_num(f.get('server_cpu_ms_per_request'), 1)} | {', '.join(wanted)} "
                f"| {_ok(f)} |"
            )
    return lines


def import_table(report: dict) -> list[str]:
    lines = [
        "| mbox | db | messages read | seconds | msg/s | msg/s after start-up | peak RSS MB "
        "| completed | met |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for backend, figures in report.get("import_mail", {}).items():
        if "error" in figures:
            lines.append(f"| – | {backend} | error: {figures['error'][:80]} | | | | | | |")
            continue
        start = figures.get("startup", {})
        lines.append(
            f"| start-up (1 auto-reply) | {backend} | 1 | {_num(start.get('seconds'))} | – | – "
            f"| {_num(start.get('peak_rss_mb'))} | yes | – |"
        )
        for name in ("1k", "10k"):
            f = figures.get(name)
            if not f:
                continue
            done = "yes" if f.get("completed") else "no (capped)"
            lines.append(
                f"| {name} | {backend} | {_num(f.get('messages'))} | {_num(f.get('seconds'))} "
                f"| {_num(f.get('messages_per_s'))} "
                f"| {_num(f.get('messages_per_s_after_startup'))} "
                f"| {_num(f.get('peak_rss_mb'))} | {done} | {_ok(f)} |"
            )
        memory = figures.get("flat")
        if memory:
            lines.append(
                f"| flat memory: {_num(memory.get('to_messages'))} vs "
                f"{_num(memory.get('from_messages'))} peak RSS | {backend} | – | – | – | – "
                f"| {_num(memory.get('rss_growth_mb'))} more ({_num(memory.get('ratio'), 2)}x, "
                f"max {_num(memory.get('max_ratio'), 2)}x) | – | {_ok(memory)} |"
            )
    return lines


def classify_table(report: dict) -> list[str]:
    c = report.get("classify", {})
    if not c or "error" in c:
        return [f"classification: {c.get('error', 'not run')}"]
    t = c.get("targets", {})

    def met(key: str) -> str:
        return "yes" if t.get(key, {}).get("pass") else "**no**"

    return [
        "| figure | value | target | met |",
        "| --- | ---: | --- | --- |",
        f"| one item, median | {c['single_median_ms']} ms (p95 {c['single_p95_ms']} ms) "
        f"| < 5 ms | {met('single_median_ms')} |",
        f"| batch of 5,000 | {c['batch_items_per_s']:,} items/s | ≥ 2,000/s "
        f"| {met('batch_items_per_s')} |",
        f"| training on 5,000 | {c['train_seconds']} s | < 60 s | {met('train_seconds')} |",
    ]


def ack_table(report: dict) -> list[str]:
    lines = [
        "| db | posts | rate /s | received | twice | missing | p50 s | p95 s | max s "
        "| target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for backend, figures in report.get("ack", {}).items():
        f = figures.get("post_to_email") or {}
        if "error" in figures or not f:
            lines.append(f"| {backend} | error: {figures.get('error', '?')[:80]} ||||||||||")
            continue
        lines.append(
            f"| {backend} | {_num(f.get('posts'))} | {_num(f.get('rate'))} "
            f"| {_num(f.get('received'))} | {_num(f.get('sent_twice'))} "
            f"| {_num(f.get('missing'))} | {_num(f.get('p50_s'), 2)} | {_num(f.get('p95_s'), 2)} "
            f"| {_num(f.get('max_s'), 2)} | p95 < {f['target']['p95_s_max']:g} s, each once "
            f"| {_ok(f)} |"
        )
    return lines


def _server(report: dict) -> str:
    """How gunicorn ran, as the run recorded it."""
    for run in report.get("web", {}).values():
        server = run.get("server") if isinstance(run, dict) else None
        if server:
            threads = f" × {server['threads']} threads" if server.get("threads") else ""
            return (
                f"{server['clients']} clients, gunicorn {server['workers']} "
                f"{server['worker_class']} workers{threads}"
            )
    return "gunicorn"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path(__file__).parent / "out" / "latest.json"
    report = json.loads(path.read_text())
    print(
        f"{report['cpu_count']} CPUs; load average {report['load_average_start']} at the start, "
        f"{report['load_average_end']} at the end; {report['seconds']} s in all.\n"
    )
    for title, table in (
        (f"Web ({_server(report)})", web_table(report)),
        ("engage import-mail", import_table(report)),
        ("Classification (bench/bench_classify.py)", classify_table(report)),
        ("From a post to its acknowledgement email (bench/bench_ack.py)", ack_table(report)),
    ):
        print(f"**{title}**\n")
        print("\n".join(table) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
