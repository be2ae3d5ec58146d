"""The sender's own words: quoted replies and signatures stripped."""

from __future__ import annotations

from engage.classify.text import strip_quoted as _strip_quoted_text
from engage.classify.text import strip_signature


def strip_quoted(text: str) -> str:
    """The sender's own words: quoted replies and signatures removed, never to nothing."""
    own = strip_signature(_strip_quoted_text(text)).strip()
    return own or text.strip()
