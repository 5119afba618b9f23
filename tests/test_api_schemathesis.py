"""Schemathesis against the OpenAPI schema at /v1/schema/: every endpoint, generated input.

No answer may be a 5xx, and every answer must match the schema (status code, content type,
body). Schemathesis's other default checks run too, except "schema-valid input is accepted":
the API refuses some schema-valid input by design (a token Todoist rejects).

Todoist is never reached: triggers queue nothing (the job is patched out), and the token
endpoint's check with Todoist is answered by `responses` with a 401.
"""

from __future__ import annotations

import pytest
import responses
import schemathesis
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from knox.models import AuthToken

from planner.models import Task


@pytest.fixture
def auth_header(user):
    Task.objects.create(user=user, title="Existing task")
    _, key = AuthToken.objects.create(user=user)
    return {"Authorization": f"Token {key}"}


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """The WSGI handler closes "old" connections at each request's start and end, as it should
    in production; inside a test's transaction that would close the test's own connection
    (PostgreSQL then answers "connection is closed"). Django's test client does the same."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def no_todoist(queued_jobs):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as todoist:
        todoist.add(
            responses.GET,
            f"{settings.TODOIST_API_URL}/user",
            status=401,
            json={"error": "Unauthorized", "http_code": 401, "error_tag": "AUTH_INVALID_TOKEN"},
        )
        yield


def api_operations(auth_header):
    # Loaded through the WSGI app itself, as a client would fetch it (with a key: the schema
    # is not public unless API_DOCS_PUBLIC).
    from config.wsgi import application

    schema = schemathesis.openapi.from_wsgi("/v1/schema/", application, headers=auth_header)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.django_db
def test_no_5xx_and_answers_match_the_schema(auth_header):
    operations = api_operations(auth_header)
    labels = {operation.label for operation in operations}
    assert {"POST /v1/tasks", "POST /v1/sync/todoist", "GET /v1/sync/todoist/status"} <= labels
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case):
            # A schema-valid token that Todoist refuses is a 400 by design, not a schema break.
            case.call_and_validate(
                headers=auth_header, excluded_checks=[schemathesis.checks.positive_data_acceptance]
            )

        check()
