"""What a channel hands to the intake, and how it is checked and cleaned.

Submission (plain values from any channel) and Checked (one a channel validated ahead),
the text and field limits, clean_text()/clean_line() (control characters dropped, NUL
refused where it must be) and validate(), which checks a whole submission and finds
its engagement. engage.feedback.service.intake() stores what passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import Channel
from engage.i18n import _, _l
from engage.i18n import number as i18n_number
from engage.util import CONTROL_IN_TEXT

MIN_TEXT = 10
MAX_TEXT = 10_000
# Control characters other than tab, newline and carriage return.
_CONTROL = CONTROL_IN_TEXT
_LINE_BREAK = re.compile(r"[\r\n]")
# Characters no database column can hold: unpaired UTF-16 surrogates (JSON's "\ud800"
# decodes to one; UTF-8 cannot encode it). NUL and the other control characters are
# dropped from text by clean_text()/clean_line(); in a value used as it is (an
# engagement's slug) they are refused too.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNSTORABLE_NAME = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_NUL = re.compile("\x00")


class InvalidSubmission(ValueError):
    """The submission cannot be stored; ``errors`` maps field name to message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class InvalidBatch(InvalidSubmission):
    """Some submissions of a batch cannot be stored, so none was.

    ``by_index`` maps each refused submission's position in the batch to its field
    errors; ``errors`` has the same messages keyed ``"<position>.<field>"``.
    """

    def __init__(self, by_index: dict[int, dict[str, str]]):
        super().__init__(
            {
                f"{index}.{name}": message
                for index, errs in by_index.items()
                for name, message in errs.items()
            }
        )
        self.by_index = by_index


@dataclass(frozen=True)
class Submission:
    """What a channel hands to submit(): plain values, no request objects."""

    text: str
    channel: Channel
    engagement_slug: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    area: str | None = None
    consent_to_quote: bool = False
    contact_me: bool = False
    subject: str | None = None
    submitted_at: datetime | None = None
    # False for bulk loads (demo data, staff back-fill): no acknowledgement email.
    acknowledge: bool = True
    # The web form's double-submit key (form_submission_key()): submit() answers an
    # earlier item with the same key, sent within DOUBLE_SUBMIT_WINDOW, instead of
    # storing this one again.
    submission_key: str | None = None
    # The interface language the resident used (the web form's locale; engage.i18n):
    # their emails are written in it when it has a catalogue.
    ui_locale: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Checked:
    """A submission already validated (by validate()), with its cleaned values and its
    engagement's id: what a channel that validates ahead (email import, in its parsing
    thread) hands to intake(), which then stores it as it is."""

    submission: Submission
    cleaned: dict
    engagement_id: int | None


def clean_text(value: str | None) -> str:
    """Normalise line endings and drop control characters (keeps tabs and newlines)."""
    if value is None:
        return ""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", value).strip()


def clean_line(value: str | None, *, limit: int) -> str | None:
    """Return a single-line value, or None when empty; rejects CR/LF outright."""
    if value is None:
        return None
    if _LINE_BREAK.search(value):
        raise ValueError("must be on one line")
    value = _CONTROL.sub("", value).strip()
    if len(value) > limit:
        raise ValueError(f"must be {limit} characters or fewer")
    return value or None


# Asked to be emailed but gave no address: the feedback would be stored with a promise
# nobody can keep. In English here (tests compare with it); shown through the catalogue
# (engage.i18n.LABELS).
NO_EMAIL_FOR_CONTACT = (
    "Enter your email address if you want us to email you when we publish a response"
)


