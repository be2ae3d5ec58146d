"""Staff-written content in several languages (issue 24): an engagement's title and
summary and a response's wording, in the visitor's language where staff wrote one,
with a notice when the page shows English instead."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from engage.audit import AuditEvent
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.languages.content import localized
from engage.publish.models import Response
from engage.staff.models import Role

# The fallback notice's class, and its wording in each language (engage/translations).
NOTICE = "engage-language-notice"
NOTICE_AR = "لم يُترجم هذا المحتوى إلى العربية بعد"
NOTICE_PL = "Ta treść nie jest jeszcze dostępna w języku: Polski"
ARABIC = {"Accept-Language": "ar"}
POLISH = {"Accept-Language": "pl"}
TITLE_PL = "Dostęp do lekarza rodzinnego"
SUMMARY_PL = "Powiedz nam, jak łatwo umówić się na wizytę."


def test_localized_picks_the_language_or_falls_back_to_english():
    obj = SimpleNamespace(
        title="GP access", summary="Tell us.", translations={"pl": {"title": TITLE_PL}}
    )
    assert localized(obj, "title", "pl") == (TITLE_PL, "pl")
    assert localized(obj, "title", "pl-PL") == (TITLE_PL, "pl")
    assert localized(obj, "summary", "pl") == ("Tell us.", "en")  # a missing field
    assert localized(obj, "title", "ar") == ("GP access", "en")
    assert localized(obj, "title", None) == ("GP access", "en")
    assert localized(SimpleNamespace(title="T", translations=None), "title", "pl") == ("T", "en")


def test_staff_write_an_engagement_in_polish_and_visitors_read_it(
    make_engagement, signed_in, client
):
    engagement = make_engagement(slug="gp", title="GP access", summary="Tell us how it is.")
    staff = signed_in(Role.PUBLISHER)
    form = staff.get("/staff/engagements/gp/translations?locale=pl")
    assert form.status_code == 200 and "In English: GP access" in form.text
    saved = staff.post(
        "/staff/engagements/gp/translations",
        data={"locale": "pl", "title": TITLE_PL, "summary": SUMMARY_PL},
    )
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(Engagement, engagement.id).translations == {
        "pl": {"title": TITLE_PL, "summary": SUMMARY_PL}
    }
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "engagement.translation")
    )
    assert event.detail == {"locale": "pl", "fields": ["summary", "title"]}

    polish = client.get("/engagements/gp", headers=POLISH)
    assert f'<h1 lang="pl" dir="ltr">{TITLE_PL}</h1>' in polish.text
    assert SUMMARY_PL in polish.text
    assert NOTICE not in polish.text

    english = client.get("/engagements/gp")
    assert '<h1 lang="en" dir="ltr">GP access</h1>' in english.text
    assert NOTICE not in english.text  # an English reader is not told anything

    arabic = client.get("/engagements/gp", headers=ARABIC)
    # The English shown on the Arabic page is marked as English, the notice is Arabic.
    assert '<h1 lang="en" dir="ltr">GP access</h1>' in arabic.text
    assert TITLE_PL not in arabic.text
    assert NOTICE in arabic.text and NOTICE_AR in arabic.text

    # The switcher's cookie wins over Accept-Language, and each language is cached apart.
    client.get("/language/pl?next=/engagements/gp")
    chosen = client.get("/engagements/gp", headers=ARABIC)
    assert f'<h1 lang="pl" dir="ltr">{TITLE_PL}</h1>' in chosen.text
    # No ?lang= path: the switcher is the one way to choose.
    client.delete_cookie("engage_lang")
    assert TITLE_PL not in client.get("/engagements/gp?lang=pl").text


def test_a_response_in_arabic_and_its_fallback(make_response, signed_in, client):
    response = make_response(
        you_said="the clinic shuts too early.", we_did="It opens late on Tuesdays."
    )
    staff = signed_in(Role.PUBLISHER)
    staff.post(
        f"/staff/responses/{response.id}/translations",
        data={"locale": "ar", "you_said": "العيادة تغلق مبكراً.", "we_did": ""},
    )
    db.session.expire_all()
    assert db.session.get(Response, response.id).translations == {
        "ar": {"you_said": "العيادة تغلق مبكراً."}
    }
    page = client.get(f"/you-said-we-did/{response.id}", headers=ARABIC)
    assert page.status_code == 200, page.status_code
    assert '<span lang="ar" dir="rtl">العيادة تغلق مبكراً.</span>' in page.text
    # "What we are doing" has no Arabic: English, and the page says so.
    assert '<p class="engage-quote" lang="en" dir="ltr">It opens late on Tuesdays.</p>' in page.text
    assert NOTICE_AR in page.text
    polish = client.get(f"/you-said-we-did/{response.id}", headers=POLISH)
    assert "the clinic shuts too early." in polish.text and NOTICE_PL in polish.text
    assert NOTICE not in client.get(f"/you-said-we-did/{response.id}").text


def test_translations_need_the_publisher_role_and_a_known_language(make_engagement, signed_in):
    make_engagement(slug="gp")
    triager = signed_in(Role.TRIAGER)
    assert (
        triager.post("/staff/engagements/gp/translations", data={"locale": "pl"}).status_code == 403
    )
    publisher = signed_in(Role.PUBLISHER)
    refused = publisher.post(
        "/staff/engagements/gp/translations", data={"locale": "xx", "title": "Hm"}
    )
    assert refused.status_code == 400
    too_long = publisher.post(
        "/staff/engagements/gp/translations", data={"locale": "pl", "title": "x" * 301}
    )
    assert too_long.status_code == 400
    assert db.session.scalar(select(Engagement.translations)) is None


def test_staff_write_only_in_languages_visitors_can_choose(make_engagement, signed_in):
    """Visitors read the site in the switcher's languages only, so a translation into
    any other (Turkish here, a language engage detects in feedback) is refused."""
    make_engagement(slug="gp")
    publisher = signed_in(Role.PUBLISHER)
    form = publisher.get("/staff/engagements/gp/translations")
    assert 'value="ar"' in form.text and 'value="tr"' not in form.text
    refused = publisher.post(
        "/staff/engagements/gp/translations", data={"locale": "tr", "title": "GP erişimi"}
    )
    assert refused.status_code == 400
    assert db.session.scalar(select(Engagement.translations)) is None
