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
from config.settings import CACHES, Q_CLUSTER, REST_FRAMEWORK

# The test client speaks plain HTTP.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0

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

# No test is throttled by accident: the throttle tests set their own rates.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000/min"),
}
