"""Staff steering of concerns: rename, hide, merge, split, move an item, respond.

What staff change here is kept on every later run of ``service.refresh``: an edited
label or draft is never rewritten, and an item staff placed stays where they put it
(``placed_by = "staff"``). Each change is audited; functions flush and the caller
commits. Finding and placing concerns is in service.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from engage import audit, pagecache
from engage.concerns import discovery
from engage.concerns.drafting import label_from
from engage.concerns.models import Concern, ConcernItem
from engage.concerns.service import ConcernError, set_centre, unit_items, wording
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import FeedbackItem
from engage.util import utcnow

WE_DID_PLACEHOLDER = "To be written by the engagement team."


def refresh_centre(concern: Concern) -> None:
    """After staff moved items: the concern's centre and examples from its items now."""
    by_id = {m.item_id: m.item for m in concern.members if m.item is not None}
    set_centre(concern, unit_items(concern, by_id))


def rename(concern: Concern, *, label: str, draft: str | None = None) -> None:
    """Give a concern staff's own label (and draft line), kept from then on."""
    label = " ".join((label or "").split())[:200]
    if not label:
        raise ConcernError("Enter a name for the concern")
    before = {"label": concern.label, "draft": concern.draft}
    concern.label = label
    if draft is not None and draft.strip():
        concern.draft = draft.strip()[:2000]
    concern.edited_at = utcnow()
    audit.record(
        "concern.rename", target=concern, detail={"before": before, "label": concern.label}
    )


def set_hidden(concern: Concern, *, hidden: bool) -> None:
    """Hide a concern from the page (its items stay with it) or show it again. Stored
    public pages are made again (models.py registers ``hidden`` with engage.pagecache)."""
    concern.hidden = hidden
    audit.record("concern.hide" if hidden else "concern.show", target=concern)


def merge(target: Concern, sources: Sequence[Concern]) -> int:
    """Move every item of ``sources`` into ``target`` and delete them; return items moved."""
    moved = 0
    for source in sources:
        if source.id == target.id:
            continue
        if (source.engagement_id, source.theme_id) != (target.engagement_id, target.theme_id):
            raise ConcernError("Only concerns of the same engagement and theme can be merged")
        for member in list(source.members):
            source.members.remove(member)
            member.placed_by = "staff"
            target.members.append(member)
            moved += 1
        audit.record(
            "concern.merge",
            target=target,
            detail={"merged": source.id, "label": source.label, "items": moved},
        )
        db.session.flush()
        if source.response_id is not None:  # it may be on a stored public page
            pagecache.public_changed()
        db.session.delete(source)
    target.updated_at = utcnow()
    db.session.flush()
    refresh_centre(target)
    return moved


def split(concern: Concern) -> Concern:
    """Split a concern in two by grouping its items again; return the new one."""
    members = [m for m in concern.members if m.item is not None]
    entries = [discovery.Entry(m.item_id, m.item.text, m.item.duplicate_group_id) for m in members]
    found = discovery.discover(entries, k=2)
    if len(found.concerns) < 2:
        raise ConcernError("This concern has too few items to split")
    moving = set(found.concerns[1].keys)
    now = utcnow()
    other = Concern(
        engagement_id=concern.engagement_id,
        theme_id=concern.theme_id,
        label=label_from(found.concerns[1].phrases),
        draft="",
        created_at=now,
        updated_at=now,
    )
    db.session.add(other)
    for member in members:
        if member.item_id in moving:
            concern.members.remove(member)
            member.placed_by = "staff"
            other.members.append(member)
    db.session.flush()
    refresh_centre(concern)
    firsts = unit_items(other, {m.item_id: m.item for m in other.members})
    central = set_centre(other, firsts)
    taken = set(
        db.session.scalars(
            select(Concern.draft).where(
                Concern.engagement_id == concern.engagement_id,
                Concern.theme_id == concern.theme_id,
                Concern.id != other.id,
            )
        )
    )
    other.label, other.draft = wording(
        found.concerns[1].phrases,
        [item.text for item in firsts],
        central,
        other.theme.slug,
        [m.item for m in other.members],
        taken,
    )
    audit.record(
        "concern.split", target=concern, detail={"new": other.id, "items_moved": len(moving)}
    )
    return other


def move_item(item: FeedbackItem, *, to: Concern) -> None:
    """Put one item in another concern of the same theme (kept there on every re-run)."""
    if item.engagement_id != to.engagement_id:
        raise ConcernError("The item is not about this engagement")
    member = db.session.scalar(
        select(ConcernItem).where(
            ConcernItem.item_id == item.id, ConcernItem.theme_id == to.theme_id
        )
    )
    before = member.concern_id if member is not None else None
    if member is None:
        member = ConcernItem(item_id=item.id, theme_id=to.theme_id)
        db.session.add(member)
    member.concern_id = to.id
    member.placed_by = "staff"
    db.session.flush()
    db.session.expire_all()
    for touched in {to.id, before} - {None}:
        refresh_centre(db.session.get(Concern, touched))
    audit.record(
        "concern.move_item",
        target=to,
        detail={"item": item.reference, "from": before, "to": to.id},
    )


def create_response(concern: Concern, *, engagement: Engagement, by: str | None = None):
    """Start a draft response from a concern, linked to all its items (publish.service)."""
    from engage.publish import service as publish

    items = [m.item for m in concern.members if m.item is not None]
    response = publish.create_draft(
        engagement=engagement,
        you_said=concern.draft or concern.label,
        we_did=WE_DID_PLACEHOLDER,
        themes=[concern.theme],
        items=items,
        by=by,
    )
    concern.response_id = response.id
    audit.record(
        "concern.response", target=concern, detail={"response": response.id, "items": len(items)}
    )
    return response
