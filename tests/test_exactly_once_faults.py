"""Exactly once under lost answers: a create whose answer is lost is never made twice, whatever
the task does next (issue #17).

Todoist dedupes a replayed command uuid but (worst case, the simulator's default) repeats no
`temp_id_mapping`, and a temp_id means something only inside the request that defines it. So a
command naming a replayed create's temp_id answers "not found", and "not found" alone must never
make a task count as deleted in Todoist.
"""

from __future__ import annotations

import pytest

from planner.models import Task
from todoist_sync import services
from todoist_sync.models import TodoistChatProject, TodoistTaskMap

pytestmark = pytest.mark.django_db

CHAT = 7


@pytest.fixture(autouse=True)
def no_sync_on_save(settings):
    settings.TODOIST_SYNC_ON_CHANGE = False


def run(user, **kwargs):
    return services.sync_run_execute(user_id=user.pk, **kwargs)


def copies(sim, title: str) -> list[dict]:
    """The live Todoist tasks made for a local task (titles are unique in these tests)."""
    return [t for t in sim.tasks("alice") if not t.get("is_deleted") and t["content"] == title]


def has_add(commands: list[dict]) -> bool:
    return any(c["type"] == "item_add" for c in commands)


def only_adds(commands: list[dict]) -> bool:
    return bool(commands) and all(c["type"] in ("item_add", "project_add") for c in commands)


def settle(user, runs: int = 4) -> None:
    """What an operator does after an outage: run again, and again with --retry-errors."""
    run(user)
    for _ in range(runs):
        run(user, retry_errors=True)


def test_a_task_created_done_whose_answer_is_lost_exists_once(user, sim):
    # The create and the close naming its temp_id go in one batch; Todoist applies both and
    # the answer is lost.
    task = Task.objects.create(user=user, title="created done", status=Task.Status.DONE)
    sim.lose_next(when=has_add)
    run(user)
    settle(user)
    [remote] = copies(sim, "created done")
    assert remote["checked"] is True
    mapping = TodoistTaskMap.objects.get(local_task_id=task.pk)
    assert mapping.todoist_task_id == remote["id"]
    assert mapping.sync_state == TodoistTaskMap.SyncState.SYNCED


@pytest.mark.parametrize(
    "change",
    ["done", "renamed", "reopened", "moved", "due"],
)
def test_a_create_whose_answer_is_lost_then_a_local_change_exists_once(user, sim, change):
    status = Task.Status.DONE if change == "reopened" else Task.Status.OPEN
    task = Task.objects.create(user=user, title="lost create", status=status, chat_id=CHAT)
    sim.lose_next(when=only_adds)
    run(user)
    title = "lost create"
    if change == "done":
        task.status = Task.Status.DONE
    elif change == "renamed":
        title = task.title = "lost create, renamed"
    elif change == "reopened":
        task.status = Task.Status.OPEN
    elif change == "due":
        task.due_date = "2026-12-24"
    task.save()
    if change == "moved":
        TodoistChatProject.objects.create(user=user, chat_id=CHAT, project_name="Errands")
    settle(user)
    everything = [t for t in sim.tasks("alice") if not t.get("is_deleted")]
    assert len(everything) == 1, everything
    [remote] = copies(sim, title)
    assert remote["checked"] is (task.status == Task.Status.DONE)
    if change == "moved":
        # On the shared token each user has projects of their own (TODOIST_SHARED_PROJECT_NAME).
        [errands] = [p for p in sim.projects("alice") if p["name"] == "Errands (alice)"]
        assert remote["project_id"] == errands["id"]
    if change == "due":
        assert remote["due"]["date"] == "2026-12-24"
    mapping = TodoistTaskMap.objects.get(local_task_id=task.pk)
    assert mapping.todoist_task_id == remote["id"]
    assert mapping.sync_state == TodoistTaskMap.SyncState.SYNCED


