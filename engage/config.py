"""Settings read from the environment.

Every setting has a safe default for a developer's machine; production overrides
them with environment variables (see README and .env.example).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_number(name: str, default, kind=int, what: str = "a whole number"):
    """The variable ``name`` read as ``kind`` (int or float), or ``default`` when unset."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be {what}, got {value!r}") from exc


def _env_int(name: str, default: int) -> int:
    return _env_number(name, default)


def _env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def instance_path() -> Path:
    """Return the instance folder (SQLite DB, secret key, model files)."""
    configured = os.environ.get("ENGAGE_INSTANCE_PATH")
    if configured:
        return Path(configured).expanduser().resolve()
    return (Path(__file__).resolve().parent.parent / "instance").resolve()


def database_url(instance: Path) -> str:
    """Return DATABASE_URL, or a SQLite file in the instance folder; validate it."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{instance / 'engage.db'}"
    if url.startswith("postgres://"):  # Heroku-style URLs
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            "DATABASE_URL is not a valid database URL "
            "(expected e.g. postgresql+psycopg://user@host:5432/engage or sqlite:///path.db)"
        ) from exc
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(
            f"DATABASE_URL names an unsupported database {parsed.get_backend_name()!r}; "
            "use postgresql+psycopg:// or sqlite://"
        )
    return url


def secret_key(instance: Path) -> str:
    """Return SECRET_KEY from the environment, else one kept in the instance folder."""
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Create with owner-only permissions before writing the secret.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def retention_days() -> int:
    """ENGAGE_RETENTION_DAYS: how long feedback keeps its personal details (default 730)."""
    days = _env_int("ENGAGE_RETENTION_DAYS", 730)
    if days < 1:
        raise ConfigError(f"ENGAGE_RETENTION_DAYS must be 1 or more, got {days}")
    return days


def default_base_url() -> str:
    """The address `engage run` serves on when ENGAGE_BASE_URL is not set.

    `make run` passes its HOST and PORT as FLASK_RUN_HOST and FLASK_RUN_PORT (which
    `engage run` listens on), so links in emails sent locally reach the local site.
    """
    host = os.environ.get("FLASK_RUN_HOST", "").strip() or "127.0.0.1"
    if host in {"0.0.0.0", "::", "[::]"}:  # noqa: S104  # nosec B104 (compared, not bound)
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = os.environ.get("FLASK_RUN_PORT", "").strip() or "5000"
    return f"http://{host}:{port}"


def _env_list(name: str) -> list[str]:
    """A comma-separated variable as a list of its non-empty, trimmed values."""
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def _bare_address(value: str) -> str:
    """The address in ``Name <address>`` (or a bare address), lower-cased."""
    return value.rpartition("<")[2].rstrip(">").strip().lower()


def noreply_sender(default_sender: str, feedback_address: str) -> str:
    """MAIL_NOREPLY_SENDER: the From of every email the site sends, which is not read.

    Default: no-reply@ the domain of MAIL_DEFAULT_SENDER. It must differ from the
    feedback address, or residents would be told replies are lost by the very
    address they are told to write to.
    """
    domain = _bare_address(default_sender).rpartition("@")[2] or "localhost"
    value = os.environ.get("MAIL_NOREPLY_SENDER", "").strip() or f"no-reply@{domain}"
    address = _bare_address(value)
    if "@" not in address:
        raise ConfigError(f"MAIL_NOREPLY_SENDER must be an email address, got {value!r}")

    def mailbox(bare: str) -> str:  # engage+brent@x and engage@x are one mailbox
        local, _, domain = bare.rpartition("@")
        return f"{local.partition('+')[0]}@{domain}"

    if mailbox(address) == mailbox(_bare_address(feedback_address)):
        raise ConfigError(
            "MAIL_NOREPLY_SENDER must not be ENGAGE_FEEDBACK_ADDRESS: replies to it are not "
            "read, and residents send feedback to the other"
        )
    return value


def _base_url(value: str) -> str:
    """ENGAGE_BASE_URL without its trailing slash; ConfigError unless it is an absolute
    http(s) address with a host and no query or fragment ("example.org" alone would make
    every link in emails and feeds relative, and broken)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            "ENGAGE_BASE_URL must be an absolute address such as https://engage.example.nhs.uk "
            f"(scheme and host, no query), got {value!r}"
        )
    return value.rstrip("/")


