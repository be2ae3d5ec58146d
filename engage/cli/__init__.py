"""The ``engage`` command: Flask's CLI plus the project's own subcommands.

The group is built here; its commands live beside it by subject: engage.cli.classify
(train, evaluate, classify, models), engage.cli.mail (import-mail, fetch-mail,
send-outbox), engage.cli.admin (worker, partners, create-staff, export-feedback,
purge) and engage.concerns.cli (concerns).
"""

from __future__ import annotations

import re
import sys

import click
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import OperationalError, ProgrammingError

from engage import create_app
from engage.config import ConfigError

# SQLite's and PostgreSQL's words for a table or column the migrations have not made.
_NO_TABLE = re.compile(r"no such (?:table|column)|(?:relation|column) .* does not exist")


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
        except (OperationalError, ProgrammingError) as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            if _NO_TABLE.search(reason):
                click.echo(
                    "engage: the database named by DATABASE_URL has no engage tables yet, or "
                    f"older ones: run `engage db upgrade` first ({reason})",
                    err=True,
                )
            else:
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


def _register() -> None:
    from engage.cli import admin, classify, mail
    from engage.concerns.cli import concerns_command

    for command in (
        classify.train_command,
        classify.evaluate_command,
        classify.classify_command,
        classify.detect_languages_command,
        classify.models_group,
        mail.import_mail_command,
        mail.fetch_mail_command,
        mail.send_outbox_command,
        admin.worker_command,
        admin.create_partner_command,
        admin.revoke_partner_command,
        admin.create_staff_command,
        admin.set_password_command,
        admin.export_feedback_command,
        admin.purge_command,
        concerns_command,
    ):
        cli.add_command(command)


_register()