def test_a_request_cut_off_after_the_create_does_not_make_a_second_task(user, sim):
    # Todoist ran the create but not the close that named its temp_id, then the connection
    # dropped: the close must never go out again beside the replayed create (whose temp_id
    # means nothing there), and its "not found" must never count as deleted.
    task = Task.objects.create(user=user, title="cut off", status=Task.Status.DONE)
    sim.lose_next(when=has_add, applied=2)  # the project_add and the item_add
    run(user)
    settle(user)
    [remote] = copies(sim, "cut off")
    assert remote["checked"] is True
    mapping = TodoistTaskMap.objects.get(local_task_id=task.pk)
    assert (mapping.todoist_task_id, mapping.sync_state) == (remote["id"], "synced")


@pytest.fixture
def sent(monkeypatch) -> list[list[dict]]:
    """The /sync requests' commands, as the engine sent them (a spy on the client's seam)."""
    from todoist_sync.todoist import TodoistClient

    requests: list[list[dict]] = []
    real = TodoistClient.sync

    def spy(self, commands=(), **kwargs):
        if commands:
            requests.append([dict(c) for c in commands])
        return real(self, commands, **kwargs)

    monkeypatch.setattr(TodoistClient, "sync", spy)
    return requests


def test_a_resent_create_goes_alone_until_its_id_is_known(user, sim, sent):
    task = Task.objects.create(user=user, title="resent", status=Task.Status.DONE)
    sim.lose_next(when=has_add)
    run(user)
    [first] = [r for r in sent if has_add(r)]
    add = next(c for c in first if c["type"] == "item_add")
    settle(user)
    for request in sent[1:]:
        if any(c["uuid"] == add["uuid"] for c in request):
            # The replayed create defines no temp_id: nothing in its request may name it.
            assert not [c for c in request if c["args"].get("id") == add["temp_id"]], request
    closes = [c for r in sent for c in r if c["type"] == "item_close"]
    [remote] = copies(sim, "resent")
    assert closes[-1]["args"]["id"] == remote["id"] and remote["checked"] is True
    assert TodoistTaskMap.objects.get(local_task_id=task.pk).sync_state == "synced"


def test_not_found_alone_never_makes_a_task_deleted(user, sim, settings, monkeypatch):
    """Todoist answers "not found" for a task it has (a stale temp_id, a replayed uuid, or a
    task created a moment ago): a read shows the task, and the change goes again."""
    from todoist_sim.store.errors import item_not_found
    from todoist_sim.store.sync import SyncOps

    settings.TODOIST_RECREATE_DELETED = True  # a wrong "deleted" would make a second task
    task = Task.objects.create(user=user, title="still there")
    run(user)
    real = SyncOps._run_command
    refused: list[str] = []

    def once_not_found(self, account, command, temp_ids):
        if command["type"] == "item_close" and not refused:
            refused.append(command["uuid"])
            raise item_not_found()
        return real(self, account, command, temp_ids)

    monkeypatch.setattr(SyncOps, "_run_command", once_not_found)
    task.status = Task.Status.DONE
    task.save()
    first = run(user)
    assert refused and first.failed == 0
    [remote] = copies(sim, "still there")
    assert remote["checked"] is True  # closed by a fresh command in the same run
    mapping = TodoistTaskMap.objects.get(local_task_id=task.pk)
    assert (mapping.todoist_task_id, mapping.sync_state) == (remote["id"], "synced")


def test_a_task_deleted_in_todoist_is_deleted_because_a_read_says_so(user, sim, settings):
    settings.TODOIST_RECREATE_DELETED = False
    task = Task.objects.create(user=user, title="deleted there")
    run(user)
    [remote] = copies(sim, "deleted there")
    sim.person_task("alice", remote["id"], "delete")
    task.title = "deleted there, renamed"
    task.save()
    run(user)
    mapping = TodoistTaskMap.objects.get(local_task_id=task.pk)
    assert mapping.sync_state == "error" and mapping.error_permanent
    assert "deleted in Todoist" in mapping.last_error
    assert not copies(sim, "deleted there, renamed")


