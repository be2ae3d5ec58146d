"""Publishers write, preview, publish and follow up "You said, we did" responses."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from engage import audit
from engage.engagements import service as engagements
from engage.extensions import db
from engage.feedback.models import DuplicateGroup, FeedbackItem, Status, Theme
from engage.pagination import page_number
from engage.public.views import render_response
from engage.publish import queries, service
from engage.publish.models import (
    RESPONSE_STATUS_LABELS,
    Response,
    ResponseState,
    ResponseStatus,
    ResponseTemplate,
    response_item,
)
from engage.staff import picker
from engage.staff.auth import role_required
from engage.staff.forms import ResponseForm, StatusChangeForm, TemplateForm, UnpublishForm
from engage.staff.labels import RESPONSE_STATE_NAMES
from engage.staff.models import Role
from engage.staff.views import bp
from engage.util import MAX_DB_ID, clean_param

LINKED_SHOWN = 50  # linked items listed in the editor ("and N more")


def response_or_404(response_id: int) -> Response:
    found = db.session.get(Response, response_id) if response_id <= MAX_DB_ID else None
    if found is None:
        audit.denied("not_found", detail={"response_id": response_id})
        abort(404)
    return found


def _themes() -> list[Theme]:
    """Every theme, read once a request (the choices, the chosen themes and the picker
    all need them)."""
    if "response_themes" not in g:
        g.response_themes = list(db.session.scalars(select(Theme).order_by(Theme.position)))
    return g.response_themes


def _engagements() -> list:
    """engagements.list_engagements(), read once a request."""
    if "response_engagements" not in g:
        g.response_engagements = engagements.list_engagements()
    return g.response_engagements


def _fill_choices(form: ResponseForm) -> None:
    form.engagement.choices = [SelectChoice(e.slug, e.title) for e in _engagements()]
    form.themes.choices = [SelectChoice(t.slug, t.name) for t in _themes()]
    form.status.choices = [SelectChoice(s.value, RESPONSE_STATUS_LABELS[s]) for s in ResponseStatus]


def _chosen_themes(slugs: list[str]) -> list[Theme]:
    wanted = set(slugs or [])
    return [t for t in _themes() if t.slug in wanted]


def _chosen_groups(engagement) -> list[DuplicateGroup]:
    """Groups named by ?group= (from the campaigns page) or ticked in the form, of the
    engagement: shown ticked in the picker."""
    source = request.form if request.method == "POST" else request.args
    ids = [int(v) for v in source.getlist("group") if v.isascii() and v.isdigit() and len(v) < 12]
    if not ids or engagement is None:
        return []
    return list(
        db.session.scalars(
            select(DuplicateGroup).where(
                DuplicateGroup.id.in_(ids), DuplicateGroup.engagement_id == engagement.id
            )
        )
    )


def _editor(form: ResponseForm, response: Response | None, status: int = 200):
    """The editor: the wording on the left, on the right the feedback it can answer
    (engage.staff.picker) narrowed to its engagement and themes."""
    engagement = (
        response.engagement
        if response is not None
        else next((e for e in _engagements() if e.slug == (form.engagement.data or "")), None)
    )
    themes = _chosen_themes(form.themes.data)
    templates = list(db.session.scalars(select(ResponseTemplate).order_by(ResponseTemplate.name)))
    q = clean_param(request.args.get("q"), 200)
    # Feedback is compared with the concern the response answers ("you said"); the
    # action taken only when no concern is written yet.
    wording = (form.you_said.data or "").strip() or (form.we_did.data or "")
    found = None
    if engagement is not None:
        found = picker.picker_page(
            engagement.id,
            themes,
            response_id=response.id if response else None,
            q=q,
            page=page_number(request.args.get("pick_page")),
            wording=wording,
        )
    chosen = _chosen_groups(engagement)
    linked_items, linked_total = _linked(response)
    if response is None:
        people = 0
    elif linked_total == len(linked_items):
        # Every linked item is loaded: count the people (spam left out) here, as
        # queries.people_counts() does, without another statement.
        people = sum(1 for item in linked_items if item.status != Status.SPAM)
    else:
        people = queries.people_counts([response.id])[response.id]
    return (
        render_template(
            "staff/responses/edit.html",
            form=form,
            response=response,
            engagement=engagement,
            engagements=_engagements() if response is None else [],
            picker=found,
            chosen_groups=chosen,
            chosen_ids={g.id for g in chosen},
            themes_chosen=themes,
            templates=templates,
            unpublish_form=UnpublishForm(),
            status_form=status_form(),
            actions=FlaskForm(),
            state_labels=RESPONSE_STATE_NAMES,
            people=people,
            picker_args=_picker_args(form, response),
            linked_items=linked_items,
            linked_total=linked_total,
        ),
        status,
    )


def _linked(response: Response | None) -> tuple[list[FeedbackItem], int]:
    """The first LINKED_SHOWN items the response answers (as Response.items orders
    them) and how many it has, without loading them all."""
    if response is None:
        return [], 0
    shown = list(
        db.session.scalars(
            select(FeedbackItem)
            .join(response_item, response_item.c.item_id == FeedbackItem.id)
            .where(response_item.c.response_id == response.id)
            .order_by(FeedbackItem.id)
            .limit(LINKED_SHOWN)
        )
    )
    total = len(shown)
    if total == LINKED_SHOWN:
        total = db.session.scalar(
            select(func.count())
            .select_from(response_item)
            .where(response_item.c.response_id == response.id)
        )
    return shown, total


def _picker_args(form: ResponseForm, response: Response | None) -> dict:
    """The query string that shows this editor again (for the picker's search and pages)."""
    if response is not None:
        return {"response_id": response.id}
    args: dict = {"engagement": form.engagement.data or ""}
    if form.themes.data:
        args["theme"] = list(form.themes.data)
    return args


def _insert_template(form: ResponseForm) -> bool:
    """ "Insert" pressed beside the reusable wording: add it to the text being written
    (nothing is saved). False when no template was chosen."""
    raw = request.form.get("template", "")
    chosen = (
        db.session.get(ResponseTemplate, int(raw))
        if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_DB_ID
        else None
    )
    if chosen is None:
        flash("Choose the wording to insert", "warning")
        return False
    for field, text in ((form.you_said, chosen.you_said), (form.we_did, chosen.we_did)):
        current = (field.data or "").rstrip()
        field.data = f"{current}\n\n{text}" if current and text else (current or text)
    flash(f"“{chosen.name}” inserted. Not saved yet", "info")
    return True


def status_form() -> StatusChangeForm:
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
        state_labels=RESPONSE_STATE_NAMES,
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
        form.themes.data = [clean_param(t, 60) for t in request.args.getlist("theme")[:20]]
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
    if request.form.get("insert"):
        _insert_template(form)
        return _editor(form, None)
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
    response = response_or_404(response_id)
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
    if request.form.get("insert"):
        _insert_template(form)
        return _editor(form, response)
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
    flash("Changes saved" if changed else "Nothing had changed", "info")
    return redirect(url_for("staff.responses_edit", response_id=response.id))


@bp.post("/responses/<int:response_id>/items")
@role_required(Role.PUBLISHER)
def responses_items(response_id: int):
    """Link more items (or whole campaign groups), or unlink some."""
    response = response_or_404(response_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    unlink = request.form.get("action") == "unlink"
    items = _items_from_form("linked" if unlink else "item")
    if not items:
        ticked = "linked items to unlink" if unlink else "items or groups to link"
        flash(f"Nothing was changed: tick the {ticked} first", "warning")
        return redirect(url_for("staff.responses_edit", response_id=response.id))
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
    flash(message, "info")
    return redirect(url_for("staff.responses_edit", response_id=response.id))


@bp.get("/responses/<int:response_id>/preview")
@role_required(Role.PUBLISHER)
def responses_preview(response_id: int):
    """The response exactly as the public will see it, marked as a preview."""
    return render_response(response_or_404(response_id), preview=True)


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
            flash(f"Template “{template.name}” saved", "info")
            return redirect(url_for("staff.responses_templates"))
    templates = list(db.session.scalars(select(ResponseTemplate).order_by(ResponseTemplate.name)))
    return render_template("staff/responses/templates.html", form=form, templates=templates), status
