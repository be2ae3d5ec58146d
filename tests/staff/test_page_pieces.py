"""Staff page pieces: tags built in Python (engage.staff.html), the inbox's macros
(templates/staff/_inbox.html) and fragments rendered once."""

from datetime import datetime

from engage.feedback.models import Status
from engage.staff import html, labels
from engage.staff.models import Role


class _Item:
    def __init__(
        self, names: list[str], reviewed: datetime | None = None, percents: list | None = None
    ):
        self._labels = tuple(zip(names, percents or [None] * len(names), strict=True))
        self.themes_reviewed_at = reviewed

    def theme_labels(self):
        return self._labels


def test_item_status_tag_colours_and_names_each_status():
    assert html.item_status_tag(Status.NEW) == (
        '<strong class="nhsuk-tag nhsuk-tag--yellow">New</strong>'
    )
    assert set(labels.STATUS_COLOURS) == set(labels.STATUS_NAMES) == set(Status)


def test_the_item_status_tag_does_not_hide_the_response_status_macro(app):
    """One name, one thing: the response's ``status_tag`` macro and the item's
    ``item_status_tag`` global are both usable in one template."""
    assert "status_tag" not in app.jinja_env.globals
    template = app.jinja_env.from_string(
        '{% from "publish/_macros.html" import status_tag %}{{ item_status_tag(s) }}'
    )
    with app.test_request_context():
        assert ">Spam<" in template.render(s=Status.SPAM)


def test_theme_tags_say_what_staff_and_the_model_decided():
    model = html.theme_tags(_Item(["Money", "Jobs"]))
    assert model.count("nhsuk-tag--white engage-theme-tag") == 2
    assert ">Money<" in model and ">Jobs<" in model
    reviewed = html.theme_tags(_Item(["Money"], reviewed=datetime(2026, 1, 1)))
    assert "nhsuk-tag--blue engage-theme-tag" in reviewed
    assert ">No theme<" in html.theme_tags(_Item([], reviewed=datetime(2026, 1, 1)))
    assert ">Unclassified<" in html.theme_tags(_Item([]))


def test_the_models_themes_carry_their_percent_and_staff_themes_none():
    model = html.theme_tags(_Item(["Money", "Impact on jobs"], percents=[81, 62]))
    assert ">Money 81%<" in model and ">Impact on jobs 62%<" in model
    staff = html.theme_tags(_Item(["Money"], reviewed=datetime(2026, 1, 1), percents=[None]))
    assert ">Money<" in staff and "%" not in staff
    assert html.theme_label("Money", 0) == "Money 0%"


def test_theme_names_are_escaped():
    out = html.theme_tags(_Item(['<script>alert("x")</script>']))
    assert "<script>" not in out
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in out


def test_each_person_sees_their_own_name_and_links_in_the_staff_bar(app, signed_in):
    viewer = signed_in(Role.VIEWER)
    admin = signed_in(Role.ADMIN)
    for _ in range(2):  # the second time from the kept fragment
        as_viewer = viewer.get("/staff/inbox").get_data(as_text=True)
        as_admin = admin.get("/staff/inbox").get_data(as_text=True)
        assert viewer.user.display_name in as_viewer
        assert admin.user.display_name not in as_viewer
        assert admin.user.display_name in as_admin
        assert "Audit log" in as_admin and "Audit log" not in as_viewer
    # The current page is marked in the bar of the page shown, not of the one kept.
    dashboard = viewer.get("/staff/dashboard").get_data(as_text=True)
    assert 'href="/staff/dashboard" aria-current="page"' in dashboard
    assert 'href="/staff/inbox" aria-current="page"' not in dashboard


def test_header_shows_sign_out_only_to_someone_signed_in(app, client, signed_in):
    staff = signed_in(Role.VIEWER)
    for _ in range(2):
        assert "Sign out" in staff.get("/staff/inbox").get_data(as_text=True)
        assert "Sign out" not in client.get("/track").get_data(as_text=True)
    assert app.extensions["engage_fragments"]  # the pieces were kept


def test_kept_fragments_are_bounded(app, client, monkeypatch):
    from engage import web

    monkeypatch.setattr(web, "MAX_FRAGMENTS", 1)
    fragments = app.extensions["engage_fragments"]
    fragments.clear()
    for _ in range(3):
        page = client.get("/track").get_data(as_text=True)
        # A page needs two pieces (header and footer); only one is kept at a time, and
        # the page still has both.
        assert len(fragments) == 1
        assert "<header" in page and "<footer" in page


def _row(**changes):
    from engage.feedback.models import Channel
    from engage.staff.inbox import InboxRow, ThemeChoice

    values = dict(
        id=42,
        reference="YS-2026-000042",
        submitted_at=datetime(2026, 3, 4, 10, 30),
        channel=Channel.EMAIL,
        area="Brent <b>",
        text="<script>alert('x')</script> " + "word " * 100,
        status=Status.TRIAGED,
        certainty=0.123,
        themes_reviewed_at=None,
        engagement_title="Case & <i>change</i>",
        duplicate_group_id=7,
        duplicate_group_size=1234,
        current_themes=(ThemeChoice(1, "money", "Money <&>"),),
        current_percents=(81,),
    )
    values.update(changes)
    return InboxRow(**values)


