"""JSON API for partner organisations: POST /api/v1/feedback.

One feedback object, or a list of up to MAX_BATCH, stored all or none by
feedback.service.submit_many(). Every error is problem details (RFC 9457,
``application/problem+json``); a validation error lists each field refused, as
``items[2].text`` (and the JSON pointer ``#/2/text``) in a batch or ``text`` alone.

``Idempotency-Key``: a retry with the same key and body is answered 200 with the
references the first request stored; the same key with another body is 409. Keys are
the partner's own and are kept in the database (every web process sees them) for
feedback.idempotency.IDEMPOTENCY_KEY_LIFETIME.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, jsonify, request

from engage.extensions import csrf, limiter
from engage.feedback import partners, service
from engage.feedback.idempotency import (
    AlreadyStored,
    Idempotency,
    IdempotencyKeyReused,
    request_hash,
    stored_under,
)
from engage.feedback.models import Channel, Status
from engage.web import problem

api = Blueprint("feedback_api", __name__, url_prefix="/api/v1")

MAX_BATCH = 500
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Printable ASCII, as the header's value (an sf-string, or a bare token as many send it).
_KEY = re.compile(r"[\x20-\x7e]{1,255}")
_STRING_FIELDS = ("text", "engagement", "name", "email", "area")
_BOOL_FIELDS = ("consent_to_quote", "contact_me")
_ALLOWED = set(_STRING_FIELDS) | set(_BOOL_FIELDS)
# service.validate() names some fields after the model; the API names them as sent.
_API_NAMES = {"author_name": "name", "author_email": "email", "engagement_slug": "engagement"}
_WHOLE_ITEM = ""  # the error is about an item as a whole, not one of its fields


def _parse(entry: Any) -> tuple[service.Submission | None, dict[str, str]]:
    """Turn one JSON object into a Submission, or field errors (types checked strictly)."""
    if not isinstance(entry, dict):
        return None, {_WHOLE_ITEM: "Each item must be a JSON object"}
    errors: dict[str, str] = {}
    for key in sorted(entry.keys() - _ALLOWED):
        errors[str(key)[:60]] = "Unknown field"
    for key in _STRING_FIELDS:
        if entry.get(key) is not None and not isinstance(entry[key], str):
            errors[key] = "Must be a string"
    for key in _BOOL_FIELDS:
        if key in entry and not isinstance(entry[key], bool):
            errors[key] = "Must be true or false"
    if entry.get("text") is None and "text" not in errors:
        errors["text"] = "Required"
    if errors:
        # What was sent well is checked too, so that one answer names every refused field.
        sent_well = {k: v for k, v in entry.items() if k in _ALLOWED and k not in errors}
        return None, {**_refusals(_submission(sent_well)), **errors}
    return _submission(entry), {}


def _submission(entry: dict) -> service.Submission:
    return service.Submission(
        text=entry.get("text") or "",
        channel=Channel.API,
        engagement_slug=entry.get("engagement") or None,
        author_name=entry.get("name"),
        author_email=entry.get("email"),
        area=entry.get("area"),
        consent_to_quote=entry.get("consent_to_quote", False),
        contact_me=entry.get("contact_me", False),
    )


def _refusals(submission: service.Submission) -> dict[str, str]:
    """service.validate()'s refusals of a submission, by the API's field names."""
    try:
        service.validate(submission, refuse_nul=True)
    except service.InvalidSubmission as invalid:
        return {_API_NAMES.get(name, name): message for name, message in invalid.errors.items()}
    return {}


def _where(index: int | None, name: str) -> dict[str, str]:
    """A field's name as people read it (``items[2].text``) and as a JSON pointer."""
    escaped = name.replace("~", "~0").replace("/", "~1")
    if index is None:
        return {"field": name or "body", "pointer": f"#/{escaped}" if name else "#"}
    return {
        "field": f"items[{index}].{name}" if name else f"items[{index}]",
        "pointer": f"#/{index}/{escaped}" if name else f"#/{index}",
    }


