"""Forms of the staff area."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from engage.staff.models import ROLE_LABELS, Role


class SignInForm(FlaskForm):
    email = EmailField(
        "Email address", validators=[DataRequired("Enter your email address"), Length(max=254)]
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password"), Length(max=1024)]
    )


class CodeForm(FlaskForm):
    code = StringField(
        "Security code",
        description="The 6-digit code shown in your authenticator app",
        validators=[DataRequired("Enter the 6-digit code from your app"), Length(max=12)],
    )


class SignInCodeForm(FlaskForm):
    """The code step of signing in: a code from the app, or a recovery code."""

    code = StringField(
        "Security code",
        description="The 6-digit code shown in your authenticator app. "
        "Lost your phone? Enter one of your recovery codes instead.",
        validators=[DataRequired("Enter the 6-digit code from your app"), Length(max=32)],
    )


class ReauthenticateForm(FlaskForm):
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password"), Length(max=1024)]
    )
    code = StringField(
        "Security code",
        description="The 6-digit code from your authenticator app, or one of your recovery codes",
        validators=[Optional(), Length(max=32)],
    )


class ConfirmForm(FlaskForm):
    """A button that changes something (the CSRF token is its only field)."""


class PasswordForm(FlaskForm):
    new_password = PasswordField(
        "New password",
        description="At least 12 characters. A few unrelated words make a good one.",
        validators=[DataRequired("Enter a new password"), Length(max=1024)],
    )
    confirm = PasswordField(
        "Confirm the new password",
        validators=[DataRequired("Enter the new password again"), Length(max=1024)],
    )

    def validate_confirm(self, field) -> None:
        from wtforms import ValidationError

        if field.data != self.new_password.data:
            raise ValidationError("The two passwords do not match")


ROLE_CHOICES = [SelectChoice(role.value, ROLE_LABELS[role]) for role in Role]


class NewStaffForm(FlaskForm):
    email = EmailField(
        "Email address", validators=[DataRequired("Enter an email address"), Length(max=254)]
    )
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[DataRequired("Choose a role")])
    password = PasswordField(
        "First password",
        description="At least 12 characters. Give it to them in person or by phone.",
        validators=[DataRequired("Enter a first password"), Length(max=1024)],
    )


class EditStaffForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = BooleanField("Account is active (untick to disable it and end its sessions)")
    reset_two_factor = BooleanField(
        "Reset two-factor sign-in (lost phone)",
        description="Forgets their app and recovery codes and signs them out; they set up "
        "a new app at their next sign-in.",
    )


class NoteForm(FlaskForm):
    text = TextAreaField(
        "Add an internal note",
        description="Only the engagement team sees notes.",
        validators=[DataRequired("Write the note"), Length(max=5000)],
    )


class RedactionForm(FlaskForm):
    redacted_text = TextAreaField(
        "Text that may be quoted in public",
        description="Remove anything that could identify the writer or anyone else.",
        validators=[DataRequired("Enter the redacted text"), Length(max=10_000)],
    )


class RecordFeedbackForm(FlaskForm):
    """Feedback received by phone, by letter or at a meeting, typed in by staff."""

    engagement = SelectField("Engagement", choices=[], validate_choice=False)
    channel = SelectField(
        "How it reached us",
        choices=[
            SelectChoice("phone", "Phone call"),
            SelectChoice("letter", "Letter"),
            SelectChoice("meeting", "Public meeting"),
        ],
    )
    text = TextAreaField("What they said")
    author_name = StringField("Their name (optional)")
    author_email = EmailField(
        "Their email address (optional)",
        description="If given, they get the reference number by email.",
    )
    area = StringField("Area or borough (optional)")
    consent_to_quote = BooleanField("They agreed that we can quote their words without their name")
    contact_me = BooleanField("They want an email when we respond")
    received_on = DateField(
        "Date it reached us (optional)",
        description="The day of the call, the letter's arrival or the meeting. Empty for today.",
        validators=[Optional()],
    )


class ResponseForm(FlaskForm):
    """A "You said, we did" response being written or edited."""

    engagement = SelectField("Engagement", choices=[], validate_choice=False)
    themes = SelectMultipleField("Themes", choices=[], validate_choice=False)
    you_said = TextAreaField(
        "You told us you are concerned that …",
        description="The concern in the public's words, summarised. It follows the words "
        "“You told us you are concerned that”.",
    )
    we_did = TextAreaField(
        "What we are doing",
        description="Plain English: what has changed or will change, and when.",
    )
    status = SelectField("Status", choices=[], validate_choice=False)


class UnpublishForm(FlaskForm):
    reason = TextAreaField(
        "Why is it being unpublished?",
        description="Kept in the response's history.",
        validators=[DataRequired("Say why the response is being unpublished"), Length(max=5000)],
    )


class StatusChangeForm(FlaskForm):
    status = SelectField("New status", choices=[], validate_choice=False)
    on = DateField("Date of the change", validators=[Optional()])
    note = TextAreaField("What happened (shown in public)", validators=[Length(max=5000)])


class TemplateForm(FlaskForm):
    name = StringField("Template name", validators=[Length(max=200)])
    you_said = TextAreaField("You told us you are concerned that …")
    we_did = TextAreaField("What we are doing")
