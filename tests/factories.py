"""Plain functions the tests share: rows made through the models, and runs of the engine.

Fixtures (the queue, Todoist mocked by `responses`, the simulator) are in conftest.py.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from planner.models import Task
from todoist_sync import services
from todoist_sync.models import SyncRun, TodoistTaskMap

State = TodoistTaskMap.SyncState


def make_task(user: Any, title: str = "A task", **fields: Any) -> Task:
    """A task of `user`; other fields as keywords."""
    return Task.objects.create(user=user, title=title, **fields)


def make_map(
    user: Any,
    *,
    title: str = "A task",
    state: str = State.SYNCED,
    permanent: bool = False,
    **fields: Any,
) -> TodoistTaskMap:
    """A task of `user` and its mapping in `state`.

    An error mapping has what failed pushes leave (3 attempts, a validation error and, when
    permanent, the fingerprint that failed) unless `fields` say otherwise.
    """
    task = make_task(user, title)
    if state == State.ERROR:
        fields.setdefault("attempts", 3)
        fields.setdefault("last_error", "validation: content: too long")
    if permanent:
        fields.setdefault("failed_fingerprint", "f" * 16)
    return TodoistTaskMap.objects.create(
        user=user,
        local_task=task,
        request_id=f"req-{task.pk}",
        sync_state=state,
        error_permanent=permanent,
        **fields,
    )


def staff_client(*codenames: str, every_permission: bool = False) -> Client:
    """A client logged in as a new staff user, not a superuser: `staff-<codenames>` holding the
    permissions `codenames`, or with `every_permission` `staff` holding every one there is."""
    username = "staff" if every_permission else "staff-" + "-".join(codenames)
    staff = get_user_model().objects.create_user(username=username, password="pw", is_staff=True)
    permissions = Permission.objects.all()
    if not every_permission:
        permissions = permissions.filter(codename__in=codenames)
    staff.user_permissions.set(permissions)
    client = Client()
    client.force_login(staff)
    return client


def run_sync(user: Any, **kwargs: Any) -> SyncRun:
    """One run of the engine for `user`, inline as the job runs it; it never sleeps unless
    given a `sleep`."""
    kwargs.setdefault("sleep", lambda seconds: None)
    return services.sync_run_execute(user_id=user.pk, **kwargs)


def sim_tasks(sim: Any, account: str = "alice") -> list[dict]:
    """The tasks an account holds at the simulator, without the deleted ones."""
    return [task for task in sim.tasks(account) if not task["is_deleted"]]


def run_through_every_failure(user: Any, sim: Any, token: str, settings: Any) -> None:
    """Runs of `user` that meet every failure the engine handles, so a test can scan what they
    wrote and logged for the token: 5xx, 429, lost answers, a revoked token and no server."""
    from todoist_sync.models import RateBudget

    settings.TODOIST_USE_BATCH = False
    for i in range(3):
        make_task(user, f"Leak{i}")
    for faults in (
        {"error_rate": 1.0},
        {"error_rate": 0.0, "rate_limit_429_rate": 1.0},
        {"rate_limit_429_rate": 0.0, "lost_answer_rate": 1.0},
    ):
        sim.configure(**faults)
        RateBudget.objects.update(blocked_until=None)
        run_sync(user, retry_errors=True)
    settings.TODOIST_API_TOKEN = token + "-revoked"
    run_sync(user, retry_errors=True)
    settings.TODOIST_API_URL = "http://127.0.0.1:9/api/v1"  # nothing listens: connection error
    settings.TODOIST_API_TOKEN = token
    RateBudget.objects.update(blocked_until=None)
    run_sync(user, retry_errors=True)
