"""System checks of the sync's settings: one test per id, and one proving they are registered."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from todoist_sync import checks


def ids(messages) -> list[str]:
    return [m.id for m in messages]


def test_the_test_settings_pass_every_check():
    assert [m for check in checks.ALL_CHECKS for m in check()] == []


def test_every_error_has_a_hint():
    with override_settings(
        TODOIST_API_TOKEN="",
        TODOIST_TOKEN_ENCRYPTION_KEY="",
        TODOIST_API_URL="ftp://x",
        TODOIST_BATCH_SIZE=0,
        TODOIST_READ_TIMEOUT=0,
        TODOIST_RETRY_BASE_SECONDS=10,
        TODOIST_RETRY_CAP_SECONDS=1,
        TODOIST_RETRY_MAX_ATTEMPTS=0,
        TODOIST_RATE_LIMIT_REQUESTS=-1,
        TODOIST_MAX_ROUNDS=0,
        Q_CLUSTER={"timeout": 10, "retry": 5},
    ):
        messages = [m for check in checks.ALL_CHECKS for m in check()]
    assert len(messages) == 9
    assert all(m.hint and m.id.startswith("todoist_sync.E") for m in messages)


# --- E001 no token source ------------------------------------------------------------------


@override_settings(TODOIST_API_TOKEN="", TODOIST_TOKEN_ENCRYPTION_KEY="")
def test_e001_no_token_source():
    assert ids(checks.check_token_source()) == ["todoist_sync.E001"]


@pytest.mark.parametrize(
    "tokens",
    [
        {"TODOIST_API_TOKEN": "global", "TODOIST_TOKEN_ENCRYPTION_KEY": ""},
        {"TODOIST_API_TOKEN": "", "TODOIST_TOKEN_ENCRYPTION_KEY": "key"},
    ],
)
def test_e001_either_source_is_enough(tokens):
    with override_settings(**tokens):
        assert checks.check_token_source() == []


@override_settings(TODOIST_API_TOKEN="", TODOIST_TOKEN_ENCRYPTION_KEY="")
def test_e001_the_list_of_keys_is_a_source_too():
    with override_settings(TODOIST_TOKEN_ENCRYPTION_KEYS=[FERNET_KEY]):
        assert checks.check_token_source() == []


# --- E002 API URL --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "api.todoist.com/api/v1",
        "ftp://api.todoist.com/api/v1",
        "https:///api/v1",
        "https://api.todoist.com/rest/v2",
        "https://api.todoist.com/rest/v2/",
        "https://api.todoist.com/sync/v9",
        "https://api.todoist.com/sync/v9/sync",
        None,
    ],
)
def test_e002_malformed_or_retired_api_url(url):
    with override_settings(TODOIST_API_URL=url):
        assert ids(checks.check_api_url()) == ["todoist_sync.E002"]


@pytest.mark.parametrize(
    "url",
    [
        "https://api.todoist.com/api/v1",
        "https://api.todoist.com/api/v1/",
        "http://127.0.0.1:8765/api/v1",
        "https://proxy.example/rest/v2-compat/api/v1",
    ],
)
def test_e002_accepts_v1_urls(url):
    with override_settings(TODOIST_API_URL=url):
        assert checks.check_api_url() == []


# --- E003 django-q2 timeout vs retry -------------------------------------------------------


@pytest.mark.parametrize(
    "cluster",
    [
        {"timeout": 360, "retry": 360},
        {"timeout": 400, "retry": 360},
        {"retry": 360},  # no timeout: a job may run for ever
        {"timeout": 90},  # django-q2's default retry is 60
        {"timeout": "300", "retry": 360},
    ],
)
def test_e003_timeout_not_shorter_than_retry(cluster):
    with override_settings(Q_CLUSTER=cluster):
        assert ids(checks.check_queue_timeouts()) == ["todoist_sync.E003"]


def test_e003_reads_the_project_settings():
    assert settings.Q_CLUSTER["timeout"] < settings.Q_CLUSTER["retry"]
    assert checks.check_queue_timeouts() == []
    with override_settings(Q_CLUSTER={"timeout": 30}):
        assert checks.check_queue_timeouts() == []  # under the default retry of 60


# --- E004.. numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 101, -5, 50.5, "100", True, None])
def test_e004_batch_size(value):
    with override_settings(TODOIST_BATCH_SIZE=value):
        assert ids(checks.check_batch_size()) == ["todoist_sync.E004"]


@pytest.mark.parametrize("value", [1, 100])
def test_e004_batch_size_bounds_are_valid(value):
    with override_settings(TODOIST_BATCH_SIZE=value):
        assert checks.check_batch_size() == []


@pytest.mark.parametrize("name", ["TODOIST_CONNECT_TIMEOUT", "TODOIST_READ_TIMEOUT"])
@pytest.mark.parametrize("value", [0, -1, "10", None, float("inf")])
def test_e005_http_timeouts(name, value):
    with override_settings(**{name: value}):
        assert ids(checks.check_http_timeouts()) == ["todoist_sync.E005"]


@pytest.mark.parametrize(("base", "cap"), [(60, 30), (0, 30), (-1, 30), (30, "3600"), (None, 3600)])
def test_e006_retry_base_and_cap(base, cap):
    with override_settings(TODOIST_RETRY_BASE_SECONDS=base, TODOIST_RETRY_CAP_SECONDS=cap):
        assert ids(checks.check_retry_backoff()) == ["todoist_sync.E006"]


def test_e006_base_equal_to_cap_is_valid():
    with override_settings(TODOIST_RETRY_BASE_SECONDS=30, TODOIST_RETRY_CAP_SECONDS=30):
        assert checks.check_retry_backoff() == []


@pytest.mark.parametrize("value", [0, -3, 2.5, "8"])
def test_e007_max_attempts(value):
    with override_settings(TODOIST_RETRY_MAX_ATTEMPTS=value):
        assert ids(checks.check_retry_attempts()) == ["todoist_sync.E007"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"TODOIST_RATE_LIMIT_REQUESTS": -1},
        {"TODOIST_RATE_LIMIT_REQUESTS": 4.5},
        {"TODOIST_RATE_LIMIT_WINDOW": 0},
        {"TODOIST_RATE_LIMIT_MAX_WAIT": -1},
    ],
)
def test_e008_rate_limit(overrides):
    with override_settings(**overrides):
        assert ids(checks.check_rate_limit()) == ["todoist_sync.E008"]


def test_e008_zero_requests_turns_the_local_limit_off_and_is_valid():
    with override_settings(TODOIST_RATE_LIMIT_REQUESTS=0):
        assert checks.check_rate_limit() == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"TODOIST_SAFETY_NET_MINUTES": 0},
        {"TODOIST_SAFETY_NET_MINUTES": "60"},
        {"TODOIST_MAX_ROUNDS": 0},
        {"TODOIST_LEASE_SECONDS": 0},
        {"TODOIST_QUEUED_STALE_SECONDS": 0},
    ],
)
def test_e009_scheduling_numbers(overrides):
    with override_settings(**overrides):
        assert ids(checks.check_scheduling()) == ["todoist_sync.E009"]


# --- E011 / W012 the encryption keys of stored tokens -------------------------------------

FERNET_KEY = "ib0rQPGSb9zhCwax9j4jvwvqlUKXI0n4RaqmE4cFiNM="


@pytest.mark.parametrize(
    "overrides",
    [
        {"TODOIST_TOKEN_ENCRYPTION_KEY": 12345},
        {"TODOIST_TOKEN_ENCRYPTION_KEYS": [FERNET_KEY, None]},
        {"TODOIST_TOKEN_ENCRYPTION_KEYS": [FERNET_KEY, ""]},
        {"TODOIST_TOKEN_ENCRYPTION_KEYS": 7},
    ],
)
def test_e011_keys_that_are_not_strings(overrides):
    with override_settings(**overrides):
        assert ids(checks.check_encryption_keys()) == ["todoist_sync.E011"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"TODOIST_TOKEN_ENCRYPTION_KEY": "hunter2"},
        {"TODOIST_TOKEN_ENCRYPTION_KEY": "correct horse battery staple"},
        {"TODOIST_TOKEN_ENCRYPTION_KEY": FERNET_KEY, "TODOIST_TOKEN_ENCRYPTION_KEYS": ["short"]},
    ],
)
def test_w012_a_short_passphrase(overrides):
    with override_settings(**overrides):
        [warning] = checks.check_encryption_keys()
    assert warning.id == "todoist_sync.W012" and "generate_key" in warning.hint
    assert "hunter2" not in warning.msg  # never the secret itself


@pytest.mark.parametrize(
    "overrides",
    [
        {"TODOIST_TOKEN_ENCRYPTION_KEY": FERNET_KEY},
        {"TODOIST_TOKEN_ENCRYPTION_KEY": "a passphrase of forty characters or so, ok"},
        {"TODOIST_TOKEN_ENCRYPTION_KEY": "", "TODOIST_TOKEN_ENCRYPTION_KEYS": [FERNET_KEY]},
        # A comma-separated string, as in the environment.
        {"TODOIST_TOKEN_ENCRYPTION_KEYS": f"{FERNET_KEY}, {'p' * 32}"},
    ],
)
def test_w012_random_keys_and_long_passphrases_are_fine(overrides):
    with override_settings(**overrides):
        assert checks.check_encryption_keys() == []


# --- E013, W013 who the shared token syncs -------------------------------------------------


@pytest.mark.parametrize("users", [7, ["alice", 7], {"alice": True}])
def test_e013_shared_token_users_that_are_not_usernames(users):
    with override_settings(TODOIST_SHARED_TOKEN_USERS=users):
        [error] = checks.check_shared_token_users()
    assert error.id == "todoist_sync.E013" and error.hint


def test_w013_a_shared_token_that_syncs_nobody(settings):
    del settings.TODOIST_SHARED_TOKEN_USERS  # the default: nobody
    [warning] = checks.check_shared_token_users()
    assert warning.id == "todoist_sync.W013" and "TODOIST_SHARED_TOKEN_USERS" in warning.hint
    settings.TODOIST_API_TOKEN = ""  # no shared token: nobody to sync is right
    assert checks.check_shared_token_users() == []


@pytest.mark.parametrize("users", ["*", "alice", "alice, bob", ["alice", "bob"]])
def test_w013_users_opted_in_are_fine(users):
    with override_settings(TODOIST_SHARED_TOKEN_USERS=users):
        assert checks.check_shared_token_users() == []


# --- E014 the shared projects' names -------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        (None, "must be a string"),
        ("Planner ({username}", None),  # unbalanced parentheses are only text
        ("Planner {username", "not a valid format string"),
        ("Planner }{username}", "not a valid format string"),
        ("Planner ({user})", "uses {user}"),
        ("Planner ({})", "uses {}"),
        ("Planner ({0})", "uses {0}"),
        ("{project.upper} ({username})", "uses {project.upper}"),
        ("{project} ({username!r})", "conversion or spec"),
        ("{project} ({username:>20})", "conversion or spec"),
        ("{project}", "names no user"),
        ("Shared planner", "names no user"),
    ],
)
def test_e014_a_malformed_shared_project_name(template, problem):
    with override_settings(TODOIST_SHARED_PROJECT_NAME=template):
        found = checks.check_shared_project_name()
    if problem is None:
        assert found == []
        return
    [error] = found
    assert error.id == "todoist_sync.E014" and problem in error.msg
    assert "{project} ({username})" in error.hint


@pytest.mark.parametrize(
    "template", ["{project} ({username})", "Planner ({username})", "{username}: {project}",
                 "{project} #{user_id}", "{{{project}}} {username}"],
)  # fmt: skip
def test_e014_templates_that_name_the_user_are_valid(template):
    with override_settings(TODOIST_SHARED_PROJECT_NAME=template):
        assert checks.check_shared_project_name() == []


# --- registration --------------------------------------------------------------------------


def test_the_checks_are_registered():
    call_command("check", stdout=StringIO())  # clean with the test settings
    with override_settings(TODOIST_BATCH_SIZE=500, TODOIST_API_URL="https://x/rest/v2"):
        with pytest.raises(SystemCheckError) as raised:
            call_command("check", stdout=StringIO(), stderr=StringIO())
    assert "todoist_sync.E002" in str(raised.value)
    assert "todoist_sync.E004" in str(raised.value)


# --- E015, E016 OAuth ----------------------------------------------------------------------

OAUTH = {
    "TODOIST_CLIENT_ID": "client-1",
    "TODOIST_CLIENT_SECRET": "secret-1",
    "TODOIST_OAUTH_REDIRECT_URL": "https://bot.example/todoist/oauth/callback",
}


@pytest.mark.parametrize("missing", sorted(OAUTH))
def test_e015_half_an_oauth_configuration(settings, missing):
    for name, value in OAUTH.items():
        setattr(settings, name, "" if name == missing else value)
    [error] = checks.check_oauth()
    assert error.id == "todoist_sync.E015" and missing in error.msg and error.hint


def test_e015_oauth_off_or_whole_is_fine(settings):
    assert checks.check_oauth() == []  # off: nothing set
    for name, value in OAUTH.items():
        setattr(settings, name, value)
    assert checks.check_oauth() == []


def test_e016_a_redirect_url_without_https_while_debug_is_off(settings):
    for name, value in OAUTH.items():
        setattr(settings, name, value)
    settings.TODOIST_OAUTH_REDIRECT_URL = "http://bot.example/todoist/oauth/callback"
    settings.DEBUG = False
    [error] = checks.check_oauth()
    assert error.id == "todoist_sync.E016" and "https" in error.hint
    settings.DEBUG = True
    assert checks.check_oauth() == []
