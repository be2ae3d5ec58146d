"""Languages of feedback and of staff-written content (issue 24).

``detect``: the language an item is written in (py3langid, restricted to the languages
of North London). ``names``: what to call a language code on a page. ``content``:
staff-written text (an engagement's title, a response) in the visitor's language, with
English as the fallback. ``translation``: the English translation staff add to an item
that is not in English, and the "needs translation" state.

detect, names and content import nothing from engage above the foundation layer;
translation is a staff-side service (it records to the audit log).
"""
