"""The public page store: public pages served from memory until what they show changes
(issue #9).

A low package: it imports no domain. Each domain registers, beside its models, what
public pages show of it (``shown`` for models any change of which matters,
``shown_attributes`` for a model shown only through some columns), much as Warehouse
registers the cache keys a model purges; the store then watches every flush for those.

Two rules keep a cached page correct:

- ``PublicState.version`` moves in the same transaction as every change to what the
  public pages show: a response (wording, status, themes, linked items, milestones,
  votes), an engagement, a theme, a concern's ``hidden`` flag or response link, or a
  feedback item's status or engagement (public counts of people leave spam out), its
  redacted copy or its author's consent to be quoted (public quotes). A
  page is stored under the version read *before* it was made, so it is never older
  than its key; once a change commits, every page made before it is a miss.
- A page is stored only when it is the same for every visitor: a GET with nobody
  signed in and no flash message waiting. The one per-visitor part, the CSRF token
  of the engagement page's form, is cut out before storing and put back per request.

New feedback does not move the version (in a busy week it arrives many times a
second); pages that count feedback, such as an engagement's figures, are stored for
at most ``ENGAGE_FIGURES_MAX_AGE`` seconds and say when they were counted. Every page
expires after ``ENGAGE_PAGE_CACHE_MAX_AGE`` seconds too, a safety net for a change
made outside the ORM (code that writes with SQL calls ``public_changed()``).

Its settings (``ENGAGE_PAGE_CACHE``, ``ENGAGE_PAGE_CACHE_MAX_AGE``,
``ENGAGE_FIGURES_MAX_AGE``, ``ENGAGE_PAGE_CACHE_ENTRIES``, ``ENGAGE_PAGE_CACHE_MAX_BYTES``,
``ENGAGE_PAGE_VERSION_MAX_AGE``) and their defaults live in one place,
``engage.config.from_environment``; this module only reads them from the app's config.
The pages are kept in a store of its own (``PageStore``, least recently used dropped
first) rather than an ``engage.caching`` cache because it is bounded by bytes as well as
by count; the version last read is kept in an ``engage.caching`` cache named
``public_state`` whose lifetime is ``ENGAGE_PAGE_VERSION_MAX_AGE``.

Each worker process keeps its own store, bounded to ``ENGAGE_PAGE_CACHE_ENTRIES``
pages of at most ``MAX_BODY`` bytes each and to ``ENGAGE_PAGE_CACHE_MAX_BYTES``
bytes in all (bodies, headers and keys), least recently used dropped first: junk query
strings can fill it but never grow it (issue #20). Nothing stored depends on the
request's Host: absolute URLs come from ENGAGE_BASE_URL (engage.web.public_url). A
page is kept once per interface language: the locale is part of its key (engage.i18n).
Shareable pages carry an ETag and Last-Modified, so browsers and feed readers
revalidate with a 304.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

from flask import Flask, current_app, has_app_context, request, session
from flask import Response as HttpResponse
from flask_wtf.csrf import generate_csrf
from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session

from engage.caching import NamedCache
from engage.extensions import db
from engage.i18n import current_code
from engage.pagecache.models import PublicState
from engage.util import utcnow

MAX_BODY = 1_000_000
# Stands in for the visitor's CSRF token in a stored page; cannot occur in a token.
_HOLE = b"\x00engage-csrf-token\x00"


_READ_STATE = select(PublicState.version, PublicState.changed_at).where(PublicState.id == 1)


@dataclass(frozen=True)
class State:
    """The version of the public data and when it last changed."""

    version: int
    changed_at: datetime | None


def current_state() -> State:
    """The version of the public data: read at most once a request, and once in
    ENGAGE_PAGE_VERSION_MAX_AGE seconds by this process (a change committed here is
    seen at once; one committed by another process within that time)."""
    # Kept on the request, not on g: an app context can outlive several requests.
    environ = request.environ
    if "engage.public_state" not in environ:
        pages = store()
        max_age = current_app.config["ENGAGE_PAGE_VERSION_MAX_AGE"]
        state = pages.recent_state(max_age)
        if state is None:
            # On the session's connection, without the ORM: this runs for stored pages.
            row = db.session.connection().execute(_READ_STATE).first()
            state = State(*row) if row else State(0, None)
            pages.remember_state(state, max_age)
        environ["engage.public_state"] = state
    return environ["engage.public_state"]


def public_changed(session: Session | None = None) -> None:
    """Move the version on, in the caller's transaction (for writes made with SQL)."""
    connection = (session or db.session).connection()
    now = utcnow()
    moved = connection.execute(
        update(PublicState)
        .where(PublicState.id == 1)
        .values(version=PublicState.version + 1, changed_at=now)
    )
    if moved.rowcount == 0:  # a database made with create_all(), not the migrations
        connection.execute(insert(PublicState).values(id=1, version=1, changed_at=now))
    # One move per transaction is enough (the row stays locked until it ends); when it
    # ends, this process reads the version again.
    (session or db.session).info["public_changed_in_transaction"] = True


