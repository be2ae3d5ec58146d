"""Forms for residents: sending feedback and tracking it.

The forms collect and re-display what was typed; the rules about what can be stored
live in feedback.service.validate(), whose errors the views put back on these fields.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from engage.feedback.service import MAX_TEXT
from engage.i18n import LazyNumber, _l


class FeedbackForm(FlaskForm):
    """What a resident tells us about an engagement."""

    # No field validators here: feedback.service.validate() checks every field at once,
    # so the error summary lists every problem together.
    text = TextAreaField(
        _l("Your feedback"),
        description=_l(
            "Tell us what concerns you, or what you would like us to do. "
            "You can write up to %(num)s characters.",
            num=LazyNumber(MAX_TEXT),
        ),
    )
    author_name = StringField(_l("Your name (optional)"))
    author_email = EmailField(
        _l("Email address (optional)"),
        description=_l(
            "We will email you a reference number. We never publish your email address."
        ),
    )
    area = SelectField(_l("Where do you live? (optional)"), choices=[], validate_choice=False)
    consent_to_quote = BooleanField(
        _l("You can quote what I wrote, without my name, when you publish your response")
    )
    contact_me = BooleanField(_l("Email me when you publish a response to my feedback"))
    # Honeypot: hidden from people by CSS and aria-hidden; bots fill it in.
    website = StringField(_l("Leave this field empty"))

    def set_areas(self, areas: list[str]) -> None:
        """Offer the engagement's boroughs, with an empty first choice."""
        self.area.choices = [SelectChoice("", str(_l("Prefer not to say")))] + [
            SelectChoice(a, a) for a in areas
        ]


class TrackForm(FlaskForm):
    """A reference and the email address used when sending the feedback."""

    reference = StringField(
        _l("Reference number"),
        validators=[DataRequired(_l("Enter your reference number")), Length(max=40)],
        description=_l("For example, %(reference)s", reference="YS-2026-000042"),
    )
    author_email = EmailField(
        _l("Email address"),
        validators=[DataRequired(_l("Enter the email address you gave us")), Length(max=254)],
        description=_l("The email address you gave when you sent your feedback"),
    )
