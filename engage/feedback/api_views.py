"""JSON API for partner organisations: POST /api/v1/feedback."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from engage.extensions import csrf, limiter
from engage.feedback import partners, service
from engage.feedback.models import Channel

api = Blueprint("feedback_api", __name__, url_prefix="/api/v1")

MAX_BATCH = 500
_STRING_FIELDS = ("text", "engagement", "name", "email", "area")
_BOOL_FIELDS = ("consent_to_quote", "contact_me")
_ALLOWED = set(_STRING_FIELDS) | set(_BOOL_FIELDS)


def _problem(status: int, title: str, errors: Any = None):
    body: dict[str, Any] = {"status": status, "title": title}
    if errors is not None:
        body["errors"] = errors
    return jsonify(body), status


def _parse(entry: Any) -> tuple[service.Submission | None, dict[str, str]]:
    """Turn one JSON object into a Submission, or field errors (types checked strictly)."""
    if not isinstance(entry, dict):
        return None, {"_": "Each item must be a JSON object"}
    errors: dict[str, str] = {}
    for key in entry.keys() - _ALLOWED:
        errors[str(key)[:60]] = "Unknown field"
    for key in _STRING_FIELDS:
        if entry.get(key) is not None and not isinstance(entry[key], str):
            errors[key] = "Must be a string"
    for key in _BOOL_FIELDS:
        if key in entry and not isinstance(entry[key], bool):
            errors[key] = "Must be true or false"
    if "text" not in entry:
        errors["text"] = "Required"
    if errors:
        return None, errors
    submission = service.Submission(
        text=entry["text"],
        channel=Channel.API,
        engagement_slug=entry.get("engagement") or None,
        author_name=entry.get("name"),
        author_email=entry.get("email"),
        area=entry.get("area"),
        consent_to_quote=entry.get("consent_to_quote", False),
        contact_me=entry.get("contact_me", False),
    )
    try:
        service.validate(submission)
    except service.InvalidSubmission as invalid:
        names = {"author_name": "name", "author_email": "email"}
        return None, {names.get(k, k): v for k, v in invalid.errors.items()}
    return submission, {}


def _partner_key() -> str:
    header = request.headers.get("Authorization", "")
    return header[-16:] or (request.remote_addr or "anonymous")


@api.post("/feedback")
@csrf.exempt  # Bearer-token authenticated; no browser session is involved.
@limiter.limit("120 per minute", key_func=_partner_key)
def submit_feedback():
    """Accept one feedback object, or a list of up to 500, from a partner."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    partner = partners.partner_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if partner is None:
        response = _problem(401, "A valid partner token is required")
        response[0].headers["WWW-Authenticate"] = 'Bearer realm="engage"'
        return response
    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # nesting deep enough to exhaust the parser: not feedback
        payload = None
    if payload is None:
        return _problem(400, "The body must be JSON (Content-Type: application/json)")
    entries = payload if isinstance(payload, list) else [payload]
    if not entries or len(entries) > MAX_BATCH:
        return _problem(400, f"Send between 1 and {MAX_BATCH} items")
    # Validate everything first, so a batch is stored whole or not at all.
    parsed = [_parse(entry) for entry in entries]
    errors = {str(i): errs for i, (_, errs) in enumerate(parsed) if errs}
    if errors:
        if not isinstance(payload, list):
            return _problem(422, "The feedback is not valid", errors["0"])
        return _problem(422, "Some items are not valid; nothing was stored", errors)
    stored = []
    for submission, _ in parsed:
        item = service.submit(submission)
        stored.append({"reference": item.reference, "status": item.status.value})
    if isinstance(payload, list):
        return jsonify({"items": stored, "partner": partner.name}), 201
    return jsonify(stored[0]), 201
