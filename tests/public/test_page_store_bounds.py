"""The public page store is bounded by total bytes per process as well as by entries
(issue #20): 1,200 requests with junk query strings grew a worker by 42 MB."""

from __future__ import annotations

import time

from engage import pagecache as cache
from engage.pagecache import CachedPage, PageStore


def _page(size: int) -> CachedPage:
    return CachedPage(
        body=b"x" * size, headers=(), etag="e", stored_at=time.monotonic(), has_hole=False
    )


def test_the_page_store_keeps_to_its_bytes():
    pages = PageStore(entries=1_000, max_bytes=20_000)
    for n in range(100):
        pages.put(("log", f"/you-said-we-did?junk={n}"), _page(1_000))
    assert pages.bytes <= 20_000
    assert 10 <= len(pages) < 20  # bytes, not entries, were the bound
    # The least recently used went first; the newest is kept.
    assert pages.get(("log", "/you-said-we-did?junk=99"), 60) is not None
    assert pages.get(("log", "/you-said-we-did?junk=0"), 60) is None
    # Storing a key again replaces the page without counting it twice.
    held = pages.bytes
    pages.put(("log", "/you-said-we-did?junk=99"), _page(1_000))
    assert pages.bytes == held
    # A page larger than the whole store is not stored (and empties nothing).
    pages.put(("log", "/huge"), _page(50_000))
    assert pages.get(("log", "/huge"), 60) is None and pages.bytes == held
    pages.clear()
    assert pages.bytes == 0 and len(pages) == 0


def test_the_page_store_still_keeps_to_its_entries():
    pages = PageStore(entries=5, max_bytes=10_000_000)
    for n in range(20):
        pages.put(("k", str(n)), _page(10))
    assert len(pages) == 5


def test_junk_query_strings_cannot_grow_a_process(app, client, make_response, monkeypatch):
    make_response()
    monkeypatch.setattr(cache.store(), "max_bytes", 200_000)
    for n in range(60):
        assert client.get(f"/you-said-we-did?junk={n}{'z' * 200}").status_code == 200
    assert 0 < cache.store().bytes <= 200_000
    assert len(cache.store()) < 60


def test_the_bound_comes_from_the_configuration(app):
    assert cache.store().max_bytes == app.config["ENGAGE_PAGE_CACHE_MAX_BYTES"]