def validate(
    submission: Submission,
    *,
    engagements: Mapping[str, Engagement | None] | None = None,
    refuse_nul: bool = False,
) -> dict:
    """Check a submission and return the cleaned values (and its engagement).

    ``engagements`` maps slugs already looked up to their engagement (None: no such
    engagement). ``refuse_nul`` refuses a NUL in any field (a program sent it;
    PostgreSQL cannot store one) instead of dropping it as for a person's typing.
    Stores nothing; raises InvalidSubmission with a message per field.
    """
    errors: dict[str, str] = {}
    if refuse_nul:
        for field in ("text", "author_name", "author_email", "area"):
            raw = getattr(submission, field)
            if isinstance(raw, str) and (nul := _NUL.search(raw)):
                errors[field] = _describe(_field_label(field), raw, nul)
        if errors:
            raise InvalidSubmission(errors)
    text = clean_text(submission.text)
    if unstorable := _unstorable(_field_label("text"), text):
        errors["text"] = unstorable
    elif len(text) < MIN_TEXT:
        errors["text"] = _("Enter your feedback (at least %(num)s characters)", num=MIN_TEXT)
    elif len(text) > MAX_TEXT:
        errors["text"] = _(
            "Feedback must be %(num)s characters or fewer", num=i18n_number(MAX_TEXT)
        )
    cleaned: dict = {"text": text}
    for name, limit in (("author_name", 200), ("author_email", 254), ("area", 120)):
        label = _field_label(name)
        try:
            cleaned[name] = clean_line(getattr(submission, name), limit=limit)
        except ValueError as exc:
            errors[name] = _("%(field)s %(problem)s", field=label, problem=str(exc))
            continue
        if unstorable := _unstorable(label, cleaned[name]):
            errors[name] = unstorable
    try:
        cleaned["subject"] = clean_line(submission.subject, limit=500)
    except ValueError:
        cleaned["subject"] = clean_text(submission.subject).replace("\n", " ")[:500] or None
    if cleaned["subject"]:  # a subject is kept, never the reason to refuse the feedback
        cleaned["subject"] = _SURROGATE.sub("\ufffd", cleaned["subject"])
    slug = submission.engagement_slug
    if slug and (bad := _UNSTORABLE_NAME.search(slug)):
        errors["engagement"] = _describe(_field_label("engagement"), slug, bad)
    email = cleaned.get("author_email")
    if email and "author_email" not in errors:
        try:
            cleaned["author_email"] = validate_email_address(email)
        except ValueError:
            errors["author_email"] = _(
                "Enter an email address in the correct format, like name@example.com"
            )
    if submission.contact_me and not cleaned.get("author_email") and "author_email" not in errors:
        errors["author_email"] = _(NO_EMAIL_FOR_CONTACT)
    # Looked up whatever else is wrong, so that one answer names every refused field.
    if "engagement" not in errors:
        try:
            slug = submission.engagement_slug
            if slug and engagements is not None and slug in engagements:
                cleaned["engagement"] = engagements[slug]
                if cleaned["engagement"] is None:
                    raise InvalidSubmission({"engagement": _no_engagement(slug)})
            else:
                cleaned["engagement"] = _find_engagement(submission.engagement_slug)
        except InvalidSubmission as invalid:
            errors.update(invalid.errors)
    engagement = cleaned.get("engagement")
    area = cleaned.get("area")
    if area and engagement is not None and engagement.areas and area not in engagement.areas:
        errors["area"] = _("Choose an area from the list")
    if errors:
        raise InvalidSubmission(errors)
    return cleaned


def _field_label(field: str) -> str:
    """A field's name as the start of an error message ("Feedback", "Author name")."""
    labels = {
        "text": _l("Feedback"),
        "author_name": _l("Author name"),
        "author_email": _l("Author email"),
        "area": _l("Area"),
        "engagement": _l("Engagement"),
    }
    return str(labels[field])


def _unstorable(label: str, value: str | None) -> str | None:
    """Why ``value`` cannot be stored, as a sentence naming its field, or None."""
    if value and (bad := _SURROGATE.search(value)):
        return _describe(label, value, bad)
    return None


def _describe(label: str, value: str, bad: re.Match) -> str:
    char = bad.group()
    if char == "\x00":
        kind = _("a NUL character")
    elif "\ud800" <= char <= "\udfff":
        kind = _("an unpaired surrogate")
    else:
        kind = _("a control character")
    code = f"{ord(char):04X}"
    return _(
        "%(field)s contains a character that cannot be stored: %(kind)s, U+%(code)s, "
        "at position %(position)s",
        field=label,
        kind=kind,
        code=code,
        position=bad.start() + 1,
    )


def validate_email_address(email: str) -> str:
    """The normalised address; raises ValueError when it is not a valid email address."""
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error


def _find_engagement(slug: str | None) -> Engagement | None:
    if not slug:
        return None
    engagement = db.session.scalar(select(Engagement).where(Engagement.slug == slug))
    if engagement is None:
        raise InvalidSubmission({"engagement": _no_engagement(slug)})
    return engagement


def _no_engagement(slug: str) -> str:
    return _("There is no engagement called %(slug)s", slug=repr(slug))


def engagements_named(slugs: Iterable[str | None]) -> dict[str, Engagement | None]:
    """The engagements these slugs name, in one query (None for a slug naming none).

    A slug that could not be stored is left out: validate() refuses it by itself.
    """
    wanted = {slug for slug in slugs if slug and not _UNSTORABLE_NAME.search(slug)}
    if not wanted:
        return {}
    found = {
        engagement.slug: engagement
        for engagement in db.session.scalars(select(Engagement).where(Engagement.slug.in_(wanted)))
    }
    return {slug: found.get(slug) for slug in wanted}
