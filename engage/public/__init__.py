"""The public side: the "You said, we did" log, feeds, open data, the JSON API."""

from __future__ import annotations

from flask import Blueprint

# Static files of this blueprint: the print stylesheet of the committee report.
bp = Blueprint("public", __name__, static_folder="static", static_url_path="/public/static")

# The route modules register themselves on ``bp``.
from engage.public import api, feeds, opendata, views  # noqa: E402, F401
