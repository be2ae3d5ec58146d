"""``engage worker``, partners, staff accounts, the feedback export and the purge."""

from __future__ import annotations

import os
import sys

import click
from flask.cli import with_appcontext

from engage.cli.output import echo_json
from engage.unit_of_work import transaction


@click.command("worker")
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


@click.command("create-partner")
@click.argument("name")
@with_appcontext
@transaction()
def create_partner_command(name: str) -> None:
    """Create an API partner (such as a Healthwatch) and print its token once."""
    from engage.feedback.partners import create_partner

    try:
        partner, token = create_partner(name)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Partner {partner.name!r} created. Its token (shown only now):")
    click.echo(token)


@click.command("revoke-partner")
@click.argument("name")
@with_appcontext
@transaction()
def revoke_partner_command(name: str) -> None:
    """Revoke an API partner's token."""
    from engage.feedback.partners import revoke_partner

    if not revoke_partner(name):
        raise click.ClickException(f"No active partner called {name!r}")
    click.echo(f"Partner {name!r} revoked.")


@click.command("create-staff")
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
    from engage.staff import accounts
    from engage.staff.models import Role

    password = _read_password(password_stdin, "Password")
    try:
        with transaction():
            user = accounts.create_staff(email=email, role=Role(role), password=password, name=name)
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {user.role.value} account for {user.email}.")
    if user.role.needs_two_factor:
        click.echo("They will be asked to set up an authenticator app when they first sign in.")


def _read_password(from_stdin: bool, prompt: str) -> str:
    """The first line of stdin, or a password typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


@click.command("set-password")
@click.argument("email")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@with_appcontext
def set_password_command(email: str, password_stdin: bool) -> None:
    """Give a staff account a new password (a forgotten one) and end its sessions."""
    from engage.staff import accounts

    user = accounts.find_by_email(email.strip())
    if user is None:
        raise click.ClickException(f"There is no staff account for {email.strip()}")
    password = _read_password(password_stdin, "New password")
    try:
        with transaction():
            accounts.change_password(user, password, keep=None)
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"New password set for {user.email}; their sessions have ended.")


@click.command("export-feedback")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Default: stdout.")
@with_appcontext
def export_feedback_command(fmt: str, output: str | None) -> None:
    """Export every feedback item (personal data included: keep the file safe)."""
    from engage import audit
    from engage.staff import export, inbox

    everything = inbox.InboxFilters(sort="oldest")
    total = inbox.count(everything)
    query = inbox.inbox_query(everything)
    lines = export.iter_csv(query) if fmt == "csv" else export.iter_jsonl(query)
    if output:
        # Names and email addresses: readable by its owner only, whatever the umask.
        try:
            descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as error:
            raise click.ClickException(f"cannot write {output}: {error.strerror}") from error
        os.chmod(output, 0o600)
        with open(descriptor, "w", encoding="utf-8", newline="") as fh:
            for line in lines:
                fh.write(line)
        click.echo(f"Exported {total:,} items to {output}", err=True)
    else:
        for line in lines:
            sys.stdout.write(line)
    with transaction():
        audit.record("feedback.export", detail={"format": fmt, "count": total, "via": "cli"})


@click.command("purge")
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

    from engage import retention

    if days is None:
        days = int(current_app.config.get("ENGAGE_RETENTION_DAYS", retention.DEFAULT_DAYS))
    result = retention.purge(days, dry_run=dry_run)
    if as_json:
        echo_json(result.as_dict())
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
