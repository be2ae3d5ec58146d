"""The interface in several languages (issue 24): choosing a language, pages and emails
in it, the page cache kept per language, and complete catalogues."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_babel import refresh
from sqlalchemy import select

from engage import i18n, outbox
from engage import pagecache as cache
from engage.extensions import db
from engage.feedback.models import Channel, FeedbackItem

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "engage" / "translations"
LANGUAGES = ("pl", "bn", "ar")
PYBABEL = str(Path(sys.executable).with_name("pybabel"))


def _page(client, url, **headers) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def _choose(client, code: str, next_url: str = "/") -> None:
    """Follow the switcher's link, as a visitor without JavaScript does."""
    response = client.get(f"/language/{code}?next={next_url}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(next_url)
    assert f"{i18n.COOKIE}={code}" in response.headers["Set-Cookie"]


# Polish words each page must show (and English words it must no longer show).
POLISH_PAGES = {
    "/": ("Wyraź swoje zdanie i zobacz, co zrobiliśmy", "Have your say"),
    "/you-said-we-did": ("Wyszukaj i filtruj", "Search and filter"),
    "/track": ("Znajdź moją opinię", "Find my feedback"),
    "/privacy": ("Informacja o ochronie prywatności", "What we collect"),
    "/accessibility": ("Deklaracja dostępności", "How accessible"),
    "/open-data": ("Otwarte dane", "Opening the CSV files"),
}


def test_a_polish_visitor_by_the_switcher_gets_polish_pages(client, make_engagement):
    engagement = make_engagement()
    _choose(client, "pl", "/")
    pages = {**POLISH_PAGES, f"/engagements/{engagement.slug}": ("Powiedz nam, co myślisz", "")}
    for url, (polish, english) in pages.items():
        page = _page(client, url)
        assert '<html lang="pl"' in page and 'dir="ltr"' in page, url
        assert polish in page, url
        if english:
            assert english not in page, url
        # The header, footer and the form's labels are Polish too.
        assert "Przejdź do treści głównej" in page and "Deklaracja dostępności" in page, url
    form = _page(client, f"/engagements/{engagement.slug}")
    assert "Twoja opinia" in form and "Imię i nazwisko (nieobowiązkowo)" in form


def test_a_polish_visitor_by_accept_language_gets_polish_pages(client, make_engagement):
    make_engagement()
    for url, (polish, english) in POLISH_PAGES.items():
        page = _page(client, url, **{"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"})
        assert '<html lang="pl"' in page and polish in page and english not in page, url
    # The cookie wins over the browser's languages.
    _choose(client, "en")
    page = _page(client, "/", **{"Accept-Language": "pl"})
    assert '<html lang="en"' in page and "Have your say, and see what we did" in page


def test_english_without_a_choice_and_for_languages_we_do_not_have(client):
    assert '<html lang="en"' in _page(client, "/")
    page = _page(client, "/", **{"Accept-Language": "so,fr;q=0.8"})
    assert '<html lang="en"' in page and "Have your say" in page


def test_the_switcher_names_each_language_in_itself(client):
    page = _page(client, "/you-said-we-did?q=bus")
    nav = re.search(
        r'<nav class="engage-languages[^"]*" aria-label="([^"]+)">(.*?)</nav>', page, re.S
    )
    assert nav, "the switcher is on the page"
    label, links = nav.groups()
    assert label == "Choose a language"
    # The current language is marked, the others are links back to this very page.
    current = '<span class="engage-languages__current" lang="en" dir="ltr" aria-current="true">'
    assert current + "English</span>" in links
    for code, name, direction in (
        ("pl", "Polski", "ltr"),
        ("bn", "বাংলা", "ltr"),
        ("ar", "العربية", "rtl"),
    ):
        link = re.search(
            rf'<a [^>]*href="([^"]+)" lang="{code}" hreflang="{code}" dir="{direction}">{name}</a>',
            links,
        )
        assert link, code
        assert link.group(1) == f"/language/{code}?next=/you-said-we-did?q%3Dbus"


def test_the_switcher_goes_back_only_to_this_site(client):
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "evil"):
        response = client.get("/language/pl", query_string={"next": target})
        assert response.status_code == 303
        assert response.headers["Location"] in ("/", "http://localhost/"), target
    # An unknown language changes nothing.
    response = client.get("/language/xx?next=/track")
    assert "Set-Cookie" not in response.headers


def test_an_arabic_page_is_right_to_left(client, make_engagement):
    engagement = make_engagement()
    _choose(client, "ar")
    page = _page(client, f"/engagements/{engagement.slug}")
    assert re.search(r'<html lang="ar"\s+dir="rtl">', page)
    assert "أخبرنا برأيك" in page


