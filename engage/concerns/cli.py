"""``engage concerns``: bring concerns up to date and print them."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from engage.extensions import db
from engage.unit_of_work import transaction

# A theme a worker is grouping was skipped: run the command again when it is done
# (sysexits' EX_TEMPFAIL, "try again later"; a wrong slug exits with 1).
EXIT_HELD = 75


@click.command("concerns")
@click.option("--engagement", "engagement_slug", help="Only this engagement (its slug).")
@click.option("--theme", "theme_slug", help="Only this theme (its slug).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per theme).")
@click.option("--rediscover", is_flag=True, help="Group again the concerns staff have not touched.")
@with_appcontext
def concerns_command(
    engagement_slug: str | None, theme_slug: str | None, as_json: bool, rediscover: bool
) -> None:
    """Find each theme's concerns (keeping staff's changes) and print them.

    With --engagement and --theme, --json prints one object
    {"engagement", "theme", "concerns": [{"label", "count", "items", "draft"}]};
    otherwise a list of such objects, one per engagement and theme.

    A grouping staff queued from the page is done here, through its job row (claimed
    as the worker claims it, then marked done), so the worker does not do it again. A
    theme a worker is grouping right now is skipped with a message on stderr, left out
    of the output, and the command exits with status 75 at the end.
    """
    from engage.concerns import jobs, service
    from engage.engagements.models import Engagement
    from engage.feedback.models import Theme

    engagements = db.session.scalars(select(Engagement).order_by(Engagement.id)).all()
    themes = db.session.scalars(select(Theme).order_by(Theme.position, Theme.id)).all()
    if engagement_slug:
        engagements = [e for e in engagements if e.slug == engagement_slug]
        if not engagements:
            raise click.ClickException(f"No engagement {engagement_slug!r}")
    if theme_slug:
        themes = [t for t in themes if t.slug == theme_slug]
        if not themes:
            raise click.ClickException(f"No theme {theme_slug!r}")
    out, held = [], 0
    for engagement in engagements:
        for theme in themes:
            try:
                # A grouping queued for the worker is claimed and done here, else the
                # usual refresh (one unit of work per engagement and theme).
                job = jobs.run_by_hand(engagement, theme, rediscover=rediscover)
            except jobs.HeldByWorker as busy:
                held += 1
                click.echo(
                    f"{engagement.slug} · {theme.slug}: skipped, {busy}; "
                    "run this again when it is done",
                    err=True,
                )
                continue
            if job is not None:
                asked = f" (asked for by {job.requested_by})" if job.requested_by else ""
                click.echo(
                    f"{engagement.slug} · {theme.slug}: did the grouping queued for the "
                    f"worker{asked}",
                    err=True,
                )
            else:
                with transaction():
                    service.refresh(engagement, theme, rediscover=rediscover)
            out.append(service.as_json(engagement, theme))
    if as_json:
        if engagement_slug and theme_slug:
            if out:
                click.echo(json.dumps(out[0], ensure_ascii=False))
        else:
            click.echo(json.dumps(out, ensure_ascii=False))
    else:
        _print(out)
    if held:
        sys.exit(EXIT_HELD)  # click returns its Exit from main(), unseen by CliRunner


def _print(out: list[dict]) -> None:
    for block in out:
        click.echo(f"{block['engagement']} · {block['theme']}: {len(block['concerns'])} concerns")
        for concern in block["concerns"]:
            flags = " (hidden)" if concern["hidden"] else ""
            click.echo(f"  {concern['count']:>6}  {concern['label']}{flags}")
            if concern["draft"]:
                click.echo(f"          {concern['draft']}")
