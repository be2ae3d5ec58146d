"""Engagements: the consultations residents respond to, and their public pages."""

from flask import Blueprint

bp = Blueprint("engagements", __name__)

from engage.engagements import views  # noqa: E402,F401  (registers the routes)
