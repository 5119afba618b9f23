"""Many users on one server, API keys: stored as digests only (django-rest-knox), sent as
`Authorization: Token <key>`, made by `create_api_key`, and DRF's earlier clear keys moved."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib import admin
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.db import connection
from knox.models import AuthToken
from rest_framework.authtoken.models import Token, TokenProxy
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def every_text_column() -> str:
    """Every value of the key tables, to look for a key in clear."""
    values = []
    with connection.cursor() as cursor:
        for table in (AuthToken._meta.db_table, Token._meta.db_table):
            cursor.execute(f"SELECT * FROM {table}")
            values += [str(v) for row in cursor.fetchall() for v in row]
    return " ".join(values)


def create_api_key(username: str) -> str:
    out = StringIO()
    call_command("create_api_key", username, stdout=out)
    return out.getvalue().splitlines()[-1]


def test_create_api_key_prints_a_key_that_authenticates_and_is_not_stored(user):
    key = create_api_key("alice")

    assert key and " " not in key
    response = client_with(key).post("/v1/tasks", {"title": "via key"}, format="json")
    assert response.status_code == 201
    assert response.json()["title"] == "via key"
    assert key not in every_text_column()
    token = AuthToken.objects.get(user=user)
    assert token.expiry is None  # a bot's key does not run out


def test_each_key_is_its_own_and_one_can_be_revoked(user):
    first, second = create_api_key("alice"), create_api_key("alice")
    assert first != second
    AuthToken.objects.get(token_key=first[:15]).delete()
    assert client_with(first).get("/v1/tasks").status_code == 401
    assert client_with(second).get("/v1/tasks").status_code == 200


def test_create_api_key_for_an_unknown_user_is_an_error(db):
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("create_api_key", "nobody", stdout=StringIO())


def test_a_key_of_an_inactive_user_is_refused(user):
    key = create_api_key("alice")
    user.is_active = False
    user.save()
    assert client_with(key).get("/v1/tasks").status_code == 401


def test_a_drf_key_no_longer_authenticates_until_moved(user):
    legacy = Token.objects.create(user=user).key
    assert client_with(legacy).get("/v1/tasks").status_code == 401

    out = StringIO()
    call_command("hash_api_keys", stdout=out)

    assert "Moved 1 API key(s)" in out.getvalue()
    assert client_with(legacy).get("/v1/tasks").status_code == 200
    assert not Token.objects.exists()
    assert legacy not in every_text_column()
    call_command("hash_api_keys", stdout=StringIO())  # again: nothing to do, nothing breaks
    assert client_with(legacy).get("/v1/tasks").status_code == 200


def test_seed_demo_prints_a_knox_key_on_its_last_line(db):
    out = StringIO()
    call_command("seed_demo", "--tasks", "3", stdout=out)

    last = out.getvalue().splitlines()[-1]
    assert last.startswith("API token: ")
    key = last.removeprefix("API token: ")
    assert client_with(key).get("/v1/tasks").json()["count"] == 3
    assert key not in every_text_column()


def test_hash_api_keys_says_when_nothing_is_left_to_move(db):
    out = StringIO()
    call_command("hash_api_keys", stdout=out)
    assert "No API keys stored in clear: nothing to move." in out.getvalue()


# --- the clear keys, reported by a system check ---------------------------------------------


def clear_key_warnings(**kwargs) -> list:
    return [m for m in run_checks(**kwargs) if m.id == "planner.W001"]


def test_a_check_reports_clear_keys_left_to_move(user):
    Token.objects.create(user=user)

    (warning,) = clear_key_warnings(databases=["default"])

    assert "1 API key(s)" in warning.msg
    assert "manage.py hash_api_keys" in warning.hint


def test_the_check_is_quiet_once_they_are_moved_and_without_a_database(user):
    Token.objects.create(user=user)
    assert not clear_key_warnings()  # `check` without --database reads no table
    call_command("hash_api_keys", stdout=StringIO())
    assert not clear_key_warnings(databases=["default"])


def test_check_with_a_database_runs_it(user):
    Token.objects.create(user=user)
    err = StringIO()
    call_command("check", "--database", "default", stderr=err, stdout=StringIO())
    assert "planner.W001" in err.getvalue()


# --- one admin screen for API keys -------------------------------------------------------

KEYS = "/admin/knox/authtoken/"


def test_drfs_clear_token_admin_is_gone(admin_client):
    assert not admin.site.is_registered(TokenProxy)
    assert admin_client.get("/admin/authtoken/tokenproxy/").status_code == 404
    assert "/admin/authtoken/" not in admin_client.get("/admin/").content.decode()


def test_the_api_key_screen_is_named_for_operators_and_says_how_to_make_one(admin_client, user):
    key = create_api_key("alice")

    index = admin_client.get("/admin/").content.decode()
    page = admin_client.get(KEYS).content.decode()

    assert "API keys (bots)" in index and ">Knox<" not in index
    assert "<h1>API keys (bots)</h1>" in page
    assert "manage.py create_api_key &lt;username&gt;" in page
    assert f"{key[:15]}…" in page  # the start of the key, to tell which one to revoke


def test_keys_are_made_with_the_command_not_in_the_admin(admin_client, user):
    page = admin_client.get(KEYS).content.decode()
    assert f'href="{KEYS}add/"' not in page
    assert admin_client.get(f"{KEYS}add/").status_code == 403
    response = admin_client.post(f"{KEYS}add/", {"user": user.pk})
    assert response.status_code == 403
    assert not AuthToken.objects.exists()


def test_a_key_is_revoked_on_the_screen(admin_client, user):
    key = create_api_key("alice")
    digest = AuthToken.objects.get().digest

    response = admin_client.post(f"{KEYS}{digest}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert client_with(key).get("/v1/tasks").status_code == 401
