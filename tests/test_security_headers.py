"""Security headers on every kind of response, and pages that keep to their own policy.

tests/test_factory.py checks the policy and the script hash on the home page and HSTS
in production; this file checks that the same headers are on everything else (error
pages, JSON, redirects, downloads, feeds, assets, staff pages) and that no page needs
more than the policy allows: no inline script whose hash the policy does not list, no
inline style or event handler, nothing loaded from another site.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from engage import create_app
from engage.extensions import db, limiter
from engage.staff.models import Role
from tests.publish.factories import make_response  # noqa: F401

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
DIRECTIVES = (
    "default-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "object-src 'none'",
)


def assert_hardened(response, what) -> set[str]:
    """The headers every response carries; returns the script hashes the CSP allows."""
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (what, name)
    assert "camera=()" in response.headers.get("Permissions-Policy", ""), what
    policy = response.headers.get("Content-Security-Policy", "")
    for directive in DIRECTIVES:
        assert directive in policy, (what, directive)
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, what
    assert "*" not in policy.replace("'", ""), what
    assert "'nonce-" not in policy, what  # pages are the same for everyone (cacheable)
    hashes = set(re.findall(r"'sha256-([A-Za-z0-9+/=]{44})'", policy))
    assert hashes, (what, policy)
    return hashes


def script_hash(body: str) -> str:
    """The CSP hash of an inline script's text."""
    return base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()


