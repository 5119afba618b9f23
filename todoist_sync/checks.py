"""System checks of the sync's settings, registered in `TodoistSyncConfig.ready()`.

Plain functions returning `Error`s, as in `django.contrib.sites.checks`: a bad value is reported
by `manage.py check` (and before `runserver` / `migrate`) rather than by the first failing run.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured

from todoist_sync.conf import DoneInTodoist, DriftPolicy, RecurringDone, conf
from todoist_sync.naming import template_problem
from todoist_sync.task_model import SyncStatus, TaskContract, get_task_model
from todoist_sync.tokens import is_fernet_key

# A passphrase shorter than this is taken for a human one: scrypt slows each guess, but a short
# human passphrase is still guessed. A Fernet key is 32 random bytes whatever its length.
MIN_PASSPHRASE_LENGTH = 32

# API versions Todoist has retired; a URL still pointing at one answers 410 Gone.
RETIRED_API_PATHS = ("/rest/v2", "/sync/v9")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_token_source(**kwargs: Any) -> list[CheckMessage]:
    keys = conf.TODOIST_TOKEN_ENCRYPTION_KEYS
    if conf.TODOIST_API_TOKEN or conf.TODOIST_TOKEN_ENCRYPTION_KEY or keys:
        return []
    return [
        Error(
            "No Todoist token source: TODOIST_API_TOKEN and TODOIST_TOKEN_ENCRYPTION_KEY are "
            "both empty, so no sync can run.",
            hint="Set TODOIST_API_TOKEN (one shared token, for the users listed in "
            "TODOIST_SHARED_TOKEN_USERS), or TODOIST_TOKEN_ENCRYPTION_KEY so users can connect "
            "their own tokens (PUT /v1/sync/todoist/token).",
            id="todoist_sync.E001",
        )
    ]


def check_api_url(**kwargs: Any) -> list[CheckMessage]:
    url = conf.TODOIST_API_URL
    hint = "Use https://api.todoist.com/api/v1 (Todoist API v1)."
    if not isinstance(url, str):
        return [Error("TODOIST_API_URL must be a string.", hint=hint, id="todoist_sync.E002")]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [
            Error(
                f"TODOIST_API_URL {url!r} is not an http(s) URL with a host.",
                hint=hint,
                id="todoist_sync.E002",
            )
        ]
    path = parts.path.rstrip("/")
    if any(path == p or path.startswith(p + "/") for p in RETIRED_API_PATHS):
        return [
            Error(
                f"TODOIST_API_URL {url!r} points at a retired Todoist API (it answers 410 Gone).",
                hint=hint,
                id="todoist_sync.E002",
            )
        ]
    return []


def check_queue_timeouts(**kwargs: Any) -> list[CheckMessage]:
    cluster = conf.Q_CLUSTER
    if not isinstance(cluster, dict):
        return []  # django-q2 reports a Q_CLUSTER that is not a dict itself
    timeout, retry = cluster.get("timeout"), cluster.get("retry", 60)  # django-q2's defaults
    if _is_number(timeout) and _is_number(retry) and 0 < timeout < retry:
        return []
    return [
        Error(
            f"Q_CLUSTER timeout ({timeout!r}) must be a positive number shorter than its retry "
            f"({retry!r}): django-q2 delivers a job again after `retry` seconds, so a sync that "
            "is still running would run twice.",
            hint="Set Q_CLUSTER['timeout'] (Q_TIMEOUT) below Q_CLUSTER['retry'] (Q_RETRY), "
            "e.g. timeout 300 and retry 360.",
            id="todoist_sync.E003",
        )
    ]


def check_batch_size(**kwargs: Any) -> list[CheckMessage]:
    value = conf.TODOIST_BATCH_SIZE
    if _is_int(value) and 1 <= value <= 100:
        return []
    return [
        Error(
            f"TODOIST_BATCH_SIZE must be an integer from 1 to 100, not {value!r}.",
            hint="Todoist accepts at most 100 commands per /sync request; the default is 100.",
            id="todoist_sync.E004",
        )
    ]


def check_http_timeouts(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name in ("TODOIST_CONNECT_TIMEOUT", "TODOIST_READ_TIMEOUT"):
        value = getattr(conf, name)
        if not (_is_number(value) and value > 0):
            errors.append(
                Error(
                    f"{name} must be a positive number of seconds, not {value!r}.",
                    hint="The defaults are 10 (connect) and 60 (read).",
                    id="todoist_sync.E005",
                )
            )
    return errors


def check_retry_backoff(**kwargs: Any) -> list[CheckMessage]:
    base, cap = conf.TODOIST_RETRY_BASE_SECONDS, conf.TODOIST_RETRY_CAP_SECONDS
    if _is_number(base) and _is_number(cap) and 0 < base <= cap:
        return []
    return [
        Error(
            "TODOIST_RETRY_BASE_SECONDS and TODOIST_RETRY_CAP_SECONDS must be positive numbers "
            f"with base <= cap, not {base!r} and {cap!r}.",
            hint="The defaults are 30 and 3600: retries wait 30 s, 60 s, ... up to an hour.",
            id="todoist_sync.E006",
        )
    ]


def check_retry_attempts(**kwargs: Any) -> list[CheckMessage]:
    value = conf.TODOIST_RETRY_MAX_ATTEMPTS
    if _is_int(value) and value >= 1:
        return []
    return [
        Error(
            f"TODOIST_RETRY_MAX_ATTEMPTS must be an integer >= 1, not {value!r}.",
            hint="The default is 8 attempts before a task's error becomes permanent.",
            id="todoist_sync.E007",
        )
    ]


def check_rate_limit(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    requests, window = conf.TODOIST_RATE_LIMIT_REQUESTS, conf.TODOIST_RATE_LIMIT_WINDOW
    max_wait = conf.TODOIST_RATE_LIMIT_MAX_WAIT
    if not (_is_int(requests) and requests >= 0):
        errors.append(
            Error(
                f"TODOIST_RATE_LIMIT_REQUESTS must be an integer >= 0, not {requests!r}.",
                hint="Requests per window per token (0 turns the local limit off); "
                "Todoist allows 1000 per 15 minutes, the default is 450.",
                id="todoist_sync.E008",
            )
        )
    if not (_is_number(window) and window > 0):
        errors.append(
            Error(
                f"TODOIST_RATE_LIMIT_WINDOW must be a positive number of seconds, not {window!r}.",
                hint="The default is 900 (Todoist counts per 15 minutes).",
                id="todoist_sync.E008",
            )
        )
    if not (_is_number(max_wait) and max_wait >= 0):
        errors.append(
            Error(
                f"TODOIST_RATE_LIMIT_MAX_WAIT must be a number of seconds >= 0, not {max_wait!r}.",
                hint="The default is 30.",
                id="todoist_sync.E008",
            )
        )
    return errors


def check_scheduling(**kwargs: Any) -> list[CheckMessage]:
    """The numbers that pace runs: the safety net, rounds, the lease, the on-change delay and
    how long a queued run may wait before a new trigger stops joining it."""
    rules = [
        ("TODOIST_SAFETY_NET_MINUTES", _is_int, 1, "an integer >= 1"),
        ("TODOIST_MAX_ROUNDS", _is_int, 1, "an integer >= 1"),
        ("TODOIST_LEASE_SECONDS", _is_number, None, "a positive number"),
        ("TODOIST_QUEUED_STALE_SECONDS", _is_number, None, "a positive number"),
    ]
    errors: list[CheckMessage] = []
    for name, of_type, minimum, wanted in rules:
        value = getattr(conf, name)
        ok = of_type(value) and (value > 0 if minimum is None else value >= minimum)
        if not ok:
            errors.append(
                Error(
                    f"{name} must be {wanted}, not {value!r}.",
                    hint="Remove the setting to use its default.",
                    id="todoist_sync.E009",
                )
            )
    return errors


def check_task_model(**kwargs: Any) -> list[CheckMessage]:
    """The task model named by TODOIST_SYNC_TASK_MODEL, and its `TodoistSync` field contract."""
    hint = "See todoist_sync/task_model.py for the TodoistSync class the task model declares."
    try:
        model = get_task_model()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint=hint, id="todoist_sync.E010")]
    contract = TaskContract.of(model)
    errors: list[CheckMessage] = []

    def error(message: str) -> None:
        errors.append(
            Error(f"{model._meta.label}.TodoistSync: {message}", hint=hint, id="todoist_sync.E010")
        )

    for name in contract.field_names():
        try:
            model._meta.get_field(name)
        except FieldDoesNotExist:
            error(f"names the field {name!r}, which {model._meta.label} does not have.")
    try:
        targets = set(contract.status_map.values())
    except (ValueError, AttributeError, TypeError):
        error(f"statuses must map local values to {[s.value for s in SyncStatus]}.")
    else:
        missing = [s.value for s in SyncStatus if s not in targets]
        if missing:
            error(f"statuses maps no local value to {missing}.")
    if contract.priority:
        try:
            levels = list(contract.priority_map.values())
        except (ValueError, TypeError):
            levels = []
        if not levels or not all(_is_int(p) and 1 <= p <= 4 for p in levels):
            error("priorities must map local values to Todoist's p1..p4 (1..4, 1 most urgent).")
    return errors


def check_encryption_keys(**kwargs: Any) -> list[CheckMessage]:
    """The keys of per-user tokens at rest: strings, and random rather than human ones."""
    key, keys = conf.TODOIST_TOKEN_ENCRYPTION_KEY, conf.TODOIST_TOKEN_ENCRYPTION_KEYS
    generate = (
        'Generate one with `python -c "from cryptography.fernet import Fernet; '
        'print(Fernet.generate_key().decode())"`.'
    )
    if not isinstance(key, str) or not (
        isinstance(keys, list) and all(isinstance(k, str) and k for k in keys)
    ):
        return [
            Error(
                "TODOIST_TOKEN_ENCRYPTION_KEY must be a string and TODOIST_TOKEN_ENCRYPTION_KEYS "
                "a list of non-empty strings (or one comma-separated string).",
                hint=generate,
                id="todoist_sync.E011",
            )
        ]
    warnings: list[CheckMessage] = []
    for secret in [*keys, key]:
        if secret and not is_fernet_key(secret) and len(secret) < MIN_PASSPHRASE_LENGTH:
            warnings.append(
                Warning(
                    f"A Todoist token encryption key is a passphrase of {len(secret)} characters: "
                    "whoever reads the database could guess it and decrypt every stored token.",
                    hint=f"{generate} Put it first in TODOIST_TOKEN_ENCRYPTION_KEYS, keep the "
                    "passphrase after it, run `manage.py rotate_todoist_tokens`, then remove the "
                    "passphrase.",
                    id="todoist_sync.W012",
                )
            )
    return warnings


def check_drift_policy(**kwargs: Any) -> list[CheckMessage]:
    policy = conf.TODOIST_DRIFT_POLICY
    if isinstance(policy, str) and policy in tuple(DriftPolicy):
        return []
    return [
        Error(
            f"TODOIST_DRIFT_POLICY must be one of {', '.join(DriftPolicy)}, not {policy!r}.",
            hint="`restore` (the default) puts local truth back in Todoist when a reconcile "
            "finds a change made there; `report` only reports it.",
            id="todoist_sync.E012",
        )
    ]


def check_coexistence(**kwargs: Any) -> list[CheckMessage]:
    """The settings of living beside a person who uses Todoist (issue 20). Ids from E020: the
    ones between are left to other features."""
    errors: list[CheckMessage] = []
    recurring = conf.TODOIST_RECURRING_DONE
    if not (isinstance(recurring, str) and recurring in tuple(RecurringDone)):
        errors.append(
            Error(
                f"TODOIST_RECURRING_DONE must be one of {', '.join(RecurringDone)}, "
                f"not {recurring!r}.",
                hint="`occurrence` (the default) closes one occurrence of a task recurring in "
                "Todoist; `complete` ends its recurrence.",
                id="todoist_sync.E020",
            )
        )
    done = conf.TODOIST_DONE_IN_TODOIST
    if not (isinstance(done, str) and done in tuple(DoneInTodoist)):
        errors.append(
            Error(
                f"TODOIST_DONE_IN_TODOIST must be one of {', '.join(DoneInTodoist)}, not {done!r}.",
                hint="`drift` (the default) handles a completion made in Todoist by "
                "TODOIST_DRIFT_POLICY; `adopt` marks the local task done.",
                id="todoist_sync.E021",
            )
        )
    full = conf.TODOIST_RATE_LIMIT_FULL_SYNCS
    if isinstance(full, bool) or not isinstance(full, int) or not 1 <= full <= 100:
        errors.append(
            Error(
                "TODOIST_RATE_LIMIT_FULL_SYNCS must be a whole number from 1 to 100, "
                f"not {full!r}.",
                hint="Todoist allows 100 full syncs per 15 minutes per user.",
                id="todoist_sync.E022",
            )
        )
    return errors


def check_shared_token_users(**kwargs: Any) -> list[CheckMessage]:
    """Who the shared TODOIST_API_TOKEN syncs: nobody unless listed."""
    users = conf.TODOIST_SHARED_TOKEN_USERS
    if not (isinstance(users, list) and all(isinstance(name, str) for name in users)):
        return [
            Error(
                f"TODOIST_SHARED_TOKEN_USERS must be a comma-separated string or a list of "
                f"usernames, not {users!r}.",
                hint='List the usernames the shared TODOIST_API_TOKEN syncs, e.g. "alice,bob", '
                'or "*" for every user without a token of their own.',
                id="todoist_sync.E013",
            )
        ]
    if conf.TODOIST_API_TOKEN and not users:
        return [
            Warning(
                "TODOIST_API_TOKEN is set but TODOIST_SHARED_TOKEN_USERS lists nobody: the "
                "shared token syncs no user, and a user without a token of their own gets "
                '"No Todoist token".',
                hint="Set TODOIST_SHARED_TOKEN_USERS to the usernames it may sync (e.g. "
                '"alice,bob"), or to "*" for every user without a token of their own; or unset '
                "TODOIST_API_TOKEN.",
                id="todoist_sync.W013",
            )
        ]
    return []


def check_shared_project_name(**kwargs: Any) -> list[CheckMessage]:
    template = conf.TODOIST_SHARED_PROJECT_NAME
    problem = template_problem(template)
    if problem is None:
        return []
    return [
        Error(
            f"TODOIST_SHARED_PROJECT_NAME {template!r} {problem}.",
            hint='The default is "{project} ({username})": {project} is the name on a token of '
            "the user's own (TODOIST_PROJECT_NAME or the chat's), {username} and {user_id} the "
            "user's, so each user of the shared token gets projects of their own.",
            id="todoist_sync.E014",
        )
    ]


OAUTH_SETTINGS = ("TODOIST_CLIENT_ID", "TODOIST_CLIENT_SECRET", "TODOIST_OAUTH_REDIRECT_URL")


def check_oauth(**kwargs: Any) -> list[CheckMessage]:
    """OAuth connect and webhooks: all three settings or none, and an HTTPS callback."""
    missing = [name for name in OAUTH_SETTINGS if not getattr(conf, name)]
    if missing and len(missing) < len(OAUTH_SETTINGS):
        return [
            Error(
                f"Half an OAuth configuration: {', '.join(missing)} not set.",
                hint="Set TODOIST_CLIENT_ID, TODOIST_CLIENT_SECRET and TODOIST_OAUTH_REDIRECT_URL "
                "from the app registered in Todoist's App Management Console "
                "(https://developer.todoist.com/appconsole.html), or unset them all to keep "
                "pasted tokens only.",
                id="todoist_sync.E015",
            )
        ]
    redirect = conf.TODOIST_OAUTH_REDIRECT_URL
    if redirect and not settings.DEBUG and not redirect.startswith("https://"):
        return [
            Error(
                f"TODOIST_OAUTH_REDIRECT_URL {redirect!r} is not HTTPS: the authorization code "
                "would travel in clear.",
                hint="Use the https:// address of /todoist/oauth/callback, the same as registered "
                "in Todoist's console (plain http only with DEBUG on, for local runs).",
                id="todoist_sync.E016",
            )
        ]
    return []


ALL_CHECKS = [
    check_task_model,
    check_token_source,
    check_api_url,
    check_queue_timeouts,
    check_batch_size,
    check_http_timeouts,
    check_retry_backoff,
    check_retry_attempts,
    check_rate_limit,
    check_scheduling,
    check_encryption_keys,
    check_drift_policy,
    check_coexistence,
    check_shared_token_users,
    check_shared_project_name,
    check_oauth,
]
