"""Publishers write, preview, publish and follow up "You said, we did" responses."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from engage.engagements import service as engagements
from engage.extensions import db
from engage.feedback.models import DuplicateGroup, FeedbackItem, Status, Theme
from engage.feedback.queries import current_tags
from engage.public.views import render_response
from engage.publish import queries, service
from engage.publish.models import (
    RESPONSE_STATUS_LABELS,
    Response,
    ResponseState,
    ResponseStatus,
    ResponseTemplate,
)
from engage.staff import audit
from engage.staff.auth import role_required
from engage.staff.forms import ResponseForm, StatusChangeForm, TemplateForm, UnpublishForm
from engage.staff.models import Role
from engage.staff.views import bp
from engage.util import MAX_DB_ID

CANDIDATE_LIMIT = 50
STATE_LABELS = {
    ResponseState.DRAFT: "Draft",
    ResponseState.PUBLISHED: "Published",
    ResponseState.UNPUBLISHED: "Unpublished",
}


def _response(response_id: int) -> Response:
    found = db.session.get(Response, response_id) if response_id <= MAX_DB_ID else None
    if found is None:
        audit.denied("not_found", detail={"response_id": response_id})
        abort(404)
    return found


def _themes() -> list[Theme]:
    return list(db.session.scalars(select(Theme).order_by(Theme.position)))


def _fill_choices(form: ResponseForm) -> None:
    form.engagement.choices = [
        SelectChoice(e.slug, e.title) for e in engagements.list_engagements()
    ]
    form.themes.choices = [SelectChoice(t.slug, t.name) for t in _themes()]
    form.status.choices = [SelectChoice(s.value, RESPONSE_STATUS_LABELS[s]) for s in ResponseStatus]


def _chosen_themes(slugs: list[str]) -> list[Theme]:
    wanted = set(slugs or [])
    return [t for t in _themes() if t.slug in wanted]


def _candidates(response: Response | None, engagement, themes: list[Theme]) -> list:
    """Items of the engagement about these themes, not yet linked, newest first."""
    if engagement is None:
        return []
    query = (
        select(FeedbackItem)
        .where(
            FeedbackItem.engagement_id == engagement.id,
            FeedbackItem.status.not_in([Status.SPAM]),
        )
        .options(selectinload(FeedbackItem.duplicate_group))
        .order_by(FeedbackItem.submitted_at.desc())
        .limit(CANDIDATE_LIMIT)
    )
    if themes:
        tags = current_tags()
        query = query.where(
            FeedbackItem.id.in_(
                select(tags.c.item_id).where(tags.c.theme_id.in_([t.id for t in themes]))
            )
        )
    if response is not None and response.items:
        query = query.where(FeedbackItem.id.not_in([i.id for i in response.items]))
    return list(db.session.scalars(query))


def _groups(engagement) -> list[DuplicateGroup]:
    if engagement is None:
        return []
    return list(
        db.session.scalars(
            select(DuplicateGroup)
            .where(DuplicateGroup.engagement_id == engagement.id)
            .order_by(DuplicateGroup.size.desc())
        )
    )


def _editor(form: ResponseForm, response: Response | None, status: int = 200):
    engagement = (
        engagements.get_by_slug(form.engagement.data or "")
        if form.engagement.data
        else (response.engagement if response else None)
    )
    themes = _chosen_themes(form.themes.data)
    templates = list(db.session.scalars(select(ResponseTemplate).order_by(ResponseTemplate.name)))
    return (
        render_template(
            "staff/responses/edit.html",
            form=form,
            response=response,
            engagement=engagement,
            candidates=_candidates(response, engagement, themes),
            groups=_groups(engagement),
            templates=templates,
            unpublish_form=UnpublishForm(),
            status_form=_status_form(),
            actions=FlaskForm(),
            state_labels=STATE_LABELS,
        ),
        status,
    )


def _status_form() -> StatusChangeForm:
    form = StatusChangeForm()
    form.status.choices = [SelectChoice(s.value, RESPONSE_STATUS_LABELS[s]) for s in ResponseStatus]
    return form


def _set_errors(form, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        if name in form:
            form[name].errors = [message]


@bp.get("/responses")
@role_required(Role.PUBLISHER)
def responses():
    """Every response, drafts included, with its state and how many items it answers."""
    state = request.args.get("state", "")
    query = (
        select(Response)
        .options(selectinload(Response.engagement), selectinload(Response.themes))
        .order_by(Response.created_at.desc(), Response.id.desc())
    )
    if state in {s.value for s in ResponseState}:
        query = query.where(Response.state == ResponseState(state))
    found = list(db.session.scalars(query))
    return render_template(
        "staff/responses/index.html",
        responses=found,
        people=queries.people_counts([r.id for r in found]),
        state=state,
        state_labels=STATE_LABELS,
    )


@bp.route("/responses/new", methods=["GET", "POST"])
@role_required(Role.PUBLISHER)
def responses_new():
    """Start a draft: pick the engagement and themes, write, link the items it answers."""
    form = ResponseForm()
    _fill_choices(form)
    if request.method == "GET":
        form.engagement.data = request.args.get("engagement") or (
            form.engagement.choices[0].value if form.engagement.choices else ""
        )
        form.themes.data = request.args.getlist("theme")
        template = request.args.get("template", type=int)
        if (
            template
            and 0 < template <= MAX_DB_ID
            and (chosen := db.session.get(ResponseTemplate, template))
        ):
            form.you_said.data, form.we_did.data = chosen.you_said, chosen.we_did
        return _editor(form, None)
    if not form.validate_on_submit():
        return _editor(form, None, 400)
    engagement = engagements.get_by_slug(form.engagement.data or "")
    if engagement is None:
        _set_errors(form, {"engagement": "Choose an engagement"})
        return _editor(form, None, 400)
    items = _items_from_form()
    try:
        response = service.create_draft(
            engagement=engagement,
            you_said=form.you_said.data,
            we_did=form.we_did.data,
            status=ResponseStatus(form.status.data or ResponseStatus.UNDER_CONSIDERATION),
            themes=_chosen_themes(form.themes.data),
            items=items,
            by=current_user.email,
        )
    except (service.InvalidResponse, ValueError) as exc:
        db.session.rollback()
        _set_errors(form, getattr(exc, "errors", {"status": "Choose a status"}))
        return _editor(form, None, 400)
    audit.record("response.created", target=response, detail={"items": len(items)})
    db.session.commit()
    flash("Draft saved. Preview it, then publish when it is ready", "info")
    return redirect(url_for("staff.responses_edit", response_id=response.id))


def _items_from_form(field: str = "item") -> list[FeedbackItem]:
    """Items ticked in the editor, plus every item of any ticked duplicate group."""
    ids = {int(v) for v in request.form.getlist(field) if v.isascii() and v.isdigit()}
    group_ids = [int(v) for v in request.form.getlist("group") if v.isascii() and v.isdigit()]
    ids = {i for i in ids if i <= MAX_DB_ID}
    group_ids = [i for i in group_ids if i <= MAX_DB_ID]
    if group_ids:
        ids |= set(
            db.session.scalars(
                select(FeedbackItem.id).where(FeedbackItem.duplicate_group_id.in_(group_ids))
            )
        )
    if not ids:
        return []
    return list(db.session.scalars(select(FeedbackItem).where(FeedbackItem.id.in_(ids))))


@bp.route("/responses/<int:response_id>", methods=["GET", "POST"])
@role_required(Role.PUBLISHER)
def responses_edit(response_id: int):
    """Edit the wording and themes; every public edit is kept in the history."""
    response = _response(response_id)
    form = ResponseForm()
    _fill_choices(form)
    if request.method == "GET":
        form.engagement.data = response.engagement.slug
        form.themes.data = [t.slug for t in response.themes]
        form.you_said.data, form.we_did.data = response.you_said, response.we_did
        form.status.data = response.status.value
        return _editor(form, response)
    form.engagement.data = response.engagement.slug  # an existing response keeps its engagement
    if not form.validate_on_submit():
        return _editor(form, response, 400)
    try:
        changed = service.update(
            response,
            you_said=form.you_said.data,
            we_did=form.we_did.data,
            themes=_chosen_themes(form.themes.data),
            note=request.form.get("note", ""),
            by=current_user.email,
        )
    except service.InvalidResponse as exc:
        db.session.rollback()
        _set_errors(form, exc.errors)
        return _editor(form, response, 400)
    if changed:
        audit.record("response.edited", target=response, detail={"public": response.is_public})
    db.session.commit()
    flash("Changes saved" if changed else "Nothing had changed", "info")
    return redirect(url_for("staff.responses_edit", response_id=response.id))


@bp.post("/responses/<int:response_id>/items")
@role_required(Role.PUBLISHER)
def responses_items(response_id: int):
    """Link more items (or whole campaign groups), or unlink some."""
    response = _response(response_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    unlink = request.form.get("action") == "unlink"
    items = _items_from_form("linked" if unlink else "item")
    if unlink:
        service.unlink_items(response, items=items)
        audit.record("response.unlinked", target=response, detail={"items": len(items)})
        message = f"Unlinked {len(items)} items"
    else:
        try:
            new = service.link_items(response, items=items)
        except service.InvalidResponse as exc:
            db.session.rollback()
            flash(next(iter(exc.errors.values())), "warning")
            return redirect(url_for("staff.responses_edit", response_id=response.id))
        audit.record("response.linked", target=response, detail={"items": len(new)})
        message = f"Linked {len(new)} more items"
    db.session.commit()
    flash(message, "info")
    return redirect(url_for("staff.responses_edit", response_id=response.id))


@bp.get("/responses/<int:response_id>/preview")
@role_required(Role.PUBLISHER)
def responses_preview(response_id: int):
    """The response exactly as the public will see it, marked as a preview."""
    return render_response(_response(response_id), preview=True)


@bp.post("/responses/<int:response_id>/publish")
@role_required(Role.PUBLISHER)
def responses_publish(response_id: int):
    response = _response(response_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        emails = service.publish(response, by=current_user.email)
    except service.WrongState as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("staff.responses_edit", response_id=response.id))
    audit.record("response.published", target=response, detail={"emails": emails})
    db.session.commit()
    flash(f"Published. {emails} people will be emailed", "info")
    return redirect(url_for("staff.responses_edit", response_id=response.id))


@bp.post("/responses/<int:response_id>/unpublish")
@role_required(Role.PUBLISHER)
def responses_unpublish(response_id: int):
    response = _response(response_id)
    form = UnpublishForm()
    if not form.validate_on_submit():
        flash("Say why the response is being unpublished", "warning")
        return redirect(url_for("staff.responses_edit", response_id=response.id))
    try:
        service.unpublish(response, reason=form.reason.data, by=current_user.email)
    except (service.WrongState, service.InvalidResponse) as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("staff.responses_edit", response_id=response.id))
    audit.record("response.unpublished", target=response, detail={"reason": form.reason.data})
    db.session.commit()
    flash("Unpublished. It no longer appears anywhere in public", "info")
    return redirect(url_for("staff.responses_edit", response_id=response.id))


@bp.post("/responses/<int:response_id>/status")
@role_required(Role.PUBLISHER)
def responses_status(response_id: int):
    """Move the response on (planned, in progress, done…) with a dated milestone."""
    response = _response(response_id)
    form = _status_form()
    if not form.validate_on_submit() or form.status.data not in {s.value for s in ResponseStatus}:
        flash("Choose a status and enter the date as a real date", "warning")
        return redirect(url_for("staff.responses_edit", response_id=response.id))
    try:
        emails = service.change_status(
            response,
            status=ResponseStatus(form.status.data),
            note=form.note.data or "",
            on=form.on.data,
            by=current_user.email,
        )
    except service.WrongState as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("staff.responses_edit", response_id=response.id))
    audit.record("response.status", target=response, detail={"status": form.status.data})
    db.session.commit()
    flash(f"Status changed. {emails} people will be emailed", "info")
    return redirect(url_for("staff.responses_edit", response_id=response.id))


@bp.route("/responses/templates", methods=["GET", "POST"])
@role_required(Role.PUBLISHER)
def responses_templates():
    """Reusable wording for responses."""
    form = TemplateForm()
    status = 200
    if form.validate_on_submit():
        try:
            template = service.save_template(
                name=form.name.data or "",
                you_said=form.you_said.data or "",
                we_did=form.we_did.data or "",
                by=current_user.email,
            )
        except service.InvalidResponse as exc:
            db.session.rollback()
            _set_errors(form, exc.errors)
            status = 400
        else:
            audit.record("response_template.created", target=template)
            db.session.commit()
            flash(f"Template “{template.name}” saved", "info")
            return redirect(url_for("staff.responses_templates"))
    templates = list(db.session.scalars(select(ResponseTemplate).order_by(ResponseTemplate.name)))
    return render_template("staff/responses/templates.html", form=form, templates=templates), status
