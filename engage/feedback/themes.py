"""The five default themes of the labelling guide (docs/themes.md), and the one scale a
theme's probability is shown to staff on (``percent``)."""

from __future__ import annotations

from engage.i18n import _l

DEFAULT_THEMES: tuple[tuple[str, str, str], ...] = (
    (
        "money",
        "Money",
        "Funding, budgets, allocations, deficits, savings, value for money and fair shares "
        "between boroughs.",
    ),
    (
        "decision-making",
        "Decision-making",
        "Who decides and where, local voice, accountability, transparency and the "
        "engagement process itself.",
    ),
    (
        "clinical-leadership",
        "Clinical leadership",
        "The part GPs, nurses and other clinicians play in leading commissioning.",
    ),
    (
        "services",
        "Impact on services",
        "Patient-facing care: GP access, hospitals, A&E, mental health, community services "
        "and waiting times.",
    ),
    (
        "jobs",
        "Impact on jobs",
        "Staff and workforce: redundancies, restructuring, recruitment, morale, pay and TUPE.",
    ),
)


# The default themes' names, marked for the catalogue (issue 24): public pages pass a
# theme's stored name through ``engage.i18n.translate``, so a default theme is shown in
# the visitor's language and a theme staff renamed is shown as they typed it.
THEME_NAMES_FOR_CATALOGUE = (
    _l("Money"),
    _l("Decision-making"),
    _l("Clinical leadership"),
    _l("Impact on services"),
    _l("Impact on jobs"),
)


def percent(probability: float | None) -> int | None:
    """The model's probability for a theme as a whole percent, 0 to 100: the one scale
    staff see it on (inbox, item page, exports). ``None`` stays ``None``.

    Halves round up (0.815 is 82), whatever representation the probability was read
    from: a float, or the text SQL made of one (15 significant digits on SQLite).
    """
    if probability is None:
        return None
    value = probability * 100.0
    if 0.0 <= value <= 100.0:  # the usual case, and cheap: the inbox calls this per tag
        return int(round(value, 6) + 0.5)  # int() is floor() for a value >= 0
    if value != value:  # NaN
        return None
    return 0 if value < 0 else 100


def percent_text(probability: float | None) -> str:
    """``percent()`` as staff read it, "81%"; "" for no probability."""
    value = percent(probability)
    return "" if value is None else f"{value}%"
