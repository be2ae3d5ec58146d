"""The ``engage`` command: Flask's CLI plus the project's own subcommands."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import OperationalError

from engage import create_app
from engage.config import ConfigError


def _create_app():
    return create_app()


class EngageGroup(FlaskGroup):
    """FlaskGroup that turns configuration and connection errors into one clear line."""

    def main(self, *args, **kwargs):  # noqa: D102
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except ConfigError as error:
            click.echo(f"engage: configuration error: {error}", err=True)
            sys.exit(2)
        except OperationalError as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            click.echo(
                f"engage: cannot reach the database named by DATABASE_URL: {reason}", err=True
            )
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.exceptions.Exit as exit_:
            sys.exit(exit_.exit_code)


@click.group(cls=EngageGroup, create_app=_create_app, add_version_option=False)
def cli() -> None:
    """engage: record feedback on engagements and answer it in public."""


@cli.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo engagements, feedback and responses (safe to run twice)."""
    from engage.demo import load_demo

    summary = load_demo()
    click.echo(
        f"Demo data: {summary['engagements']} engagements, {summary['items']} feedback items "
        f"({summary['created']} new), {summary['responses']} new published responses, "
        f"{summary['groups']} campaign groups."
    )


def _echo_json(data) -> None:
    click.echo(json.dumps(data, sort_keys=False))


@cli.command("train")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--force", is_flag=True, help="Activate the new model even if it scores lower.")
@click.option("--if-missing", is_flag=True, help="Only train when no usable model is active.")
@with_appcontext
def train_command(as_json: bool, force: bool, if_missing: bool) -> None:
    """Train a theme model on the seed corpus plus staff-confirmed labels."""
    from engage.classify import service

    try:
        _train(service, as_json=as_json, force=force, if_missing=if_missing)
    except service.NoTrainingDataError as error:
        if not if_missing:
            raise click.ClickException(str(error)) from error
        # Setup goes on without a model: items stay unclassified until one is trained.
        click.echo(f"engage: no model trained: {error}", err=True)


def _train(service, *, as_json: bool, force: bool, if_missing: bool) -> None:
    if if_missing:
        result = service.ensure_model()
        if result is None:
            version = service.active_version()
            message = {
                "version": version.version if version else None,
                "activated": False,
                "reason": "a usable model is already active",
            }
            _echo_json(message) if as_json else click.echo(
                f"Model {message['version']} is active; nothing to train."
            )
            return
    else:
        result = service.train_model(force=force)
    if as_json:
        _echo_json(result.as_dict())
        return
    holdout = result.holdout or {}
    click.echo(
        f"Trained {result.version} on {result.n_train} items "
        f"({result.n_staff_labels} staff labels); CV macro-F1 {result.cv.get('macro_f1', 0):.3f}"
        + (f", held-out macro-F1 {holdout['macro_f1']:.3f}" if holdout else "")
    )
    click.echo(("Activated: " if result.activated else "Not activated: ") + result.reason)


@cli.command("evaluate")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the scores as one JSON object.")
@with_appcontext
def evaluate_command(path: str, as_json: bool) -> None:
    """Score the active model on a labelled CSV (columns text,themes)."""
    from engage.classify import service
    from engage.classify.corpus import load_corpus
    from engage.classify.training import evaluate

    try:
        texts, labels = load_corpus(path)
    except (ValueError, UnicodeDecodeError) as error:
        raise click.ClickException(str(error)) from error
    if not texts:
        raise click.ClickException(f"{path} has no rows")
    try:
        model, row = service.load_active()
    except service.NoModelError as error:
        raise click.ClickException(str(error)) from error
    result = evaluate(model, texts, labels, model_version=row.version)
    if as_json:
        _echo_json(result)
        return
    click.echo(
        f"Model {row.version} on {result['n']} items: macro-F1 {result['macro_f1']:.3f}, "
        f"micro-F1 {result['micro_f1']:.3f}"
    )
    for theme, m in result["per_theme"].items():
        click.echo(
            f"  {theme:<20} P {m['precision']:.3f}  R {m['recall']:.3f}  "
            f"F1 {m['f1']:.3f}  n={m['support']}"
        )


