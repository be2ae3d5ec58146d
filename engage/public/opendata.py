"""Open data: published responses and anonymised comment counts, as CSV and JSON."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response as HttpResponse
from flask import jsonify, render_template

from engage.languages import stats as language_stats  # issue 24
from engage.pagecache import cached_page
from engage.public import bp
from engage.public.serialize import (
    LICENCE_NAME,
    LICENCE_URL,
    RESPONSE_COLUMNS,
    iso,
    response_dict,
    response_row,
)
from engage.publish import queries
from engage.util import spreadsheet_safe, utcnow

COUNT_COLUMNS = ("engagement", "theme", "area", "week_beginning", "comments")


def _csv(filename: str, header: tuple[str, ...], rows) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([spreadsheet_safe(v) for v in row])
    return HttpResponse(
        "\ufeff" + buffer.getvalue(),  # a BOM, so Excel reads UTF-8 (explained on /open-data)
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _licence() -> dict[str, str]:
    return {"name": LICENCE_NAME, "url": LICENCE_URL}


def published_response_dicts() -> list[dict[str, Any]]:
    """Every published response as open data, newest first."""
    responses = queries.all_published()
    ids = [r.id for r in responses]
    people = queries.people_counts(ids)
    votes = queries.vote_totals(ids)
    return [response_dict(r, people=people[r.id], votes=votes[r.id]) for r in responses]


def count_dicts() -> list[dict[str, Any]]:
    """Anonymised counts of comments by engagement, theme, area and week."""
    return [
        {
            "engagement": row.engagement,
            "theme": row.theme,
            "area": row.area,
            "week_beginning": iso(row.week),
            "comments": row.count,
        }
        for row in queries.feedback_counts()
    ]


@bp.get("/open-data")
def open_data():
    """Describe the open data files and their licence."""
    return render_template(
        "public/open_data.html",
        licence_name=LICENCE_NAME,
        licence_url=LICENCE_URL,
        response_columns=RESPONSE_COLUMNS,
        count_columns=COUNT_COLUMNS,
        language_columns=language_stats.COLUMNS,  # issue 24
    )


@bp.get("/open-data/responses.csv")
@cached_page()
def responses_csv():
    """Download every published response as CSV."""
    rows = (response_row(d) for d in published_response_dicts())
    return _csv("you-said-we-did-responses.csv", RESPONSE_COLUMNS, rows)


@bp.get("/open-data/responses.json")
@cached_page()
def responses_json():
    """Download every published response as JSON."""
    return jsonify(
        {
            "licence": _licence(),
            "generated_at": iso(utcnow()),
            "responses": published_response_dicts(),
        }
    )


@bp.get("/open-data/feedback-counts.csv")
@cached_page(counts_feedback=True)
def counts_csv():
    """Download anonymised comment counts by theme, area and week as CSV."""
    rows = ([d[c] for c in COUNT_COLUMNS] for d in count_dicts())
    return _csv("feedback-counts.csv", COUNT_COLUMNS, rows)


@bp.get("/open-data/feedback-counts.json")
@cached_page(counts_feedback=True)
def counts_json():
    """Download anonymised comment counts by theme, area and week as JSON, with the
    counts by engagement and language (issue 24)."""
    return jsonify(
        {
            "licence": _licence(),
            "generated_at": iso(utcnow()),
            "counts": count_dicts(),
            "languages": language_stats.as_dicts(language_stats.language_counts()),
        }
    )


# Issue 24: comments by engagement and the language they were written in (counts only).


@bp.get("/open-data/language-counts.csv")
@cached_page(counts_feedback=True)
def language_counts_csv():
    """Download comment counts by engagement and language as CSV."""
    rows = ((r.engagement, r.language, r.comments) for r in language_stats.language_counts())
    return _csv("language-counts.csv", language_stats.COLUMNS, rows)


@bp.get("/open-data/language-counts.json")
@cached_page(counts_feedback=True)
def language_counts_json():
    """Download comment counts by engagement and language as JSON."""
    return jsonify(
        {
            "licence": _licence(),
            "generated_at": iso(utcnow()),
            "languages": language_stats.as_dicts(language_stats.language_counts()),
        }
    )
