"""Deployment hardening: security headers, trusted proxies, allowed hosts and cookies.

Applied by create_app after the rest of the app is built, from its final config
(issue #20). Split from engage.web, whose error pages it uses for a refused host.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import nhsuk_frontend_jinja
from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.sansio.utils import host_is_trusted

from engage.i18n import _
from engage.web import _error_page, is_api_request, problem

log = logging.getLogger(__name__)


def _inline_script_hashes() -> tuple[str, ...]:
    """CSP hashes of the inline scripts NHS.UK's page template writes (one, today).

    A hash rather than a per-request nonce keeps pages the same for every visitor, so
    public pages can be cached whole (engage.pagecache).
    """
    template = Path(nhsuk_frontend_jinja.__file__).parent / "templates/nhsuk/template.jinja"
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", template.read_text(), re.S)
    return tuple(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in scripts
        if body.strip() and "{{" not in body and "{%" not in body  # static text only
    )


def register_security_headers(app: Flask) -> None:
    """Send a strict Content-Security-Policy and the usual hardening headers."""
    script_hashes = " ".join(_inline_script_hashes())
    policy = (
        "default-src 'self'; "
        f"script-src 'self' {script_hashes}; "
        "style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'self'; object-src 'none'"
    )

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        )
        if app.config.get("ENGAGE_ENV") == "production":
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response


# Endpoints that answer whatever the Host: the health checks, for a probe on the machine
# (`curl http://127.0.0.1:8000/readyz`) or a load balancer that names no host, and
# /metrics, which Prometheus scrapes from each node directly. They write no URL and
# nothing host-dependent.
ANY_HOST_ENDPOINTS = frozenset({"web.healthz", "web.readyz", "web.metrics"})

# Production cookie names: the __Host- prefix makes browsers refuse the cookie unless it
# is Secure, has Path=/ and no Domain, so no other host or path can set or shadow it.
HOST_COOKIES = {
    "SESSION_COOKIE_NAME": "__Host-session",
    "REMEMBER_COOKIE_NAME": "__Host-remember_token",
}


def allowed_hosts(config: Mapping) -> list[str]:
    """The host names requests may be for; empty means any (development)."""
    listed = config.get("ENGAGE_ALLOWED_HOSTS") or []
    if isinstance(listed, str):
        listed = listed.split(",")
    hosts = [h.strip().lower() for h in listed if h.strip()]
    if not hosts and config.get("ENGAGE_ENV") == "production":
        base_host = urlsplit(config["ENGAGE_BASE_URL"]).hostname
        hosts = [base_host] if base_host else []
    return hosts


def configure_deployment(app: Flask) -> None:
    """Proxies, allowed hosts and cookies, from the app's final config (issue #20).

    - ENGAGE_TRUSTED_PROXIES=N: the last N proxies' X-Forwarded-For and
      X-Forwarded-Proto are believed (werkzeug's ProxyFix), so rate limits, the audit
      log and the sign-in throttle see the client's address. X-Forwarded-Host is never
      believed: absolute URLs come from ENGAGE_BASE_URL anyway.
    - Allowed hosts: a request for any other host is refused with a 400 before anything
      else runs (except ANY_HOST_ENDPOINTS). In production the list defaults to the host
      of ENGAGE_BASE_URL; in development there is no check unless ENGAGE_ALLOWED_HOSTS
      is set.
    - Production cookies carry the __Host- prefix and are Secure, Path=/, no Domain.
    """
    config = app.config
    proxies = int(config.get("ENGAGE_TRUSTED_PROXIES") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=0, x_port=0, x_prefix=0
        )

    hosts = allowed_hosts(config)
    if hosts:

        def refuse_other_hosts():
            if request.endpoint in ANY_HOST_ENDPOINTS:
                return None
            if host_is_trusted(request.host, hosts):
                return None
            log.warning("refused a request for host %r", request.host[:200])
            if is_api_request():
                return problem(
                    400, "This site does not answer for that address. Check the web address."
                )
            # Rendered as for a visitor: no session or database is looked at.
            from engage.extensions import login

            g._login_user = login.anonymous_user()
            return _error_page(
                400,
                _("This site does not answer for that address"),
                _("This site does not answer for that address. Check the web address."),
            )

        # First of all: before rate limits, sign-in or the view see the request.
        app.before_request_funcs.setdefault(None, []).insert(0, refuse_other_hosts)

    if config.get("ENGAGE_ENV") == "production":
        config.update(HOST_COOKIES)
        for prefix in ("SESSION_COOKIE", "REMEMBER_COOKIE"):
            config[f"{prefix}_SECURE"] = True
            config[f"{prefix}_PATH"] = "/"
            config[f"{prefix}_DOMAIN"] = None