@cli.command("classify")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@with_appcontext
def classify_command(text: str, as_json: bool) -> None:
    """Tag one piece of text with the active model (and give its language)."""
    from engage.classify import service
    from engage.feedback.themes import percent
    from engage.languages import detect, names  # issue 24

    try:
        model, row = service.load_active()
    except service.NoModelError as error:
        raise click.ClickException(str(error)) from error
    language = detect.detect(text)
    if language != detect.ENGLISH:
        # As in the classification job: the English model does not read other languages.
        result = {
            "language": language,
            "needs_translation": True,
            "themes": [],
            "unclassified": False,
            "probabilities": {},
            "model_version": row.version,
        }
        if as_json:
            _echo_json(result)
            return
        click.echo(f"needs translation: written in {names.name(language)} ({language})")
        return
    proba = model.predict_proba([text])[0]
    themes = [
        {"theme": slug, "confidence": round(float(p), 4), "percent": percent(float(p))}
        for slug, p, threshold in zip(model.themes, proba, model.thresholds, strict=True)
        if p >= threshold
    ]
    themes.sort(key=lambda t: -t["confidence"])
    result = {
        "language": language,
        "needs_translation": False,
        "themes": themes,
        "unclassified": not themes,
        "probabilities": {s: round(float(p), 4) for s, p in zip(model.themes, proba, strict=True)},
        "model_version": row.version,
    }
    if as_json:
        _echo_json(result)
        return
    if not themes:
        likeliest = sorted(result["probabilities"].items(), key=lambda sp: -sp[1])[:2]
        guesses = ", ".join(f"{slug} {percent(p)}%" for slug, p in likeliest)
        click.echo(f"unclassified (model {row.version}); likeliest: {guesses}")
    for theme in themes:
        click.echo(f"{theme['theme']}\t{theme['percent']}%")


@cli.command("detect-languages")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@with_appcontext
def detect_languages_command(as_json: bool) -> None:
    """Detect the language of items stored before detection existed (issue 24)."""
    from engage.languages import backfill, names

    found = backfill.detect_missing()
    if as_json:
        _echo_json({"detected": found})
        return
    if not found:
        click.echo("Every item has its language already.")
    for code, n in sorted(found.items(), key=lambda cn: -cn[1]):
        click.echo(f"{names.name(code)} ({code})\t{n}")


@cli.group("models")
def models_group() -> None:
    """List stored theme models, or roll back to one."""


@models_group.command("list")
@with_appcontext
def models_list_command() -> None:
    """List every stored model, newest first."""
    from sqlalchemy import select

    from engage.classify.models import ModelVersion
    from engage.extensions import db

    for row in db.session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc())):
        holdout = row.holdout_macro_f1
        click.echo(
            f"{'*' if row.active else ' '} {row.version:<22} {row.trained_at:%Y-%m-%d %H:%M}  "
            f"n={row.n_train:<6} CV macro-F1 {row.cv_metrics.get('macro_f1', 0):.3f}"
            + (f"  held-out {holdout:.3f}" if holdout is not None else "")
        )


