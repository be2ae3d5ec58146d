"""The five default themes of the labelling guide (THEMES.md)."""

from __future__ import annotations

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