def from_environment() -> dict:
    """Build the Flask config mapping from environment variables."""
    instance = instance_path()
    instance.mkdir(parents=True, exist_ok=True)
    production = os.environ.get("ENGAGE_ENV", "development").lower() == "production"
    mail_port = _env_int("MAIL_PORT", 25)
    proxies = _env_int("ENGAGE_TRUSTED_PROXIES", 0)
    if proxies < 0:
        raise ConfigError(f"ENGAGE_TRUSTED_PROXIES must be 0 or more, got {proxies}")
    log_format = os.environ.get("ENGAGE_LOG_FORMAT", "").strip().lower() or "text"
    if log_format not in {"text", "json"}:
        raise ConfigError(f"ENGAGE_LOG_FORMAT must be text or json, got {log_format!r}")
    log_level = os.environ.get("ENGAGE_LOG_LEVEL", "").strip().upper() or "INFO"
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError(
            f"ENGAGE_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {log_level!r}"
        )
    worker_metrics_port = _env_int("ENGAGE_WORKER_METRICS_PORT", 0)
    if not 0 <= worker_metrics_port <= 65535:
        raise ConfigError(
            f"ENGAGE_WORKER_METRICS_PORT must be a port number, got {worker_metrics_port}"
        )
    if production and not os.environ.get("ENGAGE_BASE_URL", "").strip():
        raise ConfigError(
            "ENGAGE_BASE_URL must be set in production (e.g. https://engage.example.nhs.uk): "
            "every link the site writes starts with it, and it names the host served"
        )
    redis_url = os.environ.get("REDIS_URL", "").strip() or None
    if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"REDIS_URL must be a redis://, rediss:// or unix:// address, got {redis_url!r}"
        )
    base_url = _base_url(os.environ.get("ENGAGE_BASE_URL", "").strip() or default_base_url())
    feedback_address = os.environ.get("ENGAGE_FEEDBACK_ADDRESS", "engage@engage.example.org")
    default_sender = os.environ.get("MAIL_DEFAULT_SENDER", "engage@engage.example.org")
    return {
        "ENGAGE_ENV": "production" if production else "development",
        "ENGAGE_INSTANCE_PATH": str(instance),
        "SECRET_KEY": secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": database_url(instance),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Every absolute URL the site writes starts with this, never with the request's
        # Host (engage.web.public_url).
        "ENGAGE_BASE_URL": base_url,
        # Host names requests may be for (production: the host of ENGAGE_BASE_URL when
        # empty); other hosts are refused with a 400. See engage.deployment.configure_deployment.
        "ENGAGE_ALLOWED_HOSTS": _env_list("ENGAGE_ALLOWED_HOSTS"),
        # How many proxies in front set X-Forwarded-For / X-Forwarded-Proto (ProxyFix).
        "ENGAGE_TRUSTED_PROXIES": proxies,
        "ENGAGE_ORGANISATION": os.environ.get("ENGAGE_ORGANISATION", "NHS North West London"),
        "ENGAGE_FEEDBACK_ADDRESS": feedback_address,
        "ENGAGE_MODEL_DIR": os.environ.get("ENGAGE_MODEL_DIR", str(instance / "models")),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "localhost"),
        "MAIL_PORT": mail_port,
        "MAIL_USE_TLS": _env_bool("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _env_bool("MAIL_USE_SSL", False),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        # The envelope sender (Return-Path: where bounces go) of every email.
        "MAIL_DEFAULT_SENDER": default_sender,
        # The From of every email; no Reply-To, and replies are not read (README, Emails).
        "MAIL_NOREPLY_SENDER": noreply_sender(default_sender, feedback_address),
        "MAIL_TIMEOUT": _env_int("MAIL_TIMEOUT", 30),
        "IMAP_HOST": os.environ.get("IMAP_HOST") or None,
        "IMAP_PORT": _env_int("IMAP_PORT", 993),
        "IMAP_USER": os.environ.get("IMAP_USER") or None,
        "IMAP_PASSWORD": os.environ.get("IMAP_PASSWORD") or None,
        "IMAP_FOLDER": os.environ.get("IMAP_FOLDER", "INBOX"),
        "IMAP_USE_SSL": _env_bool("IMAP_USE_SSL", True),
        "INBOUND_MAX_BYTES": _env_int("INBOUND_MAX_BYTES", 10 * 1024 * 1024),
        "INBOUND_EMAIL_TOKEN": os.environ.get("INBOUND_EMAIL_TOKEN") or None,
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_ENABLED": _env_bool("RATELIMIT_ENABLED", True),
        # Sign-in posts (password, code, re-authentication) per client address.
        "ENGAGE_SIGN_IN_LIMIT": os.environ.get("ENGAGE_SIGN_IN_LIMIT", "10 per minute"),
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", production),
        "MAX_CONTENT_LENGTH": _env_int("MAX_CONTENT_LENGTH", 12 * 1024 * 1024),
        # `engage purge` removes personal details from feedback older than this.
        "ENGAGE_RETENTION_DAYS": retention_days(),
        # Classify and acknowledge new feedback in the worker, in batches, not in the
        # request that stored it (off: in the request; the worker still retries).
        "ENGAGE_POST_COMMIT_IN_WORKER": _env_bool("ENGAGE_POST_COMMIT_IN_WORKER", True),
        # Public pages kept in memory (engage.pagecache): on/off, the longest any page
        # is kept, the longest a page counting feedback is kept, and how many pages.
        "ENGAGE_PAGE_CACHE": _env_bool("ENGAGE_PAGE_CACHE", True),
        "ENGAGE_PAGE_CACHE_MAX_AGE": _env_int("ENGAGE_PAGE_CACHE_MAX_AGE", 300),
        "ENGAGE_FIGURES_MAX_AGE": _env_int("ENGAGE_FIGURES_MAX_AGE", 60),
        "ENGAGE_PAGE_CACHE_ENTRIES": _env_int("ENGAGE_PAGE_CACHE_ENTRIES", 500),
        # ... and how many bytes of pages in all (bodies and headers), per process.
        "ENGAGE_PAGE_CACHE_MAX_BYTES": _env_int("ENGAGE_PAGE_CACHE_MAX_BYTES", 32 * 1024 * 1024),
        # How long a process trusts the version it read (another process's change shows
        # within this time; its own at once). 0: read it on every request.
        "ENGAGE_PAGE_VERSION_MAX_AGE": _env_float("ENGAGE_PAGE_VERSION_MAX_AGE", 1.0),
        # How long each process keeps the inbox's list of areas named on feedback.
        "ENGAGE_INBOX_AREAS_MAX_AGE": _env_float("ENGAGE_INBOX_AREAS_MAX_AGE", 60.0),
        # Operations (engage.observability): `json` writes one JSON object a log line,
        # each with the request id; at this level and above.
        "ENGAGE_LOG_FORMAT": log_format,
        "ENGAGE_LOG_LEVEL": log_level,
        # GET /metrics (Prometheus) answers only with this bearer token; unset: off (404).
        "ENGAGE_METRICS_TOKEN": os.environ.get("ENGAGE_METRICS_TOKEN", "").strip() or None,
        # `engage worker` serves its job timings on 127.0.0.1:<port>; 0: not served.
        "ENGAGE_WORKER_METRICS_PORT": worker_metrics_port,
    }
