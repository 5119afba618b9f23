from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.test import override_settings
from rest_framework.test import APIClient

from planner.models import TITLE_MAX_LENGTH, EventLog, Task
from tests.factories import make_task

pytestmark = pytest.mark.django_db


# --- model constraints -------------------------------------------------------------------


def test_task_defaults(user):
    task = make_task(user)
    assert (task.status, task.priority, task.archived, task.due_date) == ("open", 4, False, None)


@pytest.mark.parametrize("priority", [0, 5])
def test_priority_outside_1_to_4_is_refused_by_the_database(user, priority):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_task(user, priority=priority)


def test_blank_title_is_refused_by_the_database(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_task(user, title="")


def test_event_log_keeps_json_data(user):
    EventLog.objects.create(
        user=user, level="warning", topic="sync.todoist", message="m", data={"a": [1]}
    )
    assert EventLog.objects.get().data == {"a": [1]}


# --- the API -----------------------------------------------------------------------------


def test_create_answers_201_with_id(api_client, user):
    response = api_client.post(
        "/v1/tasks",
        {"title": "Buy milk", "priority": 1, "due_date": "2026-12-01", "chat_id": 42},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    task = Task.objects.get(pk=body["id"])
    assert task.user == user
    assert (task.title, task.priority, task.due_date, task.chat_id) == (
        "Buy milk",
        1,
        datetime.date(2026, 12, 1),
        42,
    )
    assert body["status"] == "open" and body["archived"] is False


def test_list_is_paginated_and_filtered(api_client, user):
    make_task(user, title="open one", chat_id=1)
    make_task(user, title="done one", status="done", chat_id=1)
    make_task(user, title="other chat", chat_id=2)
    make_task(user, title="archived", archived=True, chat_id=1)

    body = api_client.get("/v1/tasks").json()
    assert body["count"] == 3 and "results" in body and "next" in body
    titles = {t["title"] for t in api_client.get("/v1/tasks?status=done").json()["results"]}
    assert titles == {"done one"}
    titles = {t["title"] for t in api_client.get("/v1/tasks?chat_id=1").json()["results"]}
    assert titles == {"open one", "done one"}
    titles = {t["title"] for t in api_client.get("/v1/tasks?archived=true").json()["results"]}
    assert titles == {"archived"}


def test_list_filter_with_bad_value_is_400(api_client):
    response = api_client.get("/v1/tasks?status=someday")
    assert response.status_code == 400
    assert "status" in response.json()["fields"]
    assert api_client.get("/v1/tasks?chat_id=abc").status_code == 400


def test_get_and_patch(api_client, user):
    task = make_task(user, title="Old")
    assert api_client.get(f"/v1/tasks/{task.pk}").json()["title"] == "Old"
    response = api_client.patch(
        f"/v1/tasks/{task.pk}",
        {"title": "New", "status": "blocked", "due_date": None},
        format="json",
    )
    assert response.status_code == 200, response.content
    task.refresh_from_db()
    assert (task.title, task.status) == ("New", "blocked")


def test_delete_archives_and_never_hard_deletes(api_client, user):
    task = make_task(user)
    assert api_client.delete(f"/v1/tasks/{task.pk}").status_code == 204
    task.refresh_from_db()
    assert task.archived is True
    assert api_client.get("/v1/tasks").json()["count"] == 0


def test_put_is_not_offered(api_client, user):
    task = make_task(user)
    response = api_client.put(f"/v1/tasks/{task.pk}", {"title": "x"}, format="json")
    assert response.status_code == 405


# --- scoping and credentials ---------------------------------------------------------------


def test_other_users_task_is_404_everywhere(api_client, other_user):
    theirs = make_task(other_user, title="Bob's")
    assert api_client.get(f"/v1/tasks/{theirs.pk}").status_code == 404
    assert (
        api_client.patch(f"/v1/tasks/{theirs.pk}", {"title": "x"}, format="json").status_code == 404
    )
    assert api_client.delete(f"/v1/tasks/{theirs.pk}").status_code == 404
    assert api_client.get("/v1/tasks").json()["count"] == 0
    theirs.refresh_from_db()
    assert (theirs.title, theirs.archived) == ("Bob's", False)


def test_no_token_is_401():
    response = APIClient().get("/v1/tasks")
    assert response.status_code == 401


def test_wrong_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert client.get("/v1/tasks").status_code == 401


def test_session_login_works_for_the_browsable_api(user):
    client = APIClient()
    # django-axes checks the lockout of every password login: authenticate() needs a request.
    client.login(request=HttpRequest(), username="alice", password="pw-alice-123")
    assert client.get("/v1/tasks").status_code == 200


# --- bad input: 400 with field errors, never a 500 -----------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * (TITLE_MAX_LENGTH + 1)}, "title"),
        ({"title": "ok", "status": "someday"}, "status"),
        ({"title": "ok", "priority": 0}, "priority"),
        ({"title": "ok", "priority": 5}, "priority"),
        ({"title": "ok", "priority": "2"}, "priority"),
        ({"title": "ok", "priority": 2.5}, "priority"),
        ({"title": "ok", "priority": True}, "priority"),
        ({"title": "ok", "due_date": "2026-02-30"}, "due_date"),
        ({"title": "ok", "due_date": "tomorrow"}, "due_date"),
        ({"title": 12}, "title"),
        ({"title": ["a"]}, "title"),
        ({"title": "ok", "chat_id": "12"}, "chat_id"),
        ({"title": "ok", "description": None}, "description"),
        ({}, "title"),
    ],
)
def test_bad_input_is_400_with_field_errors(api_client, payload, field):
    response = api_client.post("/v1/tasks", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert Task.objects.count() == 0


def test_title_at_the_limit_is_accepted(api_client):
    response = api_client.post("/v1/tasks", {"title": "x" * TITLE_MAX_LENGTH}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("body", ["[1, 2]", '"a string"', "42", "{not json"])
def test_body_that_is_not_a_json_object_is_400(api_client, body):
    response = api_client.generic("POST", "/v1/tasks", body, content_type="application/json")
    assert response.status_code == 400
    assert Task.objects.count() == 0


def test_patch_with_bad_input_is_400_and_changes_nothing(api_client, user):
    task = make_task(user, title="Keep")
    response = api_client.patch(f"/v1/tasks/{task.pk}", {"title": "", "priority": 9}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"title", "priority"}
    task.refresh_from_db()
    assert task.title == "Keep"


def test_unexpected_error_is_a_plain_500_without_traceback(api_client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("planner.api.views.task_list", boom)
    api_client.raise_request_exception = False
    response = api_client.get("/v1/tasks")
    assert response.status_code == 500
    assert response.json() == {"code": "server_error", "detail": "Internal server error."}
    assert b"secret internals" not in response.content


# --- schema and docs -------------------------------------------------------------------------


def test_openapi_schema_and_docs_are_served(api_client):
    schema = api_client.get("/v1/schema/")
    assert schema.status_code == 200
    assert b"/v1/tasks" in schema.content
    assert api_client.get("/v1/docs/").status_code == 200


@pytest.mark.parametrize("url", ["/v1/schema/", "/v1/docs/"])
def test_schema_and_docs_need_a_key_or_a_session(db, user, url):
    assert APIClient().get(url).status_code == 401
    browser = APIClient()
    browser.login(request=HttpRequest(), username="alice", password="pw-alice-123")
    assert browser.get(url).status_code == 200


@override_settings(API_DOCS_PUBLIC=True)
@pytest.mark.parametrize("url", ["/v1/schema/", "/v1/docs/"])
def test_schema_and_docs_can_be_made_public(db, url):
    assert APIClient().get(url).status_code == 200


@pytest.mark.parametrize("url", ["/v1/tasks?status=%00", "/admin/planner/task/?status__exact=%00"])
def test_a_nul_in_the_query_string_is_400_everywhere(api_client, admin_client, url):
    client = admin_client if url.startswith("/admin") else api_client
    assert client.get(url).status_code == 400