def test_a_lost_answer_to_the_request_that_creates_a_project_makes_nothing_twice(user, sim):
    """The project_add and the creates into its temp_id, applied, answer lost."""
    for n in range(3):
        Task.objects.create(
            user=user, title=f"in a new project {n}", chat_id=CHAT, status=["open", "done"][n % 2]
        )
    TodoistChatProject.objects.create(user=user, chat_id=CHAT, project_name="Errands")
    sim.lose_next(when=lambda commands: any(c["type"] == "project_add" for c in commands))
    run(user)
    Task.objects.filter(title="in a new project 0").update(status=Task.Status.DONE)
    settle(user)
    errands = [p for p in sim.projects("alice") if p["name"] == "Errands (alice)"]
    assert len(errands) == 1 and not errands[0].get("is_deleted")
    for n in range(3):
        [remote] = copies(sim, f"in a new project {n}")
        assert remote["project_id"] == errands[0]["id"]
        assert remote["checked"] is (n != 2)  # 1 was created done, 0 made done after the loss


def test_a_lost_answer_to_a_move_into_a_new_project_makes_nothing_twice(user, sim):
    Task.objects.create(user=user, title="moving", chat_id=CHAT)
    run(user)
    TodoistChatProject.objects.create(user=user, chat_id=CHAT, project_name="Errands")
    sim.lose_next(when=lambda commands: any(c["type"] == "item_move" for c in commands))
    run(user, chat_id=CHAT)
    settle(user)
    errands = [p for p in sim.projects("alice") if p["name"] == "Errands (alice)"]
    assert len(errands) == 1
    [remote] = copies(sim, "moving")
    assert remote["project_id"] == errands[0]["id"]


@pytest.mark.parametrize("applied", [None, 1])
def test_single_task_mode_makes_nothing_twice_after_a_lost_answer(user, sim, settings, applied):
    settings.TODOIST_USE_BATCH = False
    task = Task.objects.create(user=user, title="one at a time", status=Task.Status.DONE)
    sim.lose_next(when=has_add, applied=applied)
    run(user)
    task.title = "one at a time, renamed"
    task.save()
    settle(user)
    assert len([t for t in sim.tasks("alice") if not t.get("is_deleted")]) == 1
    [remote] = copies(sim, "one at a time, renamed")
    assert remote["checked"] is True


def test_not_found_on_a_task_completed_in_todoist_reopens_it_and_makes_nothing_twice(
    user, sim, settings, monkeypatch
):
    """Worst case: Todoist refuses an update of a task a person completed as "not found". The
    read finds it in the completed list: not deleted, so never created again; local truth (open,
    renamed) goes over it."""
    from todoist_sim.store.errors import item_not_found
    from todoist_sim.store.sync import SyncOps

    settings.TODOIST_RECREATE_DELETED = True  # a wrong "deleted" would make a second task
    task = Task.objects.create(user=user, title="completed there")
    run(user)
    [remote] = copies(sim, "completed there")
    sim.person_task("alice", remote["id"], "complete")
    real = SyncOps._run_command

    def completed_is_not_found(self, account, command, temp_ids):
        target = account.tasks.get(command.get("args", {}).get("id"))
        if command["type"] == "item_update" and target and target["checked"]:
            raise item_not_found()
        return real(self, account, command, temp_ids)

    monkeypatch.setattr(SyncOps, "_run_command", completed_is_not_found)
    task.title = "completed there, renamed"
    task.save()
    first = run(user)
    assert first.failed == 0
    live = [t for t in sim.tasks("alice") if not t.get("is_deleted")]
    assert [(t["id"], t["content"], t["checked"]) for t in live] == [
        (remote["id"], "completed there, renamed", False)
    ]
    mapping = TodoistTaskMap.objects.get(local_task_id=task.pk)
    assert (mapping.todoist_task_id, mapping.sync_state) == (remote["id"], "synced")