# What public pages show, registered by the domains that own it (see shown() and
# shown_attributes()). Kept as a tuple and a dict: they are asked on every flush.
_shown: tuple[type, ...] = ()
_shown_attributes: dict[type, tuple[str, ...]] = {}


def shown(*models: type) -> None:
    """Register models that public pages show: adding, changing or deleting any row of
    them moves the public version. Each domain calls this beside its models."""
    global _shown
    _shown = _shown + tuple(model for model in models if model not in _shown)


def shown_attributes(model: type, *names: str) -> None:
    """Register a model public pages show only through ``names`` (feedback items appear
    as counts): a change to one of those attributes of a stored row moves the version;
    new rows and other changes do not."""
    _shown_attributes[model] = tuple(dict.fromkeys((*_shown_attributes.get(model, ()), *names)))


def _changes_public_data(session: Session) -> bool:
    shown_models = _shown
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, shown_models):
            return True
    for obj in session.dirty:
        if isinstance(obj, shown_models) and session.is_modified(obj):
            return True
        names = _shown_attributes.get(type(obj))
        if names and not inspect(obj).pending:
            state = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in names):
                return True
    return False


def _before_flush(session: Session, flush_context, instances) -> None:
    if session.info.get("public_changed_in_transaction"):
        return
    if _changes_public_data(session):
        public_changed(session)


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is not None:
        return
    changed = session.info.pop("public_changed_in_transaction", None)
    if changed and has_app_context() and "engage.page_store" in current_app.extensions:
        store().forget_state()


@dataclass(frozen=True)
class CachedPage:
    """A stored page: its body (with the CSRF token cut out) and what to send with it."""

    body: bytes
    headers: tuple[tuple[str, str], ...]
    etag: str
    stored_at: float
    has_hole: bool

    @property
    def size(self) -> int:
        """Roughly the bytes this page holds: its body and headers, plus overhead."""
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 256


def _key_size(key: tuple) -> int:
    return sum(len(part) if isinstance(part, str | bytes) else 16 for part in key) + 64


class PageStore:
    """A thread-safe store of pages bounded by count and by total bytes, least
    recently used dropped first."""

    def __init__(self, entries: int, max_bytes: int | None = None):
        self.entries = entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._pages: OrderedDict[tuple, CachedPage] = OrderedDict()
        self._sizes: dict[tuple, int] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        # The version last read, kept for ENGAGE_PAGE_VERSION_MAX_AGE seconds (an
        # engage.caching cache, made again when that setting changes).
        self._state = NamedCache("public_state", maxsize=1, seconds=0)

    def _state_memo(self, max_age: float) -> NamedCache:
        memo = self._state
        if memo.seconds != max_age:
            memo = self._state = NamedCache("public_state", maxsize=1, seconds=max_age)
        return memo

    def recent_state(self, max_age: float) -> State | None:
        """The version read less than ``max_age`` seconds ago, if any."""
        return self._state_memo(max_age).get("state")

    def remember_state(self, state: State, max_age: float) -> None:
        self._state_memo(max_age).set("state", state)

    def forget_state(self) -> None:
        """This process changed public data: read the version afresh."""
        self._state.pop("state")

    def get(self, key: tuple, max_age: float) -> CachedPage | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None and time.monotonic() - page.stored_at < max_age:
                self._pages.move_to_end(key)
                self.hits += 1
                return page
            if page is not None:
                self._drop(key)
            self.misses += 1
            return None

    def put(self, key: tuple, page: CachedPage) -> None:
        size = page.size + _key_size(key)
        with self._lock:
            if self.max_bytes is not None and size > self.max_bytes:
                return  # larger than the whole store: not worth emptying it for
            if key in self._pages:
                self._drop(key)
            self._pages[key] = page
            self._sizes[key] = size
            self.bytes += size
            while len(self._pages) > self.entries or (
                self.max_bytes is not None and self.bytes > self.max_bytes
            ):
                self._drop(next(iter(self._pages)))

    def _drop(self, key: tuple) -> None:
        """Forget one page (the caller holds the lock)."""
        del self._pages[key]
        self.bytes -= self._sizes.pop(key)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._sizes.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._pages)


