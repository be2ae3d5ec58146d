"""The one caching primitive (engage.caching)."""

import pytest

from engage import caching


def test_named_cache_keeps_within_its_lifetime_and_drops_after(monkeypatch):
    clock = [100.0]
    cache = caching.NamedCache("test_clock", maxsize=4, seconds=10)
    cache._data = caching.TTLCache(maxsize=4, ttl=10, timer=lambda: clock[0])
    cache.set("a", 1)
    clock[0] += 9
    assert cache.get("a") == 1
    clock[0] += 2
    assert cache.get("a") is None


def test_zero_lifetime_never_keeps():
    cache = caching.NamedCache("test_zero", maxsize=4, seconds=0)
    cache.set("a", 1)
    assert cache.get("a") is None
    calls = []
    assert cache.get_or_make("a", lambda: calls.append(1) or 5) == 5
    assert cache.get_or_make("a", lambda: calls.append(1) or 5) == 5
    assert len(calls) == 2


def test_size_bound_drops_least_recently_used():
    cache = caching.NamedCache("test_lru", maxsize=2, seconds=None)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1
    cache.set("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)


def test_environment_overrides_the_lifetime(monkeypatch):
    monkeypatch.setenv("ENGAGE_CACHE_TEST_ENV_SECONDS", "7")
    cache = caching.named_cache("test_env", maxsize=2, seconds=60)
    assert cache.seconds == 7
    assert caching.LIFETIMES["test_env"] == 7
    assert caching.named_cache("test_env", maxsize=2, seconds=60) is cache


def test_negative_lifetime_is_refused(monkeypatch):
    monkeypatch.setenv("ENGAGE_CACHE_TEST_NEG_SECONDS", "-1")
    with pytest.raises(ValueError, match="0 or more"):
        caching.lifetime("test_neg", 5)


def test_memoize_calls_once_per_key_and_clear_all_forgets():
    calls = []

    @caching.memoize("test_memo", maxsize=8)
    def square(x, *, plus=0):
        calls.append(x)
        return x * x + plus

    assert square(3) == 9 and square(3) == 9
    assert square(3, plus=1) == 10
    assert calls == [3, 3]
    caching.clear_all()
    assert square(3) == 9
    assert calls == [3, 3, 3]
    assert "test_memo" in caching.registered()
