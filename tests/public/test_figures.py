"""Public figures: a "No" reply is not a new comment, waits are in words, open data says
what it leaves out."""

from __future__ import annotations

from datetime import timedelta

from engage.extensions import db
from engage.feedback import queries as feedback_queries
from engage.feedback.models import FeedbackItem
from engage.publish import queries
from engage.publish.models import ResponseVote


def _no_with_comment(client, response):
    answer = client.post(
        f"/you-said-we-did/{response.id}/vote",
        data={"helpful": "no", "comment": "It says nothing about the Ealing walk-in centre."},
    )
    assert answer.status_code == 303
    vote = db.session.query(ResponseVote).filter_by(helpful=False).one()
    return db.session.get(FeedbackItem, vote.feedback_item_id)


def test_a_no_reply_is_kept_but_not_counted(client, make_engagement, make_item, make_response):
    engagement = make_engagement()
    items = [make_item(engagement_slug=engagement.slug) for _ in range(3)]
    response = make_response(engagement=engagement, items=items)
    assert feedback_queries.figures(engagement).total == 3
    assert queries.responsiveness(engagement).percent == 100

    reply = _no_with_comment(client, response)
    # Kept for the team, about the same engagement ...
    assert reply is not None and reply.engagement_id == engagement.id
    # ... but not another comment, and not one without an answer.
    assert feedback_queries.figures(engagement).total == 3
    answered = queries.responsiveness(engagement)
    assert (answered.counted, answered.answered, answered.percent) == (3, 3, 100)
    assert sum(row.count for row in queries.feedback_counts()) == 3
    page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    assert "100%" in page and "3 of 3" in page
    stats = client.get(f"/api/v1/statistics?engagement={engagement.slug}").get_json()
    assert stats["items"][0]["comments"] == 3
    assert stats["items"][0]["responsiveness"]["share_answered_percent"] == 100


def test_an_answer_the_same_day_never_says_zero_days(
    client, make_engagement, make_item, make_response
):
    engagement = make_engagement()
    item = make_item(engagement_slug=engagement.slug)
    make_response(engagement=engagement, items=[item], published_at=item.submitted_at)
    assert queries.responsiveness(engagement).median_days == 0
    for url in (f"/engagements/{engagement.slug}", f"/engagements/{engagement.slug}/report"):
        page = client.get(url).get_data(as_text=True)
        assert "the same day" in page, url
        assert "0 days" not in page, url


def test_a_wait_of_days_is_counted_in_days(client, make_engagement, make_item, make_response):
    engagement = make_engagement()
    item = make_item(engagement_slug=engagement.slug)
    make_response(
        engagement=engagement, items=[item], published_at=item.submitted_at + timedelta(days=3)
    )
    page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    assert "within 3 days" in page and "the same day" not in page


def test_open_data_page_says_what_the_counts_leave_out_and_why_the_bom(client):
    page = client.get("/open-data").get_data(as_text=True)
    assert "General feedback is not included" in page
    assert "replies to our responses" in page
    assert "byte-order mark" in page and "Excel" in page
    csv = client.get("/open-data/feedback-counts.csv")
    assert csv.data.startswith("\ufeff".encode())
    csv.close()
