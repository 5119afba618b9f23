"""Settings of the reuse project: todoist_sync with the `todo` app's `Todo` as its task model.

Only what todoist_sync needs, and no other app of this repository. tests/test_reuse_app.py runs
its tests against the installed wheel; `pytest tests/reuse --ds tests.reuse.settings` runs them
against the tree.
"""

from __future__ import annotations

SECRET_KEY = "reuse-test-only-secret-key-not-for-production-use-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "rest_framework.authtoken",
    "django_q",
    "todoist_sync",
    "tests.reuse.todo",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.reuse.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # The app's one error shape, with a machine `code` (docs/api.md, "Errors: a code for the bot").
    "EXCEPTION_HANDLER": "todoist_sync.api.exceptions.exception_handler",
}

# django-q2 reads Q_CLUSTER once at import: jobs run inline. todoist_sync.E003 wants
# timeout < retry.
Q_CLUSTER = {"name": "reuse", "orm": "default", "timeout": 300, "retry": 360, "sync": True}

# The sync itself: the task model, and a token source (todoist_sync.E001). The tests point
# TODOIST_API_URL at the simulator.
TODOIST_SYNC_TASK_MODEL = "todo.Todo"
TODOIST_API_URL = "https://todoist.test/api/v1"
TODOIST_API_TOKEN = "reuse-global-token-0000"
TODOIST_SHARED_TOKEN_USERS = "*"  # the shared token syncs nobody unless users are opted in