def test_staff_pages_and_the_api_stay_english(client):
    _choose(client, "pl", "/")
    page = client.get("/staff/sign-in").get_data(as_text=True)
    assert '<html lang="en"' in page
    assert 'class="engage-languages' not in page  # no switcher on staff pages
    problem = client.get("/api/v1/responses?per_page=1000").get_json()
    assert problem["status"] == 400 and "per_page" in problem["detail"] or problem["detail"]


def test_the_page_cache_keeps_one_copy_per_language(app, client, make_engagement):
    make_engagement()
    store = cache.store()
    store.clear()
    english = _page(client, "/")
    assert "Have your say" in english and len(store) == 1
    polish = _page(client, "/", **{"Accept-Language": "pl"})
    assert "Wyraź swoje zdanie" in polish and "Have your say" not in polish
    assert len(store) == 2  # a second entry, not the English page served again
    again = client.get("/")
    assert again.headers.get("Vary") and "Accept-Language" in again.headers["Vary"]
    assert "Have your say" in again.get_data(as_text=True)
    assert store.hits >= 1
    keys = list(store._pages)
    assert {key[2] for key in keys} == {"en", "pl"}  # the locale is part of the key


def test_dates_and_numbers_follow_the_language(app, client, make_engagement):
    from datetime import date

    engagement = make_engagement(opens_on=date(2026, 5, 1), closes_on=date(2099, 5, 28))
    english = _page(client, f"/engagements/{engagement.slug}")
    assert "28 May 2099" in english
    polish = _page(client, f"/engagements/{engagement.slug}", **{"Accept-Language": "pl"})
    assert "28 maja 2099" in polish
    with app.test_request_context(headers={"Accept-Language": "pl"}):
        refresh()  # as before each request
        assert i18n.number(12345) == "12\xa0345"
    with app.test_request_context():
        refresh()
        assert i18n.number(12345) == "12,345"


