"""Forms on public pages: voting on a response and subscribing to alerts."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, SelectMultipleField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from engage.i18n import LazyNumber, _l, translate
from engage.publish.votes import MAX_COMMENT


class VoteForm(FlaskForm):
    """Does this response answer your concern?"""

    helpful = RadioField(
        _l("Does this answer your concern?"),
        choices=[SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))],
        validators=[DataRequired(_l("Select yes or no"))],
    )
    comment = TextAreaField(
        _l("What is still missing? (optional)"),
        description=_l(
            "If you answer no, tell us why. The engagement team reads every answer. "
            "Do not include your name or contact details."
        ),
        validators=[
            Length(
                max=MAX_COMMENT,
                message=_l("Write %(num)s characters or fewer", num=LazyNumber(MAX_COMMENT)),
            )
        ],
    )


class AlertChoicesForm(FlaskForm):
    """Themes and engagements to follow (checkboxes; at least one is checked by the service).

    Values are slugs; one that names nothing is ignored rather than refused.
    """

    themes = SelectMultipleField(_l("Themes"), choices=[], validate_choice=False)
    engagements = SelectMultipleField(_l("Engagements"), choices=[], validate_choice=False)

    def set_choices(self, themes, engagements) -> None:
        """Offer these themes and engagements."""
        self.themes.choices = [(t.slug, translate(t.name)) for t in themes]
        self.engagements.choices = [(e.slug, e.title) for e in engagements]


class AlertForm(AlertChoicesForm):
    """An email address and what to be alerted about."""

    email = EmailField(
        _l("Email address"),
        description=_l(
            "We will send you a link to confirm. We only use your address for these alerts."
        ),
        validators=[DataRequired(_l("Enter your email address")), Length(max=254)],
    )
