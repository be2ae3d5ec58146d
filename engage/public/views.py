"""Public pages: the response log, one response, voting, alerts, the committee report."""

from __future__ import annotations

import functools

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy import select

from engage.engagements import service as engagements
from engage.engagements.models import Engagement
from engage.extensions import csrf, db, limiter
from engage.feedback.models import Theme
from engage.i18n import _
from engage.pagination import page_number
from engage.public import bp
from engage.public.cache import cached_page
from engage.public.forms import AlertChoicesForm, AlertForm, VoteForm
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
        flash(_("Thank you. You told us this answers your concern."), "success")
    elif form.comment.data:
        flash(
            _(
                "Thank you. We have recorded that this does not answer your concern and "
                "added what you wrote to the feedback we read."
            ),
            "success",
        )
    else:
        flash(_("Thank you. We have recorded that this does not answer your concern."), "success")
    return redirect(url_for("public.response", response_id=found.id, _anchor="vote"), code=303)


def _token_page(view):
    """For pages reached by a secret link that show an email address: never stored by a
    cache, and the link is not sent on as a Referer to the pages they link to."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        response = make_response(view(*args, **kwargs))
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return wrapper


def _chosen(form: AlertChoicesForm, themes: list[Theme], all_engagements: list[Engagement]):
    """The themes and engagements whose boxes are ticked (unknown slugs are ignored)."""
    theme_slugs = set(form.themes.data or [])
    engagement_slugs = set(form.engagements.data or [])
    return (
        [t for t in themes if t.slug in theme_slugs],
        [e for e in all_engagements if e.slug in engagement_slugs],
    )


def _add_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is None:
            field = form.themes
        field.errors = [*field.errors, message]


@bp.route("/you-said-we-did/alerts", methods=["GET", "POST"])
@limiter.limit("5 per minute;30 per hour", methods=["POST"])
def alerts():
    """Ask for emails when responses are published on some themes and engagements."""
    themes = _themes()
    all_engagements = engagements.list_engagements()
    form = AlertForm()
    form.set_choices(themes, all_engagements)
    if request.method == "GET":
        # Links from a theme or an engagement tick its box.
        if request.args.get("theme"):
            form.themes.data = [queries.clean_param(request.args["theme"], 60)]
        if request.args.get("engagement"):
            form.engagements.data = [queries.clean_param(request.args["engagement"], 120)]
    else:
        valid = form.validate_on_submit()
        chosen_themes, chosen_engagements = _chosen(form, themes, all_engagements)
        if not chosen_themes and not chosen_engagements:
            _add_errors(form, {"themes": "Select at least one theme or engagement"})
        elif valid:
            try:
                service.subscribe(
                    email=form.email.data or "",
                    themes=chosen_themes,
                    engagements=chosen_engagements,
                )
            except service.InvalidResponse as invalid:
                _add_errors(form, invalid.errors)
            else:
                db.session.commit()
                # The same page whether or not the address was already subscribed.
                return render_template("public/alerts_sent.html", email=form.email.data)
    status = 400 if form.errors else 200
    return render_template("public/alerts.html", form=form), status


@bp.route("/you-said-we-did/alerts/confirm/<token>", methods=["GET", "POST"])
@_token_page
def alert_confirm(token: str):
    """Confirm alert choices (the link only shows a button: scanners follow links)."""
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


@bp.route("/you-said-we-did/alerts/manage/<token>", methods=["GET", "POST"])
@_token_page
def alert_manage(token: str):
    """Change what an address follows, or stop it all, from the link in every alert."""
    subscription = service.notifications.subscription_for_token(token)
    if subscription is None:
        abort(404)
    themes = _themes()
    all_engagements = engagements.list_engagements()
    form = AlertChoicesForm()
    form.set_choices(themes, all_engagements)
    if request.method == "GET":
        form.themes.data = [c.theme.slug for c in subscription.following if c.theme]
        form.engagements.data = [c.engagement.slug for c in subscription.following if c.engagement]
    elif form.validate_on_submit():
        if request.form.get("action") == "stop":
            service.unsubscribe(token=token)
            db.session.commit()
            return render_template(
                "public/alert_unsubscribe.html", token=token, subscription=subscription, done=True
            )
        try:
            chosen_themes, chosen_engagements = _chosen(form, themes, all_engagements)
            service.set_choices(subscription, themes=chosen_themes, engagements=chosen_engagements)
        except service.InvalidResponse as invalid:
            _add_errors(form, invalid.errors)
        else:
            db.session.commit()
            flash(_("Your choices are saved."), "success")
            return redirect(url_for("public.alert_manage", token=token), code=303)
    status = 400 if form.errors else 200
    return render_template(
        "public/alert_manage.html", form=form, subscription=subscription, token=token
    ), status


@bp.get("/you-said-we-did/alerts/unsubscribe/<token>")
@_token_page
def alert_unsubscribe(token: str):
    """Ask to confirm stopping all alerts (a GET never changes anything)."""
    subscription = service.notifications.subscription_for_token(token)
    if subscription is None:
        abort(404)
    return render_template(
        "public/alert_unsubscribe.html",
        token=token,
        subscription=subscription,
        done=False,
        form=FlaskForm(),
    )


@bp.post("/you-said-we-did/alerts/unsubscribe/<token>")
@csrf.exempt  # checked below, except for a mail client's one-click post (RFC 8058)
@_token_page
def alert_unsubscribe_confirm(token: str):
    """Stop all alerts: one click from the mail client, or the page's button.

    A mail client cannot send a CSRF token, so its ``List-Unsubscribe=One-Click`` post
    is allowed on the signed, unguessable token in the URL alone; the page's button
    sends a CSRF token as every other form does.
    """
    if service.notifications.subscription_for_token(token) is None:
        abort(404)
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    if not one_click and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    subscription = service.unsubscribe(token=token)
    db.session.commit()
    if one_click:
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