def store() -> PageStore:
    """This app's page store (one per worker process)."""
    return current_app.extensions["engage.page_store"]


def _shareable() -> bool:
    """Is this request's page the same for every visitor?"""
    if request.method not in ("GET", "HEAD") or not current_app.config["ENGAGE_PAGE_CACHE"]:
        return False
    # Staff see their account in the header; a flash message is for one visitor.
    return "_user_id" not in session and not session.get("_flashes")


_SKIPPED_HEADERS = {"content-length", "set-cookie", "etag", "last-modified", "cache-control"}


def _store_page(response: HttpResponse, *, csrf: bool) -> CachedPage | None:
    if response.status_code != 200 or response.direct_passthrough or response.is_streamed:
        return None
    body = response.get_data()
    if len(body) > MAX_BODY:
        return None
    has_hole = False
    if csrf and current_app.config.get("WTF_CSRF_ENABLED", True):
        token = generate_csrf().encode()
        has_hole = token in body
        body = body.replace(token, _HOLE)
    headers = tuple(
        (k, v) for k, v in response.headers.items() if k.lower() not in _SKIPPED_HEADERS
    )
    return CachedPage(
        body=body,
        headers=headers,
        etag=hashlib.sha256(body).hexdigest()[:32],
        stored_at=time.monotonic(),
        has_hole=has_hole,
    )


def cached_page(*, counts_feedback: bool = False, csrf: bool = False) -> Callable:
    """Serve a public GET view from the page store while the public data is unchanged.

    ``counts_feedback``: the page shows counts of feedback, which move without the
    version: keep it at most ENGAGE_FIGURES_MAX_AGE seconds. ``csrf``: the page holds a
    form; each visitor gets their own token in the stored page, and it is never marked
    for shared caches.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            if not _shareable():
                return view(*args, **kwargs)
            config = current_app.config
            max_age = config["ENGAGE_PAGE_CACHE_MAX_AGE"]
            if counts_feedback:
                max_age = min(max_age, config["ENGAGE_FIGURES_MAX_AGE"])
            state = current_state()
            # The page's language is part of its key: the same URL is served in the
            # language of the visitor's cookie or Accept-Language (engage.i18n).
            key = (
                request.endpoint,
                request.full_path,
                current_code(),
                state.version,
                utcnow().date(),
            )
            page = store().get(key, max_age) if max_age > 0 else None
            if page is None:
                response = current_app.make_response(view(*args, **kwargs))
                page = _store_page(response, csrf=csrf)
                if page is None:
                    return response
                if max_age > 0:
                    store().put(key, page)
            body = page.body
            if page.has_hole:
                body = body.replace(_HOLE, generate_csrf().encode())
            response = HttpResponse(body, status=200, headers=list(page.headers))
            if csrf:
                # A form's token belongs to one visitor: no shared cache may keep it.
                response.headers["Cache-Control"] = "private, no-cache"
                return response
            response.headers["Cache-Control"] = "public, no-cache"
            response.set_etag(page.etag)
            if state.changed_at is not None and not counts_feedback:
                response.last_modified = state.changed_at
            return response.make_conditional(request)

        return wrapper

    return decorate


def init_app(app: Flask) -> None:
    """Give the app its page store and track changes to public data (the settings and
    their defaults come from engage.config)."""
    app.extensions["engage.page_store"] = PageStore(
        app.config["ENGAGE_PAGE_CACHE_ENTRIES"], app.config["ENGAGE_PAGE_CACHE_MAX_BYTES"]
    )
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_transaction_end", _after_transaction_end)
