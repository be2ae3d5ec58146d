"""``engage concerns``: bring concerns up to date and print them."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from engage.extensions import db
from engage.unit_of_work import transaction


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
    """
    from engage.concerns import service
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
    out = []
    for engagement in engagements:
        for theme in themes:
            with transaction():  # one unit of work per engagement and theme
                service.refresh(engagement, theme, rediscover=rediscover)
            out.append(service.as_json(engagement, theme))
    if as_json:
        data = out[0] if engagement_slug and theme_slug else out
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    for block in out:
        click.echo(f"{block['engagement']} · {block['theme']}: {len(block['concerns'])} concerns")
        for concern in block["concerns"]:
            flags = " (hidden)" if concern["hidden"] else ""
            click.echo(f"  {concern['count']:>6}  {concern['label']}{flags}")
            if concern["draft"]:
                click.echo(f"          {concern['draft']}")
