"""Django settings for planner. Every value comes from the environment (docs/configuration.md)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from config.env import BASE_DIR, env

DEBUG = env.bool("DEBUG", default=False)

# A development key is only acceptable while DEBUG is on; production must set its own.
_DEV_SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production"
SECRET_KEY = env("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for local development).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # DRF's plain-text keys: no longer an authentication class; kept so that
    # `manage.py hash_api_keys` can move the keys issued before knox (see docs/api.md).
    "rest_framework.authtoken",
    # API keys stored as a digest only (knox, named "API keys (bots)" in the admin).
    "planner.apps.ApiKeysConfig",
    "drf_spectacular",
    # Swagger UI's files, served from here: /v1/docs/ needs no CDN.
    "drf_spectacular_sidecar",
    "django_q",
    # /metrics (request and database metrics) and /healthz (`manage.py health_check`).
    "django_prometheus",
    "health_check",
    # The admin login's lockout (see AXES_* below); before planner, whose admin keeps its
    # pages to superusers.
    "axes",
    "planner",
    "todoist_sync",
]

MIDDLEWARE = [
    # First and last: the request metrics time everything in between.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "planner.middleware.RejectNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After CSRF's check: reads the admin's action posts.
    "planner.middleware.AdminActionSelectionMiddleware",
    # Turns a login refused for too many failures into the lockout answer (429).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username and address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the qcluster worker write at once: IMMEDIATE transactions and WAL
    # avoid most "database is locked" errors (Django's SQLite notes). PostgreSQL is for production.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
# django-prometheus's wrapper of the same engine counts connections, queries and their errors.
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
    "django.db.backends.", "django_prometheus.db.backends.", 1
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))

# Security: secure by default whenever DEBUG is off, so `check --deploy` is clean in production.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
# Probes and scrapers speak plain HTTP inside the network; a redirect would not protect a
# scraper's token anyway (it was sent before the redirect).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]

# The cache holds the API's throttle counts. LocMem is per process: each gunicorn worker and
# each machine counts on its own, so a limit is only exact with REDIS_URL (shared by all).
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "planner",
        }
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # django-q2's ORM broker keeps each cluster's heartbeat in a cache: one the web process
        # can read too (/healthz), in files on this machine. With REDIS_URL it is in Redis.
        "django_q": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env("Q_STATUS_DIR", default=str(BASE_DIR / "var" / "qcluster-status")),
        },
    }

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # knox keys (`manage.py create_api_key`), sent as `Authorization: Token <key>`.
        "planner.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Views name their scope (`throttle_scope`); only writes count against it. Anonymous
    # callers, failed logins included, count against "anon" per address.
    "DEFAULT_THROTTLE_CLASSES": [
        "planner.api.throttling.ScopedWriteRateThrottle",
        "planner.api.throttling.AnonRateThrottle",
    ],
    # DRF's rates ("120/min"); an empty one turns that limit off (DRF's None).
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="30/min") or None,
        "tasks.write": env("API_THROTTLE_TASK_WRITES", default="120/min") or None,
        "todoist_sync.trigger": env("API_THROTTLE_SYNC_TRIGGERS", default="12/min") or None,
        "todoist_sync.token_check": env("API_THROTTLE_TOKEN_CHECKS", default="5/min") or None,
    },
    # The client address is REMOTE_ADDR; behind N proxies, the Nth address from the right of
    # X-Forwarded-For. DRF's default (None) trusts the whole header, which a client can forge.
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=0),
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "planner.api.exceptions.exception_handler",
}

# The login lockout (django-axes; the admin's login is the only password login). After
# ADMIN_LOGIN_FAILURE_LIMIT failed logins for one username from one client address, that
# username is refused from that address for ADMIN_LOGIN_LOCKOUT_MINUTES after the last counted
# failure (attempts while locked out are not counted: they neither extend the lockout nor grow
# its row). The same username from elsewhere, and other usernames from there, still log in.
# django-axes writes its defaults into django.conf.settings at import; these are ours.
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
_LOCKOUT_MINUTES = env.int("ADMIN_LOGIN_LOCKOUT_MINUTES", default=30)
if AXES_FAILURE_LIMIT < 1 or _LOCKOUT_MINUTES < 1:
    raise ImproperlyConfigured(
        "ADMIN_LOGIN_FAILURE_LIMIT and ADMIN_LOGIN_LOCKOUT_MINUTES are whole numbers, 1 or more."
    )
AXES_COOLOFF_TIME = timedelta(minutes=_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_HTTP_RESPONSE_CODE = 429
AXES_COOLOFF_MESSAGE = (
    f"Too many failed logins for this username from your address: try again in "
    f"{_LOCKOUT_MINUTES} minute{'' if _LOCKOUT_MINUTES == 1 else 's'}."
)
# The client address as the API's throttles and /metrics see it: REMOTE_ADDR, or with
# API_NUM_PROXIES set, that many from the right of X-Forwarded-For (never what a client wrote
# there itself).
AXES_CLIENT_IP_CALLABLE = "planner.api.throttling.client_address"
AXES_VERBOSE = False  # no banner at every start of every process

# API keys: a bot runs unattended, so its key does not expire (revoke it in the admin or with
# a new key). Clients keep sending `Authorization: Token <key>`.
REST_KNOX = {"AUTH_HEADER_PREFIX": "Token", "TOKEN_TTL": None, "AUTO_REFRESH": False}

# The schema and docs page describe every endpoint: callers with a key only, unless opened.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=False)

SPECTACULAR_SETTINGS = {
    "TITLE": "Planner API",
    "DESCRIPTION": "Tasks for the planner's Telegram bot, and their one-way sync to Todoist.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from drf-spectacular-sidecar's static files, not a CDN; no validator badge
    # (it would send the schema's address to validator.swagger.io).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SERVE_PERMISSIONS": ["planner.api.permissions.DocsPermission"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "planner.api.schema.add_error_responses",
    ],
}

# django-q2: the ORM broker on the default database unless REDIS_URL is set. `retry` must
# exceed `timeout`, or a long job is delivered twice (django-q2 docs).
Q_CLUSTER = {
    "name": "planner",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=300),
    "retry": env.int("Q_RETRY", default=360),
    # Our job is idempotent: a job whose worker died is delivered again after `retry`.
    "max_attempts": 3,
    # Each cluster prefetches no more jobs than it has workers: a killed cluster loses what it
    # prefetched (the Redis broker does not deliver it again), so keep that small.
    "queue_limit": env.int("Q_WORKERS", default=2),
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 500,
    "sync": env.bool("Q_SYNC", default=False),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["cache"] = "django_q"  # where clusters write their heartbeat (see CACHES)

# Todoist sync (read through todoist_sync.conf, never directly).
TODOIST_API_URL = env("TODOIST_API_URL", default="https://api.todoist.com/api/v1")
TODOIST_API_TOKEN = env("TODOIST_API_TOKEN", default="")
TODOIST_TOKEN_ENCRYPTION_KEY = env("TODOIST_TOKEN_ENCRYPTION_KEY", default="")
# Comma-separated: the first encrypts, every one decrypts (rotation); before the one above.
TODOIST_TOKEN_ENCRYPTION_KEYS = env.list("TODOIST_TOKEN_ENCRYPTION_KEYS", default=[])
# The other TODOIST_* settings take their defaults from todoist_sync/conf.py; any of them can
# be given in the environment too (its type is the default's type).
_TODOIST_FROM_ENV = {
    "TODOIST_SYNC_ON_CHANGE": env.bool,
    "TODOIST_USE_BATCH": env.bool,
    "TODOIST_RECREATE_DELETED": env.bool,
    "TODOIST_CLOSE_ARCHIVED": env.bool,
    "TODOIST_BLOCKED_LABEL": env.str,
    "TODOIST_DRIFT_POLICY": env.str,
    "TODOIST_BATCH_SIZE": env.int,
    "TODOIST_RETRY_MAX_ATTEMPTS": env.int,
    "TODOIST_RATE_LIMIT_REQUESTS": env.int,
    "TODOIST_RATE_LIMIT_USER_REQUESTS": env.int,
    "TODOIST_RUN_RETENTION_DAYS": env.int,
    # Usernames (comma-separated) the shared TODOIST_API_TOKEN syncs, or "*": nobody unless set.
    "TODOIST_SHARED_TOKEN_USERS": env.str,
    "TODOIST_SHARED_PROJECT_NAME": env.str,
    "TODOIST_PROJECT_NAME": env.str,
    "TODOIST_SYNC_DEBOUNCE_SECONDS": env.float,
    # OAuth connect and webhooks (docs/connecting-todoist.md): all three, or none.
    "TODOIST_CLIENT_ID": env.str,
    "TODOIST_CLIENT_SECRET": env.str,
    "TODOIST_OAUTH_URL": env.str,
    "TODOIST_OAUTH_REDIRECT_URL": env.str,
    "TODOIST_RECONCILE_HOURS": env.float,
    "TODOIST_SAFETY_NET_MINUTES": env.int,
    "TODOIST_MAX_ROUNDS": env.int,
    "TODOIST_CONNECT_TIMEOUT": env.float,
    "TODOIST_READ_TIMEOUT": env.float,
    "TODOIST_RETRY_BASE_SECONDS": env.float,
    "TODOIST_RETRY_CAP_SECONDS": env.float,
    "TODOIST_LEASE_SECONDS": env.float,
    "TODOIST_RATE_LIMIT_WINDOW": env.float,
    "TODOIST_RATE_LIMIT_MAX_WAIT": env.float,
    "TODOIST_QUEUED_STALE_SECONDS": env.float,
}
for _name, _read in _TODOIST_FROM_ENV.items():
    if _name in env.ENVIRON:
        globals()[_name] = _read(_name)

# Operating it (docs/operations.md): /metrics for Prometheus, to a bearer token or to these
# addresses (or networks); with neither set it answers 404.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
for _allowed in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_allowed, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: {_allowed!r} is not an address or a network."
        ) from None
# django-prometheus: no migration metrics (a database query at every start).
PROMETHEUS_EXPORT_MIGRATIONS = False

# LOG_FORMAT=json: one JSON object per line (python-json-logger), with the sync run's job,
# run and user ids on the lines logged during a run.
LOG_FORMAT = env("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT is 'plain' or 'json'.")
_Q_LOG_LEVEL = env("Q_LOG_LEVEL", default="WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601, UTC
        },
    },
    "filters": {"sync_run": {"()": "todoist_sync.metrics.RunLogFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["sync_run"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # django-q2 logs as "django-q"; "django_q" kept for any module logging by its name.
        "django-q": {"level": _Q_LOG_LEVEL, "propagate": True},
        "django_q": {"level": _Q_LOG_LEVEL, "propagate": True},
        # django-axes: failed logins and lockouts are warnings; its INFO lines come with every
        # login, successful ones included.
        "axes": {"level": env("AXES_LOG_LEVEL", default="WARNING"), "propagate": True},
    },
}
