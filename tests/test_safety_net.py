"""The safety-net sweep: one schedule for everyone, installed by migrate, spread over its
interval, reaching users added after deployment whose tasks no signal announced."""

from __future__ import annotations

import ast
import datetime
import importlib
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler

from planner.models import Task
from todoist_sim import SimConfig, Simulator
from todoist_sync import selectors
from todoist_sync.models import SyncRun, TodoistCredential
from todoist_sync.services import enqueue, safety_net

pytestmark = pytest.mark.django_db

TOKEN = "sim-token-safety-net"


def sweep_schedules() -> list[Schedule]:
    return list(Schedule.objects.filter(name=safety_net.SWEEP_SCHEDULE))


def slice_schedules() -> list[Schedule]:
    return list(
        Schedule.objects.filter(name__startswith=safety_net.SLICE_SCHEDULE_PREFIX).order_by(
            "next_run"
        )
    )


def new_user(name: str, tasks: int = 1):
    user = get_user_model().objects.create_user(username=name)
    # bulk_create sends no post_save: only the safety net can see these.
    Task.objects.bulk_create(Task(user=user, title=f"{name} {n}") for n in range(tasks))
    return user


def test_migrate_installed_one_sweep_for_everyone():
    [schedule] = sweep_schedules()
    assert schedule.func == safety_net.SWEEP_FUNC
    assert schedule.schedule_type == Schedule.MINUTES and schedule.repeats == -1
    assert schedule.minutes == 60  # TODOIST_SAFETY_NET_MINUTES' default


def test_install_is_idempotent_and_follows_the_setting(settings):
    settings.TODOIST_SAFETY_NET_MINUTES = 5
    safety_net.safety_net_install()
    safety_net.safety_net_install()
    [schedule] = sweep_schedules()
    assert schedule.minutes == 5


def test_the_migration_drops_the_per_user_schedules_of_earlier_versions():
    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module(
        "todoist_sync.migrations.0010_drop_legacy_safety_net_schedules"
    )
    Schedule.objects.create(name=f"{migration.LEGACY_SCHEDULE_PREFIX}7", func="x")
    Schedule.objects.create(name="someone else's schedule", func="x")
    # The function reads only the editor's connection (no schema change: a data migration).
    migration.drop_legacy_schedules(apps, SimpleNamespace(connection=connection))
    names = set(Schedule.objects.values_list("name", flat=True))
    assert f"{migration.LEGACY_SCHEDULE_PREFIX}7" not in names
    assert "someone else's schedule" in names


def test_a_user_added_after_deployment_is_synced_by_the_next_sweep(
    settings, django_capture_on_commit_callbacks
):
    """No command run and no signal sent: the scheduler fires the sweep, the sweep queues the
    user's run, and the run puts the tasks in Todoist."""
    with Simulator(SimConfig(seed=3), tokens={"late": TOKEN}) as sim:
        settings.TODOIST_API_URL = sim.url
        settings.TODOIST_API_TOKEN = TOKEN
        late = new_user("late", tasks=3)
        assert not SyncRun.objects.exists()
        Schedule.objects.filter(name=safety_net.SWEEP_SCHEDULE).update(
            next_run=timezone.now() - datetime.timedelta(seconds=1)
        )
        with django_capture_on_commit_callbacks(execute=True):
            scheduler()  # django-q2's scheduler tick; jobs run inline in tests

        run = SyncRun.objects.get(user=late)
        assert (run.trigger, run.state, run.created) == ("safety-net", "succeeded", 3)
        assert sorted(t["content"] for t in sim.tasks("late")) == ["late 0", "late 1", "late 2"]
    [schedule] = sweep_schedules()
    assert schedule.next_run > timezone.now()  # and it fires again next interval


def test_the_sweep_spreads_users_over_the_interval(settings, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(enqueue, "queue_job", lambda run: queued.append(run.user_id))
    settings.TODOIST_SAFETY_NET_MINUTES = 5  # 300 s: at most 10 slices, one per scheduler tick
    users = [new_user(f"u{n:02}") for n in range(25)]
    now = timezone.now()

    assert safety_net.safety_net_sweep(now=now) == 25

    first = set(SyncRun.objects.values_list("user_id", flat=True))
    assert len(first) == 2  # only the first of ten even slices is queued at once
    later = slice_schedules()
    assert [len(ast.literal_eval(s.args)[0]) for s in later] == [3, 2, 3, 2, 3, 2, 3, 2, 3]
    offsets = [(s.next_run - now).total_seconds() for s in later]
    assert offsets == pytest.approx([30 * n for n in range(1, 10)])
    covered = [pk for s in later for pk in ast.literal_eval(s.args)[0]]
    assert sorted([*first, *covered]) == sorted(u.pk for u in users)  # each user once


def test_a_slice_skips_users_whose_run_is_queued_or_running(user, other_user, monkeypatch):
    monkeypatch.setattr(enqueue, "queue_job", lambda run: None)
    carol = get_user_model().objects.create_user(username="carol")
    SyncRun.objects.create(job_id="busy-1", user=user, state=SyncRun.State.RUNNING)
    SyncRun.objects.create(job_id="busy-2", user=other_user, state=SyncRun.State.QUEUED)

    ids = [user.pk, other_user.pk, carol.pk]
    assert safety_net.safety_net_slice(user_ids=ids) == 1
    assert SyncRun.objects.filter(trigger="safety-net").get().user == carol


def test_without_a_shared_token_only_users_with_their_own_are_covered(settings, user, other_user):
    settings.TODOIST_API_TOKEN = ""
    Task.objects.create(user=user, title="a")
    Task.objects.create(user=other_user, title="b")
    TodoistCredential.objects.create(user=other_user, token_encrypted="x", token_last4="1234")
    assert list(selectors.safety_net_user_ids()) == [other_user.pk]
    settings.TODOIST_API_TOKEN = "shared"
    assert sorted(selectors.safety_net_user_ids()) == sorted([user.pk, other_user.pk])


def test_the_shared_token_covers_only_the_users_it_syncs(settings, user, other_user):
    carol = get_user_model().objects.create_user(username="carol")
    for owner in (user, other_user, carol):
        Task.objects.create(user=owner, title="t")
    TodoistCredential.objects.create(user=other_user, token_encrypted="x", token_last4="1234")
    del settings.TODOIST_SHARED_TOKEN_USERS  # the default: nobody
    assert list(selectors.safety_net_user_ids()) == [other_user.pk]
    settings.TODOIST_SHARED_TOKEN_USERS = "carol"
    assert sorted(selectors.safety_net_user_ids()) == sorted([other_user.pk, carol.pk])


def test_a_smaller_sweep_removes_the_slices_of_a_bigger_one(settings, monkeypatch):
    monkeypatch.setattr(enqueue, "queue_job", lambda run: None)
    settings.TODOIST_SAFETY_NET_MINUTES = 5
    users = [new_user(f"v{n}") for n in range(4)]
    safety_net.safety_net_sweep()
    assert len(slice_schedules()) == 3
    Task.objects.filter(user__in=users[1:]).delete()
    safety_net.safety_net_sweep()
    assert slice_schedules() == []
