"""The ``engage`` command: Flask's CLI plus the project's own subcommands."""

from __future__ import annotations

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
        f"({summary['created']} new)."
    )


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

    from engage import tasks

    tasks.bind(current_app._get_current_object())
    click.echo(f"engage worker: {workers} workers, queue {type(tasks.huey).__name__}")
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
