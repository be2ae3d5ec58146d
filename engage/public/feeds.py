"""Atom feeds of published responses: all, per engagement, per theme."""

from __future__ import annotations

from datetime import datetime
from xml.etree import ElementTree as ET  # noqa: S405 (we only build XML, never parse it)

from flask import Response as HttpResponse
from flask import abort, current_app, request
from sqlalchemy import select

from engage.engagements import service as engagements
from engage.extensions import db
from engage.feedback.models import Theme
from engage.pagecache import cached_page
from engage.public import bp
from engage.public.serialize import iso
from engage.publish import queries
from engage.util import clean_param
from engage.web import public_url

ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50
_EPOCH = datetime(2000, 1, 1)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def build_feed(*, title: str, self_url: str, alternate_url: str, responses) -> bytes:
    """An Atom 1.0 document (RFC 4287) for ``responses``."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", self_url)
    _add(feed, "title", title)
    latest = max((r.updated_at for r in responses), default=_EPOCH)
    _add(feed, "updated", iso(latest))
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=alternate_url)
    author = _add(feed, "author")
    _add(author, "name", current_app.config["ENGAGE_ORGANISATION"])
    for response in responses:
        permalink = public_url("public.response", response_id=response.id)
        entry = _add(feed, "entry")
        _add(entry, "id", permalink)
        _add(entry, "title", f"You said: {_shorten(response.you_said)}")
        _add(entry, "link", rel="alternate", type="text/html", href=permalink)
        _add(entry, "published", iso(response.published_at))
        _add(entry, "updated", iso(response.updated_at))
        for theme in response.themes:
            _add(entry, "category", term=theme.slug, label=theme.name)
        _add(entry, "summary", f"{response.status_label}. {_shorten(response.we_did, 200)}")
        content = (
            f"{response.engagement.title}\n\n"
            f"You told us you are concerned that {response.you_said}\n\n"
            f"What we are doing: {response.we_did}\n\n"
            f"Status: {response.status_label}"
        )
        _add(entry, "content", content, type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _shorten(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@bp.get("/you-said-we-did/feed.atom")
@cached_page()
def feed():
    """Publish the newest responses as Atom, optionally for one engagement or theme."""
    args = {}
    title = "You said, we did"
    engagement_slug = clean_param(request.args.get("engagement"), 120)
    theme_slug = clean_param(request.args.get("theme"), 60)
    if engagement_slug:
        engagement = engagements.get_by_slug(engagement_slug)
        if engagement is None:
            abort(404)
        args["engagement"] = engagement.slug
        title += f": {engagement.title}"
    if theme_slug:
        theme = db.session.scalar(select(Theme).where(Theme.slug == theme_slug))
        if theme is None:
            abort(404)
        args["theme"] = theme.slug
        title += f": {theme.name}"
    query = queries.published_query(queries.LogFilters(**args)).limit(FEED_SIZE)
    responses = list(db.session.scalars(query))
    body = build_feed(
        title=f"{title} – {current_app.config['ENGAGE_ORGANISATION']}",
        self_url=public_url("public.feed", **args),
        alternate_url=public_url("public.log", **args),
        responses=responses,
    )
    return HttpResponse(body, mimetype="application/atom+xml")
