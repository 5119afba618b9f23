"""django-q2 entry points: thin callers of the services, enqueued under the group `sync.todoist`."""

from __future__ import annotations

from typing import Any

from todoist_sync import services
from todoist_sync.services import safety_net


def sync_todoist(
    user_id: int,
    chat_id: int | None = None,
    *,
    job_id: str | None = None,
    task_ids: list[int] | None = None,
    trigger: str = "api",
) -> dict[str, Any]:
    """The `sync.todoist` job: one run of the sync engine for a user (and optionally a chat)."""
    run = services.sync_run_execute(
        user_id=user_id, chat_id=chat_id, task_ids=task_ids, job_id=job_id, trigger=trigger
    )
    return {"job_id": run.job_id, "state": run.state, "failed": run.failed}


def safety_net_sweep() -> dict[str, Any]:
    """The periodic safety-net sweep (one schedule for everyone, installed on migrate)."""
    return {"users": safety_net.safety_net_sweep()}


def safety_net_slice(user_ids: list[int]) -> dict[str, Any]:
    """One slice of a sweep: queue a run of each of these users not already queued or running."""
    return {"queued": safety_net.safety_net_slice(user_ids=user_ids)}


def todoist_token_revoke(revocation_id: int) -> dict[str, Any]:
    """Revoke one disconnected OAuth token at Todoist (retried by its own schedule)."""
    from todoist_sync.services.revocations import revocation_attempt

    return {"revoked": revocation_attempt(revocation_id=revocation_id)}
