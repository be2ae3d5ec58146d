"""Public engagement pages."""

from datetime import date

from engage.engagements import service
from engage.extensions import db
from engage.feedback import queries as feedback_queries


def test_home_lists_open_and_closed(client, make_engagement):
    make_engagement(title="Still open", closes_on=date(2099, 1, 1))
    make_engagement(title="Long closed", closes_on=date(2019, 8, 24))
    page = client.get("/").get_data(as_text=True)
    assert "Open for feedback" in page and "Closed engagements" in page
    assert page.index("Still open") < page.index("Closed engagements") < page.index("Long closed")


def test_engagement_page_shows_dates(client, make_engagement):
    engagement = make_engagement(opens_on=date(2019, 5, 28), closes_on=date(2019, 7, 24))
    page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    assert "28 May 2019" in page and "24 July 2019" in page
    assert "closed on" in page


def test_extension_notice(client, make_engagement):
    engagement = make_engagement(opens_on=date(2019, 5, 28), closes_on=date(2019, 7, 24))
    service.extend_deadline(
        engagement,
        new_closes_on=date(2019, 8, 24),
        announced_on=date(2019, 7, 10),
        reason="At the JHOSC's request.",
    )
    db.session.commit()
    page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    assert "extended from 24 July 2019 to 24 August 2019" in page
    assert "At the JHOSC&#39;s request." in page


def test_extension_must_move_later(app, make_engagement):
    engagement = make_engagement(closes_on=date(2019, 7, 24))
    try:
        service.extend_deadline(
            engagement, new_closes_on=date(2019, 7, 1), announced_on=date(2019, 6, 1)
        )
    except ValueError as error:
        assert "later" in str(error)
    else:
        raise AssertionError("an earlier date was accepted")
    assert engagement.closes_on == date(2019, 7, 24)


def test_unknown_slug_is_404(client):
    response = client.get("/engagements/no-such-thing")
    assert response.status_code == 404
    assert b"Page not found" in response.data


def test_text_is_escaped(client, make_engagement):
    engagement = make_engagement(
        title="<script>alert(1)</script>", summary="<img src=x onerror=alert(2)>"
    )
    page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    home = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in home


def test_figures_count_themes(app, make_engagement, make_item):
    from engage.feedback.models import Status, TagSource, Theme, ThemeTag

    engagement = make_engagement()
    themes = {t.slug: t for t in db.session.scalars(db.select(Theme))}
    money = make_item(
        "Ealing will lose money in the pooled budget", engagement_slug=engagement.slug
    )
    both = make_item("Who decides, and where does the money go?", engagement_slug=engagement.slug)
    spam = make_item("Buy cheap watches online today!!!", engagement_slug=engagement.slug)
    spam.status = Status.SPAM
    db.session.add_all(
        [
            ThemeTag(item=money, theme=themes["money"], source=TagSource.MODEL, confidence=0.9),
            ThemeTag(item=both, theme=themes["money"], source=TagSource.STAFF),
            ThemeTag(item=both, theme=themes["decision-making"], source=TagSource.STAFF),
            # The model's tag on an item staff have tagged does not count.
            ThemeTag(item=both, theme=themes["jobs"], source=TagSource.MODEL, confidence=0.6),
            ThemeTag(item=spam, theme=themes["money"], source=TagSource.MODEL, confidence=0.7),
        ]
    )
    db.session.commit()
    result = feedback_queries.figures(engagement)
    by_slug = {s.slug: s for s in result.themes}
    assert result.total == 2
    assert by_slug["money"].count == 2 and by_slug["money"].percent == 100
    assert by_slug["decision-making"].count == 1 and by_slug["decision-making"].percent == 50
    assert by_slug["jobs"].count == 0
