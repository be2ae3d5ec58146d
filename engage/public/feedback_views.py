"""Residents' pages: send feedback, see the reference, track it, stop emails.

The ``feedback`` blueprint (endpoints ``feedback.send``, ``feedback.sent``,
``feedback.track`` and the unsubscribe pages)."""

from __future__ import annotations

import logging
from dataclasses import replace

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm

from engage.engagements import service as engagements
from engage.extensions import csrf, limiter
from engage.feedback import idempotency, notifications, service
from engage.feedback.forms import FeedbackForm, TrackForm
from engage.feedback.models import STATUS_LABELS, Channel
from engage.i18n import _, current_code
from engage.public.engagement_views import render_engagement_page
from engage.publish import queries as publish_queries
from engage.util import clean_param, utcnow
from engage.web import retry_after

bp = Blueprint("feedback", __name__)
log = logging.getLogger(__name__)

FORM_LIMIT = "10 per minute;60 per hour"


def _form_kept(limit) -> Response | None:
    """Over the form's rate limit: the engagement page again, with the resident's words
    in the form and a message (429), rather than a page without the form. Nothing is
    stored; the form's CSRF check has not run, and nothing here needs it."""
    engagement = engagements.get_by_slug(request.view_args.get("slug", ""))
    if engagement is None:
        return None
    form = FeedbackForm(meta={"csrf": False})
    form.set_areas(engagement.areas or [])
    form.text.errors = [
        _(
            "You have sent several comments in a short time. Wait a minute, then send "
            "this one again: what you wrote is still here."
        )
    ]
    body, status = render_engagement_page(engagement, form, status=429)
    response = make_response(body, status)
    response.headers["Retry-After"] = retry_after(limit)
    return response


@bp.post("/engagements/<slug>/feedback")
@limiter.limit(FORM_LIMIT, methods=["POST"], on_breach=_form_kept)
def send(slug: str):
    """Store a resident's feedback and show their reference."""
    engagement = engagements.get_by_slug(slug)
    if engagement is None:
        abort(404)
    form = FeedbackForm()
    form.set_areas(engagement.areas or [])
    if not form.validate_on_submit():
        return render_engagement_page(engagement, form, status=400)
    if form.website.data:
        log.info("honeypot filled on %s; submission refused", slug)
        abort(400)
    open_now = engagement.is_open(utcnow().date())
    submission = service.Submission(
        text=form.text.data or "",
        channel=Channel.WEB,
        # A closed engagement still takes general feedback, not tied to it.
        engagement_slug=engagement.slug if open_now else None,
        subject=None if open_now else f"General feedback sent from: {engagement.title}",
        author_name=form.author_name.data,
        author_email=form.author_email.data,
        area=form.area.data or None,
        consent_to_quote=form.consent_to_quote.data,
        contact_me=form.contact_me.data,
        ui_locale=current_code(),
    )
    session_secret = _session_secret()
    if session_secret:
        key = idempotency.form_submission_key(session_secret, submission)
        submission = replace(submission, submission_key=key)
    # A closed (or not yet open) engagement's form files the comment as general
    # feedback: the page says so. Read before submit() commits, which expires the
    # engagement: reading it afterwards would load it again.
    general_from = None if open_now else engagement.title
    not_yet_open = utcnow().date() < engagement.opens_on
    started = utcnow()
    try:
        item = service.submit(submission, engagement=engagement)
    except service.InvalidSubmission as invalid:
        _show_errors(form, invalid.errors)
        return render_engagement_page(engagement, form, status=400)
    session["sent_reference"] = item.reference
    session["sent_emailed"] = bool(item.author_email)
    session["sent_general_from"] = general_from
    session["sent_not_yet_open"] = not_yet_open
    # An earlier item answered this post: it was sent twice (see service.submit()).
    session["sent_again"] = item.submitted_at < started
    return redirect(url_for("feedback.sent"), code=303)


def _show_errors(form: FeedbackForm, errors: dict[str, str]) -> None:
    """Put the service's messages on the form's fields (the text box for any other)."""
    for name, message in errors.items():
        field = getattr(form, name, form.text)
        field.errors = [*field.errors, message]


def _session_secret() -> str | None:
    """The browser session's CSRF secret, which every accepted form post's session has
    (Flask-WTF keeps it in the signed session cookie); None with CSRF checks turned off,
    and then posts sent twice are not recognised."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return None
    return session.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))


@bp.get("/feedback/sent")
def sent():
    """Confirm the feedback was received and show its reference."""
    reference = session.get("sent_reference")
    if not reference:
        return redirect(url_for("engagements.index"))
    return render_template(
        "feedback/sent.html",
        reference=reference,
        emailed=session.get("sent_emailed", False),
        sent_again=session.get("sent_again", False),
        general_from=session.get("sent_general_from"),
        not_yet_open=session.get("sent_not_yet_open", False),
    )


@bp.route("/track", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def track():
    """Show what happened to an item, to someone who knows its reference and email."""
    form = TrackForm()
    if request.method == "GET" and request.args.get("reference"):
        # The acknowledgement email links to /track?reference=… to fill it in.
        form.reference.data = clean_param(request.args["reference"], 40)
    item = None
    not_found = False
    if form.validate_on_submit():
        item = service.find_for_tracking(form.reference.data, form.author_email.data)
        not_found = item is None
    status = 400 if form.errors or not_found else 200
    timeline = None
    if item is not None:
        timeline = publish_queries.tracking(item)
    return render_template(
        "feedback/track.html", form=form, item=item, not_found=not_found, timeline=timeline
    ), status


@bp.get("/unsubscribe/<token>")
def unsubscribe(token: str):
    """Ask to confirm stopping emails about one item (a GET never changes anything)."""
    item = notifications.item_for_unsubscribe_token(token)
    if item is None:
        abort(404)
    return render_template("feedback/unsubscribe.html", token=token, done=False, form=FlaskForm())


@bp.post("/unsubscribe/<token>")
@csrf.exempt  # checked below, except for a mail client's one-click post (RFC 8058)
def unsubscribe_confirm(token: str):
    """Stop emails about one item: one-click from the mail client or the page's button.

    A mail client cannot send a CSRF token: its ``List-Unsubscribe=One-Click`` post is
    allowed on the signed token in the URL alone; the page's button sends one.
    """
    item = notifications.item_for_unsubscribe_token(token)
    if item is None:
        abort(404)
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    if not one_click and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    item.contact_me = False
    if one_click:
        return "", 204
    return render_template("feedback/unsubscribe.html", token=token, done=True)


@bp.app_context_processor
def status_labels():
    """Residents' wording for each status."""
    return {"status_labels": {status.value: label for status, label in STATUS_LABELS.items()}}
