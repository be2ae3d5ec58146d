"""Languages (issue 24): an item's English translation and language, and the
translations of an engagement's and a response's wording."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from engage import audit
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.followup import post_commit
from engage.languages import content, names
from engage.publish.models import Response
from engage.staff import translation
from engage.staff.auth import role_required
from engage.staff.models import Role
from engage.staff.views import bp
from engage.staff.views.items import _item, _item_url, _trail
from engage.util import MAX_DB_ID


def _back_to_item(item_id: int, anchor: str = "language"):
    filters, at, _args = _trail()
    return redirect(_item_url(item_id, filters, at) + f"#{anchor}")


@bp.post("/items/<int:item_id>/translation")
@role_required(Role.TRIAGER)
def item_translation(item_id: int):
    """Keep staff's English translation beside the original; the classifier tags it."""
    return _change_item(
        item_id,
        lambda found: translation.add_translation(
            found, request.form.get("translation"), by=current_user
        ),
        saved="Translation saved",
        unchanged="The translation has not changed",
    )


@bp.post("/items/<int:item_id>/language")
@role_required(Role.TRIAGER)
def item_language(item_id: int):
    """Correct the detected language (the item is classified again)."""
    return _change_item(
        item_id,
        lambda found: translation.set_language(
            found, request.form.get("language", "")[:12], by=current_user
        ),
        saved="Language saved",
        unchanged="The language has not changed",
    )


def _change_item(item_id: int, change, *, saved: str, unchanged: str):
    """Apply ``change`` (True when it changed the item) and, if it did, hand the item to
    the normal classification step, now or in the worker (engage.followup)."""
    found = _item(item_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        changed = change(found)
    except translation.TranslationError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return _back_to_item(item_id)
    # Kept here: the item must be stored before it is handed to classification
    # (post_commit reads committed rows, perhaps in another process).
    db.session.commit()
    if changed:
        post_commit.after_commit([found])
    flash(saved if changed else unchanged, "info")
    return _back_to_item(item_id)


def _content_page(obj, kind: str, title: str, back_url: str, action: str):
    """The form for one kind of row's translations: one locale at a time."""
    locales = translation.content_locales()
    locale = request.values.get("locale", "")[:12]
    if locale not in locales:
        locale = ""
    status = 200
    if request.method == "POST":
        if not FlaskForm().validate_on_submit():
            abort(400)
        if not locale:
            flash("Choose a language", "warning")
            status = 400
        else:
            values = {field: request.form.get(field) for field in content.FIELDS[kind]}
            try:
                changed = translation.set_content_translation(
                    obj, kind, locale, values, by=current_user
                )
            except translation.TranslationError as exc:
                db.session.rollback()
                flash(str(exc), "warning")
                status = 400
            else:
                flash(f"{names.name(locale)} saved" if changed else "Nothing has changed", "info")
                return redirect(request.path + f"?locale={locale}")
    existing = (obj.translations or {}).get(locale, {}) if locale else {}
    return (
        render_template(
            "staff/translations.html",
            obj=obj,
            kind=kind,
            title=title,
            fields=content.FIELDS[kind],
            locale=locale,
            locales=[(code, names.name(code)) for code in locales],
            written=sorted(obj.translations or {}),
            existing=existing,
            form=FlaskForm(),
            back_url=back_url,
            action=action,
            names=names.NAMES,
        ),
        status,
    )


@bp.route("/engagements/<slug>/translations", methods=["GET", "POST"])
@role_required(Role.PUBLISHER)
def engagement_translations(slug: str):
    """An engagement's title and summary in other languages."""
    found = db.session.scalar(select(Engagement).where(Engagement.slug == slug[:120]))
    if found is None:
        audit.denied("not_found", detail={"engagement": slug[:120]})
        abort(404)
    return _content_page(
        found,
        "engagement",
        f"Translations of “{found.title}”",
        url_for("engagements.show", slug=found.slug),
        url_for("staff.engagement_translations", slug=found.slug),
    )


@bp.route("/responses/<int:response_id>/translations", methods=["GET", "POST"])
@role_required(Role.PUBLISHER)
def response_translations(response_id: int):
    """A response's wording in other languages."""
    found = db.session.get(Response, response_id) if response_id <= MAX_DB_ID else None
    if found is None:
        audit.denied("not_found", detail={"response_id": response_id})
        abort(404)
    return _content_page(
        found,
        "response",
        f"Translations of response {found.id}",
        url_for("staff.responses_edit", response_id=found.id),
        url_for("staff.response_translations", response_id=found.id),
    )