def _invalid(by_index: dict[int, dict[str, str]], *, batch: bool, count: int):
    """422 listing every refused field; nothing was stored."""
    errors = [
        {**_where(index if batch else None, _API_NAMES.get(name, name)), "detail": message}
        for index, fields in sorted(by_index.items())
        for name, message in fields.items()
    ]
    listed = "; ".join(f"{e['field']}: {e['detail']}" for e in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    if batch:
        head = f"{len(by_index)} of {count} items are not valid, so none was stored"
    else:
        head = "The feedback is not valid, so it was not stored"
    return problem(422, f"{head}. {listed}{more}", errors=errors)


def _answer(references: list[str], *, batch: bool, partner_name: str, status: int):
    items = [{"reference": reference, "status": Status.NEW.value} for reference in references]
    body = {"items": items, "partner": partner_name} if batch else items[0]
    response = jsonify(body)
    response.status_code = status
    if status == 200:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _idempotency_key() -> tuple[str | None, bool]:
    """The request's Idempotency-Key (None without one), and whether it is acceptable."""
    raw = request.headers.get(IDEMPOTENCY_HEADER)
    if raw is None:
        return None, True
    key = raw.strip()
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        key = key[1:-1]  # the structured-field form: "8e03978e-..."
    return key, bool(_KEY.fullmatch(key)) and bool(key.strip())


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


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
        return problem(
            401,
            "Send a valid partner token: Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": 'Bearer realm="engage"'},
        )
    partner_id, partner_name = partner.id, partner.name
    if not request.is_json:
        if not request.content_length and not request.content_type:
            return problem(400, "Send the feedback as a JSON body.")
        return problem(415, "Send the feedback as JSON, with Content-Type: application/json.")
    key, key_ok = _idempotency_key()
    if not key_ok:
        return problem(
            400,
            f"The {IDEMPOTENCY_HEADER} header must be 1 to 255 printable ASCII characters.",
            errors=[{"field": IDEMPOTENCY_HEADER, "detail": "1 to 255 printable ASCII"}],
        )
    try:  # reading the body raises 413 (a problem too) when it is over MAX_CONTENT_LENGTH
        payload = json.loads(request.get_data(cache=True), parse_constant=_no_constants)
    except (ValueError, RecursionError):  # RecursionError: nesting deep enough to exhaust it
        return problem(400, "The body is not valid JSON (UTF-8).")
    batch = isinstance(payload, list)
    entries = payload if batch else [payload]
    if not entries or len(entries) > MAX_BATCH:
        return problem(400, f"Send one feedback object, or a list of 1 to {MAX_BATCH} of them.")
    idempotency = None
    if key is not None:
        idempotency = Idempotency(partner_id, key, request_hash(payload))
        try:
            earlier = stored_under(idempotency)
        except IdempotencyKeyReused:
            return _key_reused()
        if earlier is not None:
            return _answer(earlier, batch=batch, partner_name=partner_name, status=200)
    parsed = [_parse(entry) for entry in entries]
    refused = {index: errors for index, (_, errors) in enumerate(parsed) if errors}
    if refused:
        for index, (submission, _errors) in enumerate(parsed):
            if submission is not None and (more := _refusals(submission)):
                refused[index] = more
        return _invalid(refused, batch=batch, count=len(entries))
    try:
        references = service.submit_many(
            [submission for submission, _ in parsed], idempotency=idempotency
        )
    except service.InvalidBatch as invalid:
        return _invalid(invalid.by_index, batch=batch, count=len(entries))
    except AlreadyStored as earlier:  # the same request, committed a moment before
        return _answer(earlier.references, batch=batch, partner_name=partner_name, status=200)
    except IdempotencyKeyReused:
        return _key_reused()
    return _answer(references, batch=batch, partner_name=partner_name, status=201)


def _key_reused():
    return problem(
        409,
        f"This {IDEMPOTENCY_HEADER} was used for a request with a different body; "
        "nothing was stored. Use a new key for new feedback.",
    )
