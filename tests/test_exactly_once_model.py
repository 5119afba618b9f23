"""A model-based test of exactly once (issue #17): hypothesis drives two users' local tasks,
the sync, lost answers, 5xx, and a person editing in Todoist, in whatever order it likes, and
checks after every step that no local task has two Todoist tasks and no mapping points at
another user's task; at the end, with the faults off, that two quiet runs leave Todoist showing
every local task as it is (nothing lost).

The simulator serves on loopback from this process. `make test` runs a small, derandomized
budget of examples; `make soak` (SOAK_SIZE=large) a large, random one.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from planner.models import Task
from tests.reliability_helpers import LARGE, sized
from todoist_sync import services
from todoist_sync.models import (
    RateBudget,
    SyncLease,
    SyncRun,
    TodoistAccount,
    TodoistChatProject,
    TodoistProject,
    TodoistTaskMap,
)

pytestmark = [pytest.mark.django_db, pytest.mark.soak]

EXAMPLES = sized(15, 300)
STEPS = sized(25, 50)


def key(content: str) -> str:
    """The local task a Todoist task was made for: titles are "U<user>-T<n>", renames append."""
    return content.split(" ~")[0]


class ExactlyOnce(RuleBasedStateMachine):
    sim = None  # set by the test
    users: list = []

    def __init__(self) -> None:
        super().__init__()
        self.sim.reset()
        for model in (RateBudget, SyncLease, SyncRun, TodoistTaskMap, TodoistProject):
            model.objects.all().delete()
        TodoistAccount.objects.all().delete()
        Task.objects.all().delete()
        TodoistChatProject.objects.all().delete()
        for user in self.users:
            TodoistChatProject.objects.create(user=user, chat_id=2, project_name="Errands")
        self.tasks: list[Task] = []
        self.renames = 0

    # -- the local side ------------------------------------------------------------------------

    @rule(owner=st.integers(0, 1), done=st.booleans(), chat=st.sampled_from([1, 2]))
    def create(self, owner: int, done: bool, chat: int) -> None:
        status = Task.Status.DONE if done else Task.Status.OPEN
        title = f"U{owner}-T{len(self.tasks)}"
        self.tasks.append(
            Task.objects.create(user=self.users[owner], title=title, status=status, chat_id=chat)
        )

    @precondition(lambda self: self.tasks)
    @rule(
        data=st.data(),
        change=st.sampled_from(["rename", "done", "open", "blocked", "chat", "archive"]),
    )
    def edit(self, data: st.DataObject, change: str) -> None:
        task = data.draw(st.sampled_from(self.tasks))
        if change == "rename":
            self.renames += 1
            task.title = f"{key(task.title)} ~{self.renames}"
        elif change == "chat":
            task.chat_id = 3 - (task.chat_id or 1)
        elif change == "archive":
            task.archived = True
        else:
            task.status = change
        task.save()

    # -- the sync --------------------------------------------------------------------------------

    @rule(owner=st.integers(0, 1), retry=st.booleans(), reconcile=st.booleans())
    def sync(self, owner: int, retry: bool, reconcile: bool) -> None:
        services.sync_run_execute(
            user_id=self.users[owner].pk,
            retry_errors=retry,
            reconcile=reconcile,
            sleep=lambda seconds: None,
        )

    # -- faults and the person in Todoist ------------------------------------------------------

    @rule(applied=st.one_of(st.none(), st.integers(0, 3)))
    def lose_next_answer(self, applied: int | None) -> None:
        self.sim.lose_next(applied=applied)

    @rule()
    def fail_next_request(self) -> None:
        self.sim.fail_next()

    @precondition(lambda self: TodoistTaskMap.objects.exclude(todoist_task_id=None).exists())
    @rule(data=st.data(), action=st.sampled_from(["describe", "complete", "reopen", "delete"]))
    def person_in_todoist(self, data: st.DataObject, action: str) -> None:
        ids = list(
            TodoistTaskMap.objects.exclude(todoist_task_id=None).values_list(
                "todoist_task_id", flat=True
            )
        )
        todoist_id = data.draw(st.sampled_from(sorted(ids)))
        live = {t["id"]: t for t in self.sim.tasks("alice") if not t.get("is_deleted")}
        if todoist_id not in live:
            return
        if action == "describe":
            self.sim.person_task("alice", todoist_id, "update", description="the person's note")
        else:
            self.sim.person_task("alice", todoist_id, action)

    # -- invariants ------------------------------------------------------------------------------

    def live(self) -> list[dict]:
        return [t for t in self.sim.tasks("alice") if not t.get("is_deleted")]

    @invariant()
    def at_most_one_todoist_task_per_local_task(self) -> None:
        copies = Counter(key(t["content"]) for t in self.live())
        assert not [k for k, n in copies.items() if n > 1], copies.most_common(3)

    @invariant()
    def no_mapping_points_at_another_users_task(self) -> None:
        content = {t["id"]: t["content"] for t in self.sim.tasks("alice")}
        owners = {u.pk: f"U{n}-" for n, u in enumerate(self.users)}
        for mapping in TodoistTaskMap.objects.exclude(todoist_task_id=None):
            if mapping.todoist_task_id in content:
                assert content[mapping.todoist_task_id].startswith(owners[mapping.user_id])

    def teardown(self) -> None:
        """With the faults off, two quiet runs per user leave nothing lost (the run is the
        safety net's: a reconcile first, then pushes, as often as they find work)."""
        self.sim.clear_faults()
        for user in self.users:
            services.sync_run_execute(user_id=user.pk, reconcile=True, retry_errors=True)
            for _ in range(3):
                services.sync_run_execute(user_id=user.pk, retry_errors=True)
        live = {}
        for t in self.live():
            live.setdefault(key(t["content"]), []).append(t)
        for task in self.tasks:
            task.refresh_from_db()
            pushed = TodoistTaskMap.objects.filter(local_task=task).exists()
            if task.archived and not pushed:
                continue  # archived before it was ever pushed: never sent, by design
            [remote] = live.get(key(task.title), [None])
            assert remote is not None, f"{task.title} is not in Todoist"
            assert remote["content"] == task.title
            closed = task.archived or task.status == Task.Status.DONE
            assert remote["checked"] is closed, (task.title, task.status, task.archived)


def test_exactly_once_whatever_the_order_of_changes_faults_and_edits(sim, settings, db):
    settings.TODOIST_SYNC_ON_CHANGE = False
    settings.TODOIST_RECREATE_DELETED = True  # a task a person deleted comes back: local truth
    User = get_user_model()
    ExactlyOnce.sim = sim
    ExactlyOnce.users = [
        User.objects.create_user(username="alice"),
        User.objects.create_user(username="bob"),
    ]
    run = hypothesis_settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        database=None,
        derandomize=not LARGE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(ExactlyOnce, settings=run)
