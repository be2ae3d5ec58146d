"""Public read-only JSON API under /api/v1/, described by /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from engage.engagements import service as engagements
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback import queries as feedback_queries
from engage.feedback.models import Theme
from engage.languages import stats as language_stats  # issue 24
from engage.pagecache import cached_page
from engage.public import bp
from engage.public.openapi import document
from engage.public.serialize import LICENCE_NAME, LICENCE_URL, engagement_dict, response_dict
from engage.publish import queries
from engage.publish.models import Response, ResponseState, response_theme
from engage.util import clean_param
from engage.web import public_base_url

api = Blueprint("public_api", __name__, url_prefix="/api/v1")

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


class BadParameter(ValueError):
    """A query parameter is not acceptable; the message says which and why."""


def problem(status: int, title: str, detail: str | None = None, error: HTTPException | None = None):
    """RFC 9457 problem details (engage.web.problem), with an HTTP error's own headers
    (a 405's Allow) when it is one."""
    from engage.web import problem as problem_details

    headers = {}
    if error is not None:
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return problem_details(status, detail, title=title, headers=headers)


@api.errorhandler(BadParameter)
def bad_parameter(error: BadParameter):
    return problem(400, "Invalid parameter", str(error))


@api.errorhandler(HTTPException)
def http_error(error: HTTPException):
    return problem(error.code or 500, error.name, error.description, error)


@api.after_request
def open_to_all(response):
    # Public open data: any site may read it from a browser.
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response


def wants_json_errors() -> bool:
    """True for requests to the API, whose errors are JSON even for unknown paths."""
    return request.path == "/api/v1" or request.path.startswith("/api/v1/")


@api.app_errorhandler(404)
@api.app_errorhandler(405)
def api_routing_error(error: HTTPException):
    """JSON for unknown API paths and methods; the site's HTML error page elsewhere."""
    if wants_json_errors():
        return problem(error.code or 404, error.name, error.description, error)
    from engage.web import _error_page

    return _error_page(error.code or 404)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(high)):
        raise BadParameter(f"{name} must be a whole number between {low} and {high}")
    value = int(raw)
    if not low <= value <= high:
        raise BadParameter(f"{name} must be a whole number between {low} and {high}")
    return value


def _paging() -> tuple[int, int]:
    per_page = _int_arg("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    page = _int_arg("page", 1, 1, 10**9)
    return page, per_page


def _envelope(items: list, *, page: int, per_page: int, total: int, **extra) -> dict:
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": max(1, -(-total // per_page)),
        **extra,
    }


def _slice(rows: list, page: int, per_page: int) -> list:
    start = (page - 1) * per_page
    return rows[start : start + per_page]


def _response_counts_by_engagement() -> dict[int, int]:
    return dict(
        db.session.execute(
            select(Response.engagement_id, func.count())
            .where(Response.state == ResponseState.PUBLISHED)
            .group_by(Response.engagement_id)
        ).all()
    )


@api.get("/engagements")
@cached_page()
def list_engagements():
    """List engagements, most recently opened first."""
    page, per_page = _paging()
    rows = engagements.list_engagements()
    counts = _response_counts_by_engagement()
    items = [
        engagement_dict(e, responses=counts.get(e.id, 0)) for e in _slice(rows, page, per_page)
    ]
    return jsonify(_envelope(items, page=page, per_page=per_page, total=len(rows)))


@api.get("/responses")
@cached_page()
def list_responses():
    """List published responses, newest first, with the public log's filters."""
    page, per_page = _paging()
    filters = queries.LogFilters.from_args(request.args)
    raw_status = request.args.get("status")
    if raw_status and not filters.status:
        raise BadParameter("status must be one of the response statuses")
    result = queries.paginate(
        queries.published_query(filters), page=page, per_page=per_page, strict=False
    )
    ids = [r.id for r in result.items]
    people = queries.people_counts(ids)
    votes = queries.vote_totals(ids)
    items = [response_dict(r, people=people[r.id], votes=votes[r.id]) for r in result.items]
    return jsonify(
        _envelope(
            items,
            page=page,
            per_page=per_page,
            total=result.total,
            licence={"name": LICENCE_NAME, "url": LICENCE_URL},
        )
    )


@api.get("/themes")
@cached_page()
def list_themes():
    """List the themes feedback is tagged with, and how many published responses each has."""
    page, per_page = _paging()
    themes = list(db.session.scalars(select(Theme).order_by(Theme.position)))
    counts = dict(
        db.session.execute(
            select(response_theme.c.theme_id, func.count())
            .join(Response, Response.id == response_theme.c.response_id)
            .where(Response.state == ResponseState.PUBLISHED)
            .group_by(response_theme.c.theme_id)
        ).all()
    )
    items = [
        {
            "slug": t.slug,
            "name": t.name,
            "description": t.description,
            "published_responses": counts.get(t.id, 0),
        }
        for t in _slice(themes, page, per_page)
    ]
    return jsonify(_envelope(items, page=page, per_page=per_page, total=len(themes)))


def _statistics(engagement: Engagement) -> dict[str, Any]:
    figures = feedback_queries.figures(engagement)
    answered = queries.responsiveness(engagement)
    return {
        "engagement": engagement.slug,
        "comments": figures.total,
        "themes": {s.slug: s.count for s in figures.themes},
        "languages": language_stats.languages_of(engagement),  # issue 24
        "published_responses": queries.status_counts(engagement),
        "responsiveness": {
            "comments_answered": answered.answered,
            "share_answered_percent": answered.percent,
            "median_days_to_response": answered.median_days,
        },
    }


@api.get("/statistics")
@cached_page(counts_feedback=True)
def statistics():
    """Headline figures per engagement: comments, themes, responses and responsiveness."""
    page, per_page = _paging()
    slug = clean_param(request.args.get("engagement"), 120)
    if slug:
        engagement = engagements.get_by_slug(slug)
        if engagement is None:
            return problem(404, "Not Found", f"There is no engagement called {slug!r}")
        rows = [engagement]
    else:
        rows = engagements.list_engagements()
    items = [_statistics(e) for e in _slice(rows, page, per_page)]
    return jsonify(_envelope(items, page=page, per_page=per_page, total=len(rows)))


@api.get("/openapi.json")
def openapi():
    """Describe this API as an OpenAPI 3.0 document."""
    return jsonify(document(server=public_base_url() + "/api/v1"))


@api.get("/")
def api_root():
    """The API's own address, opened in a browser: send people to its documentation."""
    return redirect(url_for("public.api_docs"), code=302)


@bp.get("/api")
def api_docs():
    """Explain the API to people, with links to the OpenAPI document."""
    return render_template("public/api_docs.html", spec=document(server="/api/v1"))
