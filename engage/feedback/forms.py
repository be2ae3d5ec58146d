"""Forms for residents: sending feedback and tracking it.

The forms collect and re-display what was typed; the rules about what can be stored
live in feedback.service.validate(), whose errors the views put back on these fields.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from engage.feedback.validation import MAX_TEXT


class FeedbackForm(FlaskForm):
    """What a resident tells us about an engagement."""

    # No field validators here: feedback.service.validate() checks every field at once,
    # so the error summary lists every problem together.
    text = TextAreaField(
        "Your feedback",
        description="Tell us what concerns you, or what you would like us to do. "
        f"You can write up to {MAX_TEXT:,} characters.",
    )
    author_name = StringField("Your name (optional)")
    author_email = EmailField(
        "Email address (optional)",
        description="We will email you a reference number. We never publish your email address.",
    )
    area = SelectField("Where do you live? (optional)", choices=[], validate_choice=False)
    consent_to_quote = BooleanField(
        "You can quote what I wrote, without my name, when you publish your response"
    )
    contact_me = BooleanField("Email me when you publish a response to my feedback")
    # Honeypot: hidden from people by CSS and aria-hidden; bots fill it in.
    website = StringField("Leave this field empty")

    def set_areas(self, areas: list[str]) -> None:
        """Offer the engagement's boroughs, with an empty first choice."""
        self.area.choices = [SelectChoice("", "Prefer not to say")] + [
            SelectChoice(a, a) for a in areas
        ]


class TrackForm(FlaskForm):
    """A reference and the email address used when sending the feedback."""

    reference = StringField(
        "Reference number",
        validators=[DataRequired("Enter your reference number"), Length(max=40)],
        description="For example, YS-2026-000042",
    )
    author_email = EmailField(
        "Email address",
        validators=[DataRequired("Enter the email address you gave us"), Length(max=254)],
        description="The email address you gave when you sent your feedback",
    )
