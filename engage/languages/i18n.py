"""``_()`` for text this package shows the public.

Flask-Babel's ``gettext`` when Flask-Babel is installed and set up on the app (issue 24's
interface work adds it); until then a stand-in that returns the English text with its
``%(name)s`` values filled in, so the strings are already marked for extraction.
"""

from __future__ import annotations

try:  # pragma: no cover - which branch runs depends on what is installed
    from flask_babel import gettext as _babel_gettext
except ImportError:  # pragma: no cover
    _babel_gettext = None


def _(message: str, **variables: object) -> str:
    """Translate ``message`` into the visitor's language (English until Babel is set up)."""
    if _babel_gettext is not None:
        try:
            return _babel_gettext(message, **variables)
        except Exception:  # noqa: S110  Babel installed but not set up on this app
            return message % variables if variables else message
    return message % variables if variables else message