def test_an_inbox_row_escapes_every_value_and_links_the_item(app):
    from flask import url_for

    with app.test_request_context("/staff/inbox"):
        row = str(_macro(app, "inbox_row")(_row(), True))
        assert f'href="{url_for("staff.item", item_id=42)}"' in row
        assert f'href="{url_for("staff.inbox", group=7)}"' in row
        assert "One of 1,234 similar texts" in row
        assert 'id="item-42"' in row and "Select YS-2026-000042" in row
        assert "04 Mar 2026 · email · Brent &lt;b&gt; · Case &amp; &lt;i&gt;change&lt;/i&gt;" in row
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in row and "<script>" not in row
        assert row.count("word") < 60 and "word...<" in row  # cut near 280 characters
        # The model's theme with its percent; never the margin the "least certain"
        # order uses.
        assert ">Money &lt;&amp;&gt; 81%<" in row
        assert "certainty" not in row and "0.12" not in row
        viewer = str(
            _macro(app, "inbox_row")(
                _row(
                    duplicate_group_id=None,
                    engagement_title=None,
                    area=None,
                    themes_reviewed_at=datetime(2026, 1, 1),
                    current_percents=(None,),
                ),
                False,
            )
        )
        assert 'type="checkbox"' not in viewer and "similar texts" not in viewer
        assert "04 Mar 2026 · email · General<" in viewer
        assert ">Money &lt;&amp;&gt;<" in viewer and "%" not in viewer  # set by staff


def test_numbered_urls_match_url_for(app):
    from flask import url_for

    with app.test_request_context("/staff/inbox"):
        for n in (1, 99, 123456789):
            assert html.numbered_url("staff.item", "item_id", n) == url_for("staff.item", item_id=n)
            assert html.numbered_url("staff.inbox", "group", n) == url_for("staff.inbox", group=n)


def test_a_filter_list_escapes_marks_the_choice_and_shows_counts(app):
    facet_select = _macro(app, "facet_select")
    options = (("brent", "Brent <b>"), ("ealing", "Ealing"))
    plain = str(facet_select("area", "Area", options, "ealing", None, "All <areas>"))
    assert '<select class="nhsuk-select" id="f-area" name="area">' in plain
    assert '<option value="">All &lt;areas&gt;</option>' in plain
    assert '<option value="brent" >Brent &lt;b&gt;</option>' in plain
    assert '<option value="ealing" selected>Ealing</option>' in plain
    counted = str(facet_select("area", "Area", options, "", {"brent": 1234}, "All"))
    assert ">Brent &lt;b&gt; (1,234)<" in counted and ">Ealing (0)<" in counted
    assert "selected" not in counted


def test_an_inbox_link_carries_the_filters_and_position(app):
    with app.test_request_context("/staff/inbox"):
        row = str(_macro(app, "inbox_row")(_row(), True, "theme=money&q=a", 3))
    assert "?theme=money&amp;q=a&amp;at=3" in row


def _macro(app, name):
    with app.app_context():
        return app.jinja_env.get_template("staff/_inbox.html").module.__getattribute__(name)


def test_form_fields_made_once_match_nhsuks_macros_for_each_value_and_error(app):
    """_forms.html keeps the textarea, select and button it makes (rendered_once) and
    puts the text in afterwards: the page is the same as NHS.UK's macros make it."""
    from wtforms.fields.choices import SelectChoice

    from engage.staff.forms import ResponseForm

    direct = app.jinja_env.from_string(
        '{% from "nhsuk/components/textarea/macro.jinja" import textarea %}'
        '{% from "nhsuk/components/select/macro.jinja" import select %}'
        "{{ textarea({'id': f.id, 'name': f.name, 'rows': 4,"
        " 'label': {'text': f.label.text, 'size': 's'},"
        " 'hint': {'text': f.description} if f.description else None,"
        " 'value': f.data or '', 'errorMessage': {'text': f.errors[0]} if f.errors else None}) }}"
        "|{% set items = [] %}{% for c in s.iter_choices() %}"
        "{% set _ = items.append({'value': c.value, 'text': c.label, 'selected': c.selected}) %}"
        "{% endfor %}{{ select({'id': s.id, 'name': s.name, 'label': {'text': s.label.text},"
        " 'items': items, 'errorMessage': {'text': s.errors[0]} if s.errors else None}) }}"
    )
    kept = app.jinja_env.from_string(
        '{% import "_forms.html" as forms %}{{ forms.text_area(f, rows=4) }}|{{ forms.select(s) }}'
    )
    with app.test_request_context():
        form = ResponseForm()
        form.status.choices = [SelectChoice("a", "A & B"), SelectChoice("b", "<B>")]
        cases = [
            ("", [], None, []),
            ('He said "no" & <script>alert(1)</script>', [], "b", []),
            ("Second text", ["Too long"], "a", ["Choose a status"]),
            ("Third", ["Too long"], "b", []),
        ]
        seen = set()
        for data, errors, status, status_errors in cases:
            form.you_said.data, form.you_said.errors = data, list(errors)
            form.status.data, form.status.errors = status, list(status_errors)
            want = direct.render(f=form.you_said, s=form.status).split("|", 1)
            got = kept.render(f=form.you_said, s=form.status)
            textarea, select = got.split("|", 1)
            assert textarea.strip() == want[0].strip()
            assert select.strip() == want[1].strip()
            seen.add(got)
        assert len(seen) == len(cases)
        assert "&lt;script&gt;" in "".join(seen) and "<script>" not in "".join(seen)
