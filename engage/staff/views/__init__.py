"""The staff blueprint: every page under /staff/. Each module adds its routes."""

from __future__ import annotations

from flask import Blueprint

from engage.feedback.themes import percent_text
from engage.staff import html
from engage.staff.inbox import filter_options
from engage.staff.labels import STATUS_NAMES

bp = Blueprint("staff", __name__, url_prefix="/staff")


bp.add_app_template_global(html.item_status_tag, "item_status_tag")
bp.add_app_template_global(html.theme_tags, "theme_tags")
bp.add_app_template_global(html.theme_label, "theme_label")
bp.add_app_template_global(html.numbered_url, "numbered_url")
bp.add_app_template_global(filter_options, "filter_options")
bp.add_app_template_global(STATUS_NAMES, "status_names")
# A theme's probability as staff see it everywhere: {{ tag.confidence | percent }} is "81%".
bp.add_app_template_filter(percent_text, "percent")


@bp.after_request
def never_cache(response):
    """Staff pages hold personal data: no browser or proxy may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


from engage.staff.views import (  # noqa: E402, F401  (modules register routes on bp)
    accounts,
    concerns,
    inbox,
    insight,
    items,
    languages,  # issue 24: translations of items, engagements and responses
    publishing,
    responses,
    session,
)
