"""What to call each language code on a page (English names, for staff pages)."""

from __future__ import annotations

NAMES: dict[str, str] = {
    "en": "English",
    "pl": "Polish",
    "bn": "Bengali",
    "ur": "Urdu",
    "ar": "Arabic",
    "ro": "Romanian",
    "so": "Somali",
    "gu": "Gujarati",
    "tr": "Turkish",
    "pt": "Portuguese",
    "pa": "Punjabi",
    "ta": "Tamil",
    "lt": "Lithuanian",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "bg": "Bulgarian",
    "hu": "Hungarian",
    "ru": "Russian",
    "fa": "Persian",
    "hi": "Hindi",
    "el": "Greek",
    "sq": "Albanian",
}

# The language each name is in, written in that language: for a visitor's choice.
NATIVE_NAMES: dict[str, str] = {
    "en": "English",
    "pl": "Polski",
    "bn": "বাংলা",
    "ur": "اردو",
    "ar": "العربية",
    "ro": "Română",
    "so": "Soomaali",
    "gu": "ગુજરાતી",
    "tr": "Türkçe",
    "pt": "Português",
    "pa": "ਪੰਜਾਬੀ",
    "ta": "தமிழ்",
    "lt": "Lietuvių",
    "es": "Español",
    "fr": "Français",
    "it": "Italiano",
    "bg": "Български",
    "hu": "Magyar",
    "ru": "Русский",
    "fa": "فارسی",
    "hi": "हिन्दी",
    "el": "Ελληνικά",
    "sq": "Shqip",
}

# Written right to left.
RTL = frozenset({"ar", "ur", "fa"})


def name(code: str | None) -> str:
    """The English name of a language code ("Not detected yet" for None)."""
    if code is None:
        return "Not detected yet"
    return NAMES.get(code, code)


def direction(code: str | None) -> str:
    """"rtl" for a language written right to left, else "ltr" (for an element's dir)."""
    return "rtl" if code in RTL else "ltr"
