"""Many users on one server, the admin: the dangerous pages are for superusers only, and staff
see no other user's name through a raw-id widget."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from django_q.conf import Conf

from tests.factories import staff_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_jobs")]

# django-q2 runs any function it is given; the key pages mint keys that act as any user.
DANGEROUS = [
    model
    for label in ("django_q", "authtoken", "knox")
    for model in apps.get_app_config(label).get_models()
    if admin.site.is_registered(model)
]


def admin_url(model, page: str) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}")


def test_every_django_q_and_api_key_model_is_covered():
    names = {f"{m._meta.app_label}.{m.__name__}" for m in DANGEROUS}
    assert {"django_q.Schedule", "knox.AuthToken"} <= names
    assert {"django_q.Success", "django_q.Failure"} <= names
    if Conf.ORM:  # django-q2 shows its queue (OrmQ) only with the ORM broker
        assert "django_q.OrmQ" in names


@pytest.mark.parametrize("model", DANGEROUS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("page", ["changelist", "add"])
def test_staff_with_every_permission_cannot_open_the_dangerous_pages(model, page):
    staff = staff_client(every_permission=True)
    assert staff.get(admin_url(model, page)).status_code in (403, 404)


@pytest.mark.parametrize("model", DANGEROUS, ids=lambda m: m.__name__)
def test_staff_with_every_permission_cannot_add_through_a_post(model):
    staff = staff_client(every_permission=True)
    count = model._default_manager.count()
    assert staff.post(admin_url(model, "add"), {}).status_code in (403, 404)
    assert model._default_manager.count() == count


def test_the_dangerous_pages_are_not_in_the_staff_index():
    staff = staff_client(every_permission=True)
    page = staff.get(reverse("admin:index")).content.decode()
    assert "/admin/planner/task/" in page  # the index itself is there
    for model in DANGEROUS:
        assert admin_url(model, "changelist") not in page
    assert staff.get(reverse("admin:app_list", args=["django_q"])).status_code == 404


@pytest.mark.parametrize("model", DANGEROUS, ids=lambda m: m.__name__)
def test_superusers_still_have_the_dangerous_pages(admin_client, model):
    assert admin_client.get(admin_url(model, "changelist")).status_code == 200
    assert (
        admin_url(model, "changelist") in admin_client.get(reverse("admin:index")).content.decode()
    )


# --- raw-id widgets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/admin/planner/task/add/", "/admin/todoist_sync/todoistcredential/add/"]
)
def test_the_user_field_names_no_other_user_to_staff(other_user, url):
    staff = staff_client(every_permission=True)
    # The raw-id widget labels whatever id the URL gives with that user's name.
    page = staff.get(f"{url}?user={other_user.pk}")

    assert page.status_code == 200
    html = page.content.decode()
    assert "bob" not in html
    assert "related-lookup" not in html  # no popup listing the users
    choices = list(page.context["adminform"].form.fields["user"].queryset)
    assert [u.username for u in choices] == ["staff"]


@pytest.mark.parametrize(
    "url", ["/admin/planner/task/add/", "/admin/todoist_sync/todoistcredential/add/"]
)
def test_superusers_keep_the_raw_id_widget(admin_client, other_user, url):
    html = admin_client.get(f"{url}?user={other_user.pk}").content.decode()
    assert "related-lookup" in html and "bob" in html