@models_group.command("activate")
@click.argument("version")
@with_appcontext
def models_activate_command(version: str) -> None:
    """Make a stored model version the active one (roll back or forward)."""
    from engage.classify import service

    try:
        row = service.activate(version)
    except (LookupError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Model {row.version} is now active.")


def _echo_mail_counts(summary, as_json: bool) -> None:
    """The counts on stdout: a sentence, or with --json one object that also lists every
    message rejected or ignored (source, Message-ID, result, reason)."""
    if as_json:
        _echo_json(summary.report())
        return
    click.echo(
        "Imported {imported}, duplicates {duplicates}, auto-replies and bounces "
        "{auto_replies}, rejected {rejected}.".format(**summary.as_dict())
    )


# An import shows a progress bar (on a terminal) once it has run this many seconds.
PROGRESS_AFTER_SECONDS = 2.0


class _DroppedLines:
    """Prints one line to stderr for each message not imported, as it is counted.

    While a progress bar is drawn the lines are held, and printed when it is finished,
    so that they do not break the bar.
    """

    def __init__(self) -> None:
        self.held: list[str] = []
        self.holding = False

    def __call__(self, outcome) -> None:
        line = _dropped_line(outcome)
        if self.holding:
            self.held.append(line)
        else:
            click.echo(line, err=True)

    def hold(self) -> None:
        self.holding = True

    def release(self) -> None:
        self.holding = False
        for line in self.held:
            click.echo(line, err=True)
        self.held.clear()


def _dropped_line(outcome) -> str:
    """``SOURCE <MESSAGE-ID>: rejected|ignored: REASON`` (the ID when the email has one)."""
    where = outcome.source or "message"
    if outcome.message_id and not outcome.message_id.startswith("sha256:"):
        where += f" <{outcome.message_id}>"
    label = "rejected" if outcome.result == "rejected" else "ignored"
    return f"{where}: {label}: {outcome.reason}"


def _with_progress(messages, path, lines: _DroppedLines, *, stream=None, after=None, clock=None):
    """Yield ``messages``; on a terminal, once ``after`` seconds have passed, also draw a
    progress bar on ``stream`` (stderr) towards the mailbox's message count."""
    import time

    from engage.mail import mailboxes

    stream = stream or sys.stderr
    after = PROGRESS_AFTER_SECONDS if after is None else after
    clock = clock or time.monotonic
    if not stream.isatty():
        yield from messages
        return
    started = clock()
    bar = None
    read = 0
    try:
        for item in messages:
            yield item
            read += 1
            if bar is not None:
                bar.update(1)
            elif clock() - started >= after:
                try:
                    total = max(mailboxes.count_messages(path), read)
                except OSError:  # the bar is a nicety: never fail an import for it
                    after = float("inf")
                    continue
                lines.hold()
                bar = click.progressbar(
                    length=total, label=f"Importing {path}", file=stream, show_pos=True
                )
                bar.update(read)
    finally:
        if bar is not None:
            bar.render_finish()


@cli.command("import-mail")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the counts, and every message not imported with why, as one JSON object.",
)
@with_appcontext
def import_mail_command(paths: tuple[str, ...], as_json: bool) -> None:
    """Import mbox files, Maildir folders or .eml files as feedback (safe to repeat).

    Each message rejected or ignored is reported on stderr, one line each: where it is
    (the mbox and its position, or the file), its Message-ID and why. On a terminal, an
    import that takes more than a few seconds shows a progress bar.
    """
    from flask import current_app

    from engage.feedback.models import Channel
    from engage.mail import inbound, mailboxes

    lines = _DroppedLines()
    summary = inbound.Summary(on_dropped=lines)
    max_bytes = current_app.config.get("INBOUND_MAX_BYTES", 10 * 1024 * 1024)
    for path in paths:
        try:
            messages = mailboxes.iter_messages(path, max_bytes=max_bytes)
        except (OSError, ValueError) as error:
            raise click.ClickException(f"{path}: {error}") from error
        try:
            # Stored in batches, each committed before it is classified and acknowledged.
            inbound.ingest_many(
                _with_progress(messages, path, lines), channel=Channel.IMPORT, summary=summary
            )
        finally:
            lines.release()
    _echo_mail_counts(summary, as_json)


@cli.command("fetch-mail")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the counts, and every message not imported with why, as one JSON object.",
)
@with_appcontext
def fetch_mail_command(as_json: bool) -> None:
    """Fetch unseen messages from the IMAP folder (IMAP_* settings) as feedback.

    Each message rejected or ignored is reported on stderr, one line each.
    """
    import imaplib

    from engage.mail import imap

    try:
        summary = imap.fetch()
    except imap.ImapNotConfigured as error:
        raise click.ClickException(str(error)) from error
    except (imaplib.IMAP4.error, OSError) as error:
        raise click.ClickException(f"IMAP: {error}") from error
    for outcome in summary.dropped:
        click.echo(_dropped_line(outcome), err=True)
    _echo_mail_counts(summary, as_json)


@cli.command("send-outbox")
@click.option("--limit", type=int, default=None, help="Send at most this many messages.")
@with_appcontext
def send_outbox_command(limit: int | None) -> None:
    """Send the emails that are due, retrying failures with back-off."""
    from engage.mail.outbox import send_due

    result = send_due(limit=limit)
    click.echo(f"Sent {result.sent}, retrying later {result.retrying}, gave up {result.failed}.")


