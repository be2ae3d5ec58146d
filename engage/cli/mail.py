"""``engage import-mail``, ``fetch-mail`` and ``send-outbox``: email in and out."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from engage.cli.output import echo_json


def _echo_mail_counts(summary, as_json: bool) -> None:
    """The counts on stdout: a sentence, or with --json one object that also lists every
    message rejected or ignored (source, Message-ID, result, reason)."""
    if as_json:
        echo_json(summary.report())
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


@click.command("import-mail")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the counts, and every message not imported with why, as one JSON object.",
)
@click.option(
    "--classify-now",
    is_flag=True,
    help="Classify and acknowledge each batch during the import, instead of handing it "
    "to the worker (what ENGAGE_POST_COMMIT_IN_WORKER, the default, does for every channel).",
)
@with_appcontext
def import_mail_command(paths: tuple[str, ...], as_json: bool, classify_now: bool) -> None:
    """Import mbox files, Maildir folders or .eml files as feedback (safe to repeat).

    Each batch is committed and then handed to the worker, which classifies and
    acknowledges it, as for the web form (with ENGAGE_POST_COMMIT_IN_WORKER off, or with
    --classify-now, the import does that itself, a batch at a time).

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
                _with_progress(messages, path, lines),
                channel=Channel.IMPORT,
                summary=summary,
                follow_up_here=classify_now,
            )
        finally:
            lines.release()
    _echo_mail_counts(summary, as_json)


@click.command("fetch-mail")
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


@click.command("send-outbox")
@click.option("--limit", type=int, default=None, help="Send at most this many messages.")
@with_appcontext
def send_outbox_command(limit: int | None) -> None:
    """Send the emails that are due, retrying failures with back-off."""
    from engage.outbox import send_due

    result = send_due(limit=limit)
    click.echo(f"Sent {result.sent}, retrying later {result.retrying}, gave up {result.failed}.")
