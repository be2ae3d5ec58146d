"""Public pages: the log, a response, voting, the engagement table, the report."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.extensions import db
from engage.feedback.models import FeedbackItem
from engage.publish import service
from engage.publish.models import ResponseStatus, ResponseVote


def test_log_lists_newest_first_and_filters(client, make_engagement, make_item, make_response):
    nwl = make_engagement(title="North West")
    nel = make_engagement(title="North East")
    harrow = make_item(engagement_slug=nwl.slug, area="Harrow")
    make_response(engagement=nwl, you_said="Old money worry.", themes=("money",), items=[harrow])
    make_response(
        engagement=nel, you_said="New jobs worry.", themes=("jobs",), status=ResponseStatus.DONE
    )
    page = client.get("/you-said-we-did").get_data(as_text=True)
    assert page.index("New jobs worry.") < page.index("Old money worry.")
    assert "2 responses" in page

    def only(query):
        text = client.get(f"/you-said-we-did?{query}").get_data(as_text=True)
        return ("Old money worry." in text, "New jobs worry." in text)

    assert only(f"engagement={nwl.slug}") == (True, False)
    assert only("theme=jobs") == (False, True)
    assert only("status=done") == (False, True)
    assert only("area=Harrow") == (True, False)
    assert only("area=Ealing") == (False, False)
    assert only("q=MONEY") == (True, False)
    assert only("status=nonsense") == (True, True)


def test_search_treats_wildcards_literally(client, make_response):
    make_response(you_said="we will keep 100% of services local.")
    make_response(you_said="we will keep 1000 beds.")
    make_response(you_said="the a_b plan is unclear.")
    make_response(you_said="the axb plan is unclear.")

    def count(q):
        return client.get("/you-said-we-did", query_string={"q": q}).get_data(as_text=True)

    assert "100% of services" in count("100%") and "1000 beds" not in count("100%")
    assert "a_b plan" in count("a_b") and "axb plan" not in count("a_b")
    assert "No responses match" in count("%%%")


def test_pagination(client, make_engagement, make_response):
    engagement = make_engagement()
    for n in range(23):
        make_response(engagement=engagement, you_said=f"concern number {n:02d}.")
    first = client.get("/you-said-we-did").get_data(as_text=True)
    assert "concern number 22" in first and "concern number 02" not in first
    assert "page 1 of 2" in first
    second = client.get("/you-said-we-did?page=2").get_data(as_text=True)
    assert "concern number 02" in second and "concern number 22" not in second
    assert client.get("/you-said-we-did?page=3").status_code == 404
    assert client.get("/you-said-we-did?page=0").status_code == 404


def test_permalink_shows_people_history_milestones(
    client, make_engagement, make_item, make_response
):
    engagement = make_engagement()
    items = [make_item(engagement_slug=engagement.slug) for _ in range(3)]
    response = make_response(engagement=engagement, items=items, we_did="Original plan.")
    service.update(response, we_did="Revised plan.", note="Dates added")
    service.change_status(response, status=ResponseStatus.IN_PROGRESS, note="Work began")
    db.session.commit()
    page = client.get(f"/you-said-we-did/{response.id}").get_data(as_text=True)
    assert "3</span> people raised" in page
    assert "Revised plan." in page and "Updated on" in page
    assert "Earlier wording" in page and "Original plan." in page
    assert "In progress: Work began" in page
    assert "Does this answer your concern?" in page
    # Never the words of the feedback itself.
    assert items[0].text not in page


def test_vote_yes_and_no(client, make_response):
    response = make_response()
    assert client.post(f"/you-said-we-did/{response.id}/vote", data={}).status_code == 400
    yes = client.post(f"/you-said-we-did/{response.id}/vote", data={"helpful": "yes"})
    assert yes.status_code == 303
    no = client.post(
        f"/you-said-we-did/{response.id}/vote",
        data={"helpful": "no", "comment": "It does not say what happens to Ealing."},
        follow_redirects=True,
    )
    assert "added what you wrote" in no.get_data(as_text=True)
    assert "1 person said yes, 1 said no" in no.get_data(as_text=True)
    vote = db.session.scalar(select(ResponseVote).where(ResponseVote.helpful.is_(False)))
    item = db.session.get(FeedbackItem, vote.feedback_item_id)
    assert item.text == "It does not say what happens to Ealing."


def test_vote_on_draft_is_404(client, make_response):
    draft = make_response(publish=False)
    assert (
        client.post(f"/you-said-we-did/{draft.id}/vote", data={"helpful": "yes"}).status_code == 404
    )


def test_engagement_page_table(client, make_engagement, make_response):
    engagement = make_engagement()
    page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    assert "We have not published any responses yet" in page
    make_response(engagement=engagement, themes=("money", "jobs"), you_said="cuts are coming.")
    page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    for heading in ("Topic", "You told us you are concerned that …", "What we are doing", "Status"):
        assert f">{heading}</th>" in page
    assert "Money, Impact on jobs" in page and "cuts are coming." in page


def test_committee_report(client, make_engagement, make_item, make_response):
    engagement = make_engagement(title="Case for Change")
    item = make_item(engagement_slug=engagement.slug)
    make_response(engagement=engagement, items=[item], you_said="it is rushed.")
    page = client.get(f"/engagements/{engagement.slug}/report")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Case for Change" in text and "it is rushed." in text
    assert "Comments by theme" in text and "Headline figures" in text
    assert "report.css" in text
    css = client.get("/public/static/report.css")
    assert css.status_code == 200 and b"size: A4" in css.data
    css.close()
    assert client.get("/engagements/nope/report").status_code == 404


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/accessibility", "Accessibility statement"),
        ("/privacy", "Privacy notice"),
        ("/open-data", "Open Government Licence v3.0"),
        ("/api", "OpenAPI"),
        ("/you-said-we-did/alerts", "Get an email when we respond"),
    ],
)
def test_static_pages(client, url, words):
    page = client.get(url)
    assert page.status_code == 200 and words in page.get_data(as_text=True)


def test_footer_and_navigation_link_the_pages(client):
    page = client.get("/").get_data(as_text=True)
    for href in ("/you-said-we-did", "/accessibility", "/privacy", "/open-data", "/api"):
        assert f'href="{href}"' in page
