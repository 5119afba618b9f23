"""Settings for the test suite: the real settings with test-only overrides."""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("TODOIST_API_URL", "https://todoist.test/api/v1")
os.environ.setdefault("TODOIST_API_TOKEN", "test-global-token-0000")
# The shared token syncs nobody by default: the suite's operator opts every user in. The tests
# of the default itself delete the setting (tests/test_tenancy_shared.py).
os.environ.setdefault("TODOIST_SHARED_TOKEN_USERS", "*")
# A Fernet key, as production should have (a short passphrase is todoist_sync.W012).
os.environ.setdefault(
    "TODOIST_TOKEN_ENCRYPTION_KEY", "ib0rQPGSb9zhCwax9j4jvwvqlUKXI0n4RaqmE4cFiNM="
)

from config.settings import *  # noqa: F403
from config.settings import CACHES, DATABASES, Q_CLUSTER, REDIS_URL, REST_FRAMEWORK

# The test client speaks plain HTTP.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0

# On SQLite the test database is in memory, as Django makes it by default; said here because
# pytest-django under xdist (`make test`) otherwise names each worker's database after the file,
# `test_/.../db.sqlite3_gw0`, which cannot be opened. Each worker process has its own memory.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# django-q2 reads Q_CLUSTER once at import: jobs run inline in tests unless a test says otherwise.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
# Cluster heartbeats in this process's memory, not in var/ where a real cluster may write.
if "django_q" in CACHES:
    CACHES = {
        **CACHES,
        "django_q": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "django_q",
        },
    }

# Under pytest-xdist (`make test`) each worker process has a Redis database of its own (gw0: 0,
# gw1: 1, ...; up to 8 workers): `cache.clear()` empties a whole database, and one worker's
# throttle counts (its users have the same ids as another worker's) must not count for another.
# The e2e tests on Redis take their database from here too (`settings.REDIS_URL`).
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL and _XDIST_WORKER:
    from urllib.parse import urlsplit, urlunsplit

    _db = int(_XDIST_WORKER.removeprefix("gw")) % 8
    REDIS_URL = urlunsplit(urlsplit(REDIS_URL)._replace(path=f"/{_db}"))
    CACHES = {**CACHES, "default": {**CACHES["default"], "LOCATION": REDIS_URL}}
    Q_CLUSTER["redis"] = REDIS_URL

# No test is throttled by accident: the throttle tests set their own rates.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000/min"),
}
