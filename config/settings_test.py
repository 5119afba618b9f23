"""Settings for the test suite: the real settings with test-only overrides."""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("TODOIST_API_URL", "https://todoist.test/api/v1")
os.environ.setdefault("TODOIST_API_TOKEN", "test-global-token-0000")
os.environ.setdefault("TODOIST_TOKEN_ENCRYPTION_KEY", "test-encryption-key")

from config.settings import *  # noqa: F403
from config.settings import Q_CLUSTER

# The test client speaks plain HTTP.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# django-q2 reads Q_CLUSTER once at import: jobs run inline in tests unless a test says otherwise.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
