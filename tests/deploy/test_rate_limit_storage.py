"""Rate limits are counted where every node sees them: in Redis when there is one (REDIS_URL),
unless RATELIMIT_STORAGE_URI names a store explicitly; in the process's memory only without Redis.
tests/deploy/test_multi_node.py shows two servers adding up their counts through it."""

from __future__ import annotations

import pytest

from academy.config import load_config

pytestmark = pytest.mark.no_db


@pytest.fixture
def environment(monkeypatch):
    for name in ("REDIS_URL", "RATELIMIT_STORAGE_URI", "ACADEMY_ENV"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_redis_limits_are_counted_in_memory(environment):
    assert load_config()["RATELIMIT_STORAGE_URI"] == "memory://"


def test_with_redis_limits_are_counted_in_redis(environment):
    environment.setenv("REDIS_URL", "redis://redis.internal:6379/3")
    assert load_config()["RATELIMIT_STORAGE_URI"] == "redis://redis.internal:6379/3"


@pytest.mark.parametrize("explicit", ["redis://limits.internal:6379/1", "memcached://cache:11211"])
def test_an_explicit_rate_limit_store_wins(environment, explicit):
    environment.setenv("REDIS_URL", "redis://redis.internal:6379/3")
    environment.setenv("RATELIMIT_STORAGE_URI", explicit)
    assert load_config()["RATELIMIT_STORAGE_URI"] == explicit


def test_an_empty_rate_limit_store_setting_means_not_set(environment):
    # As an orchestrator writes a variable it was given no value for.
    environment.setenv("REDIS_URL", "redis://redis.internal:6379/3")
    environment.setenv("RATELIMIT_STORAGE_URI", "")
    assert load_config()["RATELIMIT_STORAGE_URI"] == "redis://redis.internal:6379/3"