def test_form_errors_are_in_the_visitors_language(client, make_engagement):
    engagement = make_engagement()
    _choose(client, "pl", "/")
    response = client.post(
        f"/engagements/{engagement.slug}/feedback", data={"text": "za", "author_email": "x@"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Wystąpił problem" in page
    assert "Wpisz swoją opinię (co najmniej" in page
    assert "Wpisz adres e-mail w poprawnym formacie" in page
    # A screen reader hears each field's error announced in the page's language too.
    hidden = re.findall(r'<span class="nhsuk-u-visually-hidden">([^<]*)</span>\s*Wpisz', page)
    assert hidden == ["Błąd: ", "Błąd: "]
    assert "Error: " not in page


def test_a_polish_visitor_gets_a_polish_acknowledgement(app, client, smtp_server, make_engagement):
    engagement = make_engagement()
    _choose(client, "pl", "/")
    response = client.post(
        f"/engagements/{engagement.slug}/feedback",
        data={
            "text": "Przychodnia na Ealing powinna zostać otwarta.",
            "author_name": "Ola",
            "author_email": "ola@example.org",
        },
    )
    assert response.status_code == 303
    item = db.session.scalars(select(FeedbackItem)).one()
    assert item.ui_locale == "pl"
    assert outbox.send_due().sent == 1
    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == f"Otrzymaliśmy Twoją opinię: {item.reference}"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Dziękujemy za opinię, Ola." in text
    assert f"Twój numer referencyjny to {item.reference}." in text
    assert '<html lang="pl" dir="ltr">' in html
    assert "Sprawdź, co dzieje się z Twoją opinią" in html


def _acknowledgement(app, ui_locale, language):
    from engage.feedback.notifications import acknowledgement_rows

    item = FeedbackItem(
        reference="YS-2026-000007",
        channel=Channel.WEB,
        text="Tekst.",
        author_email="a@example.org",
        ui_locale=ui_locale,
        language=language,
        contact_me=False,
    )
    db.session.add(item)
    db.session.flush()
    [row] = acknowledgement_rows([item])
    # The row keeps the language; the email is written when the outbox sends it.
    assert row["body_text"] == "" and row["deferred"]["item"] == item.id
    return _rendered(row)


def _rendered(row: dict) -> dict:
    from engage.feedback.notifications import render_acknowledgement

    made_from = {k: v for k, v in row["deferred"].items() if k != "render"}
    return render_acknowledgement(made_from)


@pytest.mark.parametrize(
    ("ui_locale", "language", "expected", "subject"),
    [
        ("pl", None, "pl", "Otrzymaliśmy Twoją opinię"),
        ("so", "bn", "bn", "আমরা আপনার মতামত পেয়েছি"),  # no Somali catalogue: the text's
        (None, "ar", "ar", "تلقّينا ملاحظاتك"),
        ("en", "pl", "en", "We have received your feedback"),  # the interface wins
        (None, "ro", "en", "We have received your feedback"),  # neither has one
        (None, None, "en", "We have received your feedback"),
    ],
)
def test_the_acknowledgement_language(app, ui_locale, language, expected, subject):
    row = _acknowledgement(app, ui_locale, language)
    direction = "rtl" if expected == "ar" else "ltr"
    assert f'<html lang="{expected}" dir="{direction}">' in row["body_html"]
    assert row["subject"].startswith(subject)


def test_acknowledgements_in_several_languages_keep_their_order(app):
    from engage.feedback.notifications import acknowledgement_rows

    items = [
        FeedbackItem(
            reference=f"YS-2026-00000{n}",
            text="T.",
            author_email=f"{n}@example.org",
            ui_locale=code,
            channel=Channel.WEB,
        )
        for n, code in enumerate(("pl", "en", "ar", "pl"))
    ]
    db.session.add_all(items)
    db.session.flush()
    rows = acknowledgement_rows(items)
    assert [row["recipient"] for row in rows] == [f"{n}@example.org" for n in range(4)]
    assert [row["deferred"]["locale"] for row in rows] == ["pl", "en", "ar", "pl"]
    rendered = [_rendered(row) for row in rows]
    languages = [re.search(r'<html lang="(\w+)"', row["body_html"]).group(1) for row in rendered]
    assert languages == ["pl", "en", "ar", "pl"]


# The catalogues --------------------------------------------------------------------


def _catalogue(code: str):
    with open(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=code)


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_catalogue_is_complete(code):
    catalogue = _catalogue(code)
    assert len(catalogue) > 300
    for message in catalogue:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {message.id!r}"
        if isinstance(message.id, tuple):
            assert len(strings) == catalogue.num_plurals, message.id
        # Placeholders and markup survive translation.
        source = " ".join(message.id) if isinstance(message.id, tuple) else message.id
        allowed = set(re.findall(r"%\(\w+\)s", source))
        for string in strings:
            assert set(re.findall(r"%\(\w+\)s", string)) <= allowed, message.id
            assert sorted(re.findall(r"</?[a-z]+", string)) == sorted(
                re.findall(
                    r"</?[a-z]+", message.id[0] if isinstance(message.id, tuple) else message.id
                )
            ), message.id
        if not isinstance(message.id, tuple):
            assert set(re.findall(r"%\(\w+\)s", message.id)) <= set(
                re.findall(r"%\(\w+\)s", strings[0])
            ), message.id


def test_the_catalogues_hold_every_string_the_code_uses(tmp_path):
    """Extract afresh: no public string is missing from the catalogues (run
    `make translations-update` and translate when this fails)."""
    template = tmp_path / "messages.pot"
    subprocess.run(
        [
            PYBABEL,
            "extract",
            "-F",
            str(TRANSLATIONS / "babel.cfg"),
            "-k",
            "_l",
            "-o",
            str(template),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(template, "rb") as handle:
        wanted = {m.id for m in read_po(handle) if m.id}
    for code in LANGUAGES:
        have = {m.id for m in _catalogue(code) if m.id}
        assert wanted <= have, (code, sorted(map(str, wanted - have))[:10])


def test_pybabel_compiles_and_the_committed_catalogues_are_current(tmp_path):
    for code in LANGUAGES:
        source = TRANSLATIONS / code / "LC_MESSAGES" / "messages.po"
        compiled = tmp_path / f"{code}.mo"
        result = subprocess.run(
            [
                PYBABEL,
                "compile",
                "--statistics",
                "-i",
                str(source),
                "-o",
                str(compiled),
                "-l",
                code,
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        assert "(100%) translated" in result.stderr + result.stdout
        with open(compiled, "rb") as fresh, open(source.with_suffix(".mo"), "rb") as committed:
            assert _messages(read_mo(fresh)) == _messages(read_mo(committed)), (
                f"{code}: run `make translations-compile` and commit the .mo"
            )


def _messages(catalogue) -> dict:
    def key(value):
        return tuple(value) if isinstance(value, list | tuple) else value

    return {key(m.id): key(m.string) for m in catalogue}


def test_default_theme_names_follow_the_language_and_renamed_ones_stay(client):
    from engage.feedback.models import Theme

    db.session.scalars(select(Theme).where(Theme.slug == "jobs")).one().name = "Staff"
    db.session.commit()
    page = client.get("/you-said-we-did", headers={"Accept-Language": "pl"}).get_data(as_text=True)
    assert ">Pieniądze</option>" in page and ">Przywództwo kliniczne</option>" in page
    assert ">Staff</option>" in page  # a name staff typed is shown as typed
    english = client.get("/you-said-we-did").get_data(as_text=True)
    assert ">Money</option>" in english