def assert_page_keeps_to_policy(response, hashes, what) -> None:
    """An HTML page a browser could render under its own CSP without breaking."""
    html = response.get_data(as_text=True)
    for tag, body in re.findall(r"(<script\b[^>]*>)(.*?)</script>", html, re.I | re.S):
        src = re.search(r'\ssrc="([^"]*)"', tag)
        if src:
            assert src.group(1).startswith("/"), (what, tag)  # same origin
        else:
            assert script_hash(body) in hashes, (what, body)
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", html, re.I), what  # onclick= and the like
    assert not re.search(r"<[^>]+\sstyle\s*=", html, re.I), what
    assert not re.search(r"<style\b", html, re.I), what
    assert not re.search(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", html, re.I), what
    loaded = r"""<(?:link|img|iframe|embed|object)\b[^>]*(?:href|src)="([^"]*)"""
    for url in re.findall(loaded, html):
        assert url.startswith(("/", "#", "data:")) or url == "", (what, url)


@pytest.fixture
def site(app, make_engagement, make_item, make_response):  # noqa: F811
    engagement = make_engagement(slug="case-for-change", areas=["Harrow"])
    item = make_item(engagement_slug=engagement.slug, consent_to_quote=True)
    response = make_response(engagement=engagement, items=[item])
    return {"engagement": engagement, "item": item, "response": response}


PUBLIC_PAGES = [
    "/",
    "/engagements/case-for-change",
    "/engagements/case-for-change/report",
    "/you-said-we-did",
    "/you-said-we-did?q=surgery&theme=money",
    "/you-said-we-did/{response}",
    "/you-said-we-did/alerts",
    "/track",
    "/privacy",
    "/accessibility",
    "/open-data",
    "/api",
    "/staff/sign-in",
]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_are_hardened_and_keep_to_the_policy(client, site, path):
    response = client.get(path.format(response=site["response"].id))
    assert response.status_code == 200, path
    hashes = assert_hardened(response, path)
    assert_page_keeps_to_policy(response, hashes, path)
    assert "Access-Control-Allow-Origin" not in response.headers


STAFF_PAGES = [
    "/staff/inbox",
    "/staff/inbox?q=surgery",
    "/staff/items/{item}",
    "/staff/dashboard",
    "/staff/duplicates",
    "/staff/responses",
    "/staff/responses/{response}",
    "/staff/record",
    "/staff/account",
    "/staff/accounts",
    "/staff/audit",
    "/staff/models",
]


def test_staff_pages_are_hardened_and_keep_to_the_policy(site, signed_in):
    staff = signed_in(Role.ADMIN)
    for path in STAFF_PAGES:
        url = path.format(item=site["item"].id, response=site["response"].id)
        response = staff.get(url)
        assert response.status_code == 200, url
        hashes = assert_hardened(response, url)
        assert_page_keeps_to_policy(response, hashes, url)
        assert "Access-Control-Allow-Origin" not in response.headers, url


def test_staff_pages_are_not_cached(site, signed_in):
    staff = signed_in(Role.TRIAGER)
    for url in ("/staff/inbox", f"/staff/items/{site['item'].id}", "/staff/sign-in"):
        assert "no-store" in staff.get(url).headers.get("Cache-Control", ""), url


def test_errors_redirects_json_and_downloads_carry_the_headers(client, site, make_engagement):
    engagement = site["engagement"]
    limiter.reset()
    cases = {
        "404 page": client.get("/no-such-page"),
        "404 engagement": client.get("/engagements/nope"),
        "405": client.put("/track"),
        "400 form": client.post(f"/engagements/{engagement.slug}/feedback", data={"text": ""}),
        "303 after sending": client.post(
            f"/engagements/{engagement.slug}/feedback",
            data={"text": "The merger will take decisions away from Harrow.", "area": ""},
        ),
        "302 staff sign-in": client.get("/staff/inbox"),
        "413": client.post(
            f"/engagements/{engagement.slug}/feedback", data={"text": "x" * (13 * 1024 * 1024)}
        ),
        "healthz": client.get("/healthz"),
        "API list": client.get("/api/v1/responses"),
        "API 404": client.get("/api/v1/responses/999999"),
        "API 400": client.get("/api/v1/responses", query_string={"per_page": "x"}),
        "OpenAPI": client.get("/api/v1/openapi.json"),
        "partner API 401": client.post("/api/v1/feedback", json={"text": "hello there"}),
        "inbound off 404": client.post("/inbound/email", data=b"x"),
        "Atom feed": client.get("/you-said-we-did/feed.atom"),
        "CSV": client.get("/open-data/responses.csv"),
        "JSON download": client.get("/open-data/feedback-counts.json"),
    }
    for what, response in cases.items():
        assert response.status_code < 500, (what, response.status_code)
        assert_hardened(response, what)
    assert cases["partner API 401"].status_code == 401
    assert cases["413"].status_code == 413
    assert "Bearer" in cases["partner API 401"].headers["WWW-Authenticate"]
    # Only the public, read-only API is open to other sites; the partner API is not.
    assert cases["API list"].headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in cases["partner API 401"].headers
    for what in ("404 page", "400 form", "413"):
        nonce = assert_hardened(cases[what], what)
        assert_page_keeps_to_policy(cases[what], nonce, what)
    with client.get("/static/nhsuk/nhsuk-frontend.min.css") as asset:
        assert_hardened(asset, "static asset")


def test_production_sends_hsts_on_every_kind_of_response(app, site):
    production = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": "x",
            "ENGAGE_ENV": "production",
            "ENGAGE_BASE_URL": "https://localhost",  # the test client's host
            "RATELIMIT_ENABLED": False,
        }
    )
    client = production.test_client()
    try:
        for path in ("/", "/no-such-page", "/api/v1/responses", "/healthz", "/staff/inbox"):
            response = client.get(path)
            assert response.status_code < 500, path
            hsts = response.headers.get("Strict-Transport-Security", "")
            assert re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts), (path, hsts)
            assert int(hsts.split("=")[1].split(";")[0]) >= 31_536_000, path
    finally:
        with production.app_context():
            db.engine.dispose()  # its own pool: close it, not leave it to the collector


def test_a_page_served_from_the_cache_keeps_to_the_policy(client, site):
    made = client.get("/you-said-we-did")
    cached = client.get("/you-said-we-did")
    assert cached.get_data() == made.get_data() and cached.headers["ETag"] == made.headers["ETag"]
    for response in (made, cached):
        assert_page_keeps_to_policy(response, assert_hardened(response, "log"), "log")
