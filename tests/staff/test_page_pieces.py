"""Staff page pieces built in Python (engage.staff.html) and fragments rendered once."""

from datetime import datetime

from engage.feedback.models import Status
from engage.staff import html
from engage.staff.models import Role


class _Theme:
    def __init__(self, name: str):
        self.name = name


class _Item:
    def __init__(self, names: list[str], reviewed: datetime | None = None):
        self._themes = [_Theme(n) for n in names]
        self.themes_reviewed_at = reviewed

    def themes(self):
        return self._themes


def test_status_tag_colours_each_status():
    assert html.status_tag(Status.NEW) == (
        '<strong class="nhsuk-tag nhsuk-tag--yellow">New</strong>'
    )
    assert set(html.STATUS_COLOURS) == set(Status)


def test_theme_tags_say_what_staff_and_the_model_decided():
    model = html.theme_tags(_Item(["Money", "Jobs"]))
    assert model.count("nhsuk-tag--white engage-theme-tag") == 2
    assert ">Money<" in model and ">Jobs<" in model
    reviewed = html.theme_tags(_Item(["Money"], reviewed=datetime(2026, 1, 1)))
    assert "nhsuk-tag--blue engage-theme-tag" in reviewed
    assert ">No theme<" in html.theme_tags(_Item([], reviewed=datetime(2026, 1, 1)))
    assert ">Unclassified<" in html.theme_tags(_Item([]))


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
