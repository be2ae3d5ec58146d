"""API partners stored as `engage create-partner` and `revoke-partner` store them: the
service only flushes (issue 23: the caller's unit of work commits), so tests commit
here, once, like the command does."""

from __future__ import annotations

from engage.feedback import partners
from engage.unit_of_work import transaction


def create_partner(name: str):
    with transaction():
        return partners.create_partner(name)


def revoke_partner(name: str) -> bool:
    with transaction():
        return partners.revoke_partner(name)