@cli.command("worker")
@click.option("--workers", type=int, default=2, show_default=True)
@with_appcontext
def worker_command(workers: int) -> None:
    """Run the background jobs: outbox, acknowledgements, classification, mail polling."""
    from flask import current_app
    from huey.consumer import Consumer

    from engage import observability, tasks
    from engage.classify import service

    tasks.bind(current_app._get_current_object())
    try:
        # Loaded now, not by the first job: a new item's acknowledgement should not
        # wait the seconds it takes to import scikit-learn and read the model.
        service.load_active()
    except service.NoModelError as error:
        click.echo(f"engage worker: {error}; items wait unclassified", err=True)
    # Each job logs under its own id (task-<id>) and is timed; with
    # ENGAGE_WORKER_METRICS_PORT the timings are served on 127.0.0.1:<port>.
    port = current_app.config.get("ENGAGE_WORKER_METRICS_PORT") or None
    serving = observability.instrument_worker(tasks.huey, metrics_port=port)
    click.echo(f"engage worker: {workers} workers, queue {type(tasks.huey).__name__}")
    if serving:
        click.echo(f"engage worker: metrics on http://127.0.0.1:{port}/metrics")
    Consumer(tasks.huey, workers=workers, worker_type="thread", periodic=True).run()


@cli.command("create-partner")
@click.argument("name")
@with_appcontext
def create_partner_command(name: str) -> None:
    """Create an API partner (such as a Healthwatch) and print its token once."""
    from engage.feedback.partners import create_partner

    try:
        partner, token = create_partner(name)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Partner {partner.name!r} created. Its token (shown only now):")
    click.echo(token)


@cli.command("revoke-partner")
@click.argument("name")
@with_appcontext
def revoke_partner_command(name: str) -> None:
    """Revoke an API partner's token."""
    from engage.feedback.partners import revoke_partner

    if not revoke_partner(name):
        raise click.ClickException(f"No active partner called {name!r}")
    click.echo(f"Partner {name!r} revoked.")


@cli.command("create-staff")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(["admin", "publisher", "triager", "viewer"]),
    required=True,
    help="What the person may do; admins and publishers must set up two-factor sign-in.",
)
@click.option("--name", default="", help="The person's name, shown in the audit log.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@with_appcontext
def create_staff_command(email: str, role: str, name: str, password_stdin: bool) -> None:
    """Create a staff account (the password is asked for unless --password-stdin)."""
    from engage.extensions import db
    from engage.staff import accounts
    from engage.staff.models import Role

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = accounts.create_staff(email=email, role=Role(role), password=password, name=name)
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Created {user.role.value} account for {user.email}.")
    if user.role.needs_two_factor:
        click.echo("They will be asked to set up an authenticator app when they first sign in.")


@cli.command("export-feedback")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Default: stdout.")
@with_appcontext
def export_feedback_command(fmt: str, output: str | None) -> None:
    """Export every feedback item (personal data included: keep the file safe)."""
    from engage.extensions import db
    from engage.staff import audit, export, inbox

    everything = inbox.InboxFilters(sort="oldest")
    total = inbox.count(everything)
    query = inbox.inbox_query(everything)
    lines = export.iter_csv(query) if fmt == "csv" else export.iter_jsonl(query)
    if output:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            for line in lines:
                fh.write(line)
        click.echo(f"Exported {total:,} items to {output}", err=True)
    else:
        for line in lines:
            sys.stdout.write(line)
    audit.record("feedback.export", detail={"format": fmt, "count": total, "via": "cli"})
    db.session.commit()


@cli.command("purge")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    default=None,
    metavar="DAYS",
    help="Purge feedback submitted more than DAYS days ago (default: ENGAGE_RETENTION_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@with_appcontext
def purge_command(days: int | None, dry_run: bool, as_json: bool) -> None:
    """Remove personal details from feedback older than the retention period.

    Names, email addresses, subjects, original texts (the redacted copy is kept),
    attachment names, staff notes and old outbox emails go; items, their themes,
    status, borough and links to published responses stay, so counts do not change.
    """
    from flask import current_app

    from engage.feedback import retention

    if days is None:
        days = int(current_app.config.get("ENGAGE_RETENTION_DAYS", retention.DEFAULT_DAYS))
    result = retention.purge(days, dry_run=dry_run)
    if as_json:
        _echo_json(result.as_dict())
        return
    verb = "Would remove" if dry_run else "Removed"
    click.echo(
        f"{verb} personal details from {result.items:,} feedback items submitted before "
        f"{result.cutoff:%d %B %Y} (older than {days:,} {'day' if days == 1 else 'days'}): "
        f"{result.notes:,} staff notes, "
        f"{result.outbox_messages:,} outbox emails, {result.vote_comments:,} vote comments, "
        f"{result.alert_subscriptions:,} lapsed alert subscriptions."
    )
    if dry_run:
        click.echo("Dry run: nothing was changed.")


from engage.concerns.cli import concerns_command  # noqa: E402

cli.add_command(concerns_command)
