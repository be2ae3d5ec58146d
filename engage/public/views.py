"""Public pages: the response log, one response, voting, alerts, the committee report."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select

from engage.engagements import service as engagements
from engage.engagements.models import Engagement
from engage.extensions import csrf, db, limiter
from engage.feedback.models import Theme
from engage.pagination import page_number
from engage.public import bp
from engage.public.cache import cached_page
from engage.public.forms import AlertForm, VoteForm
from engage.publish import queries, service
from engage.publish.models import RESPONSE_STATUS_LABELS
from engage.util import utcnow

PER_PAGE = 20


def _themes() -> list[Theme]:
    return list(db.session.scalars(select(Theme).order_by(Theme.position)))


def _areas(all_engagements: list[Engagement]) -> list[str]:
    return sorted({area for e in all_engagements for area in (e.areas or [])})


@bp.get("/you-said-we-did")
@cached_page()
def log():
    """List every published response, newest first, with filters and search."""
    filters = queries.LogFilters.from_args(request.args)
    page = page_number(request.args.get("page"))
    try:
        results = queries.paginate(queries.published_query(filters), page=page, per_page=PER_PAGE)
    except queries.PageNotFound:
        abort(404)
    all_engagements = engagements.list_engagements()
    return render_template(
        "public/log.html",
        results=results,
        filters=filters,
        engagements=all_engagements,
        themes=_themes(),
        areas=_areas(all_engagements),
        statuses=RESPONSE_STATUS_LABELS,
        people=queries.people_counts([r.id for r in results.items]),
    )


def render_response(response, form: VoteForm | None = None, status: int = 200, **extra):
    """The public page of one response (staff previews pass ``preview=True``)."""
    return (
        render_template(
            "public/response.html",
            response=response,
            people=queries.people_count(response),
            quotes=queries.quotes(response),
            history=queries.public_history(response),
            votes=service.vote_counts(response),
            form=form or VoteForm(),
            **extra,
        ),
        status,
    )


@bp.get("/you-said-we-did/<int:response_id>")
@cached_page(csrf=True)
def response(response_id: int):
    """Show one published response, its history, its progress and the yes/no question."""
    found = queries.get_published(response_id)
    if found is None:
        abort(404)
    return render_response(found)


@bp.post("/you-said-we-did/<int:response_id>/vote")
@limiter.limit("10 per minute;60 per hour", methods=["POST"])
def vote(response_id: int):
    """Record whether a response answers someone's concern."""
    found = queries.get_published(response_id)
    if found is None:
        abort(404)
    form = VoteForm()
    if not form.validate_on_submit():
        return render_response(found, form, status=400)
    helpful = form.helpful.data == "yes"
    service.vote(found, helpful=helpful, comment=form.comment.data)
    db.session.commit()
    if helpful:
        flash("Thank you. You told us this answers your concern.", "success")
    else:
        flash(
            "Thank you. We have recorded that this does not answer your concern"
            + (" and added what you wrote to the feedback we read." if form.comment.data else "."),
            "success",
        )
    return redirect(url_for("public.response", response_id=found.id, _anchor="vote"), code=303)


def _target_choices(themes: list[Theme], all_engagements: list[Engagement]):
    return (
        [("", "Choose one")]
        + [(f"theme:{t.slug}", f"Theme: {t.name}") for t in themes]
        + [(f"engagement:{e.slug}", f"Engagement: {e.title}") for e in all_engagements]
    )


@bp.route("/you-said-we-did/alerts", methods=["GET", "POST"])
@limiter.limit("5 per minute;30 per hour", methods=["POST"])
def alerts():
    """Ask for an email when a response is published on a theme or an engagement."""
    themes = _themes()
    all_engagements = engagements.list_engagements()
    form = AlertForm()
    form.target.choices = _target_choices(themes, all_engagements)
    if request.method == "GET":
        if request.args.get("theme"):
            form.target.data = f"theme:{queries.clean_param(request.args['theme'], 60)}"
        elif request.args.get("engagement"):
            form.target.data = f"engagement:{queries.clean_param(request.args['engagement'])}"
    elif form.validate_on_submit():
        kind, _, slug = (form.target.data or "").partition(":")
        theme = next((t for t in themes if kind == "theme" and t.slug == slug), None)
        engagement = next(
            (e for e in all_engagements if kind == "engagement" and e.slug == slug), None
        )
        try:
            service.subscribe(email=form.email.data or "", theme=theme, engagement=engagement)
        except service.InvalidResponse as invalid:
            for name, message in invalid.errors.items():
                field = form.email if name == "email" else form.target
                field.errors = [*field.errors, message]
        else:
            db.session.commit()
            # The same page whether or not the address was already subscribed.
            return render_template("public/alerts_sent.html", email=form.email.data)
    status = 400 if form.errors else 200
    return render_template("public/alerts.html", form=form), status


@bp.route("/you-said-we-did/alerts/confirm/<token>", methods=["GET", "POST"])
def alert_confirm(token: str):
    """Confirm an alert subscription (the link only shows a button: scanners follow links)."""
    subscription = service.subscription_for_confirm_token(token)
    if subscription is None:
        return render_template("public/alert_confirm.html", invalid=True, form=None), 404
    form = FlaskForm()
    if form.validate_on_submit():
        service.confirm(token=token)
        db.session.commit()
        return render_template(
            "public/alert_confirm.html", done=True, subscription=subscription, form=None
        )
    return render_template("public/alert_confirm.html", subscription=subscription, form=form)


@bp.get("/you-said-we-did/alerts/unsubscribe/<token>")
def alert_unsubscribe(token: str):
    """Ask to confirm stopping an alert (a GET never changes anything)."""
    subscription = service.notifications.subscription_for_unsubscribe_token(token)
    if subscription is None:
        abort(404)
    return render_template(
        "public/alert_unsubscribe.html", token=token, subscription=subscription, done=False
    )


@bp.post("/you-said-we-did/alerts/unsubscribe/<token>")
@csrf.exempt  # The signed token is the authority; mail clients post here (RFC 8058).
def alert_unsubscribe_confirm(token: str):
    """Stop an alert: one click from the mail client, or the page's button."""
    subscription = service.unsubscribe(token=token)
    if subscription is None:
        abort(404)
    db.session.commit()
    if request.form.get("List-Unsubscribe") == "One-Click":
        return "", 204
    return render_template(
        "public/alert_unsubscribe.html", token=token, subscription=subscription, done=True
    )


@bp.get("/engagements/<slug>/report")
@cached_page(counts_feedback=True)
def report(slug: str):
    """A printable summary of an engagement for scrutiny committees (A4)."""
    # A slug with control characters (NUL breaks PostgreSQL) names no engagement.
    clean = queries.clean_param(slug, 120)
    engagement = engagements.get_by_slug(clean) if clean == slug else None
    if engagement is None:
        abort(404)
    return render_template(
        "public/report.html",
        engagement=engagement,
        figures=engagements.figures(engagement),
        responses=service.published_for(engagement),
        responsiveness=service.responsiveness(engagement),
        statuses=queries.status_counts(engagement),
        response_status_labels=RESPONSE_STATUS_LABELS,
        today=utcnow().date(),
    )


@bp.get("/accessibility")
def accessibility():
    """Show the accessibility statement."""
    return render_template("public/accessibility.html")


@bp.get("/privacy")
def privacy():
    """Show the privacy notice."""
    return render_template("public/privacy.html")
