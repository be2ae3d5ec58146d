"""POST /inbound/email: a raw RFC 822 message from an MTA pipe or a provider webhook."""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, jsonify, request

from engage.extensions import csrf, limiter

bp = Blueprint("mail", __name__)

# HTTP status for each outcome of inbound.ingest().
_STATUS = {"imported": 201, "duplicates": 200, "auto_replies": 202, "rejected": 422}


def _authorised() -> bool:
    expected = current_app.config.get("INBOUND_EMAIL_TOKEN")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


@bp.post("/inbound/email")
@csrf.exempt  # Authenticated by INBOUND_EMAIL_TOKEN, not by a browser session.
@limiter.limit("600 per minute")
def receive():
    """Store one emailed piece of feedback; answer what happened to it."""
    from engage.mail import inbound  # parsing is only loaded where mail is received

    if not current_app.config.get("INBOUND_EMAIL_TOKEN"):
        abort(404)
    if not _authorised():
        response = jsonify({"status": 401, "title": "A valid INBOUND_EMAIL_TOKEN is required"})
        response.headers["WWW-Authenticate"] = 'Bearer realm="engage-inbound"'
        return response, 401
    limit = current_app.config.get("INBOUND_MAX_BYTES", 10 * 1024 * 1024)
    if request.content_length is not None and request.content_length > limit:
        # Worded as import-mail and the rest of this endpoint word a rejected email.
        reason = f"the email is larger than the limit of {limit:,} bytes (INBOUND_MAX_BYTES)"
        body = {"status": 413, "title": "The message is too large", "reason": reason}
        return jsonify(body), 413
    raw = request.get_data(cache=False)
    if not raw:
        body = {
            "status": 400,
            "title": "The body must be a raw RFC 822 message",
            "reason": "the email is empty",
        }
        return jsonify(body), 400
    outcome = inbound.ingest(raw, source="webhook")
    body = {"result": outcome.result, "reference": outcome.reference, "reason": outcome.reason}
    return jsonify(body), _STATUS[outcome.result]
