"""Every request a run sends: paced by the token's budget, under the run's lease, and what an
error that stops the run does. The pushers (`pushers.py`) send through one `Transport`."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import TypeVar

from django.utils import timezone

from todoist_sync import metrics
from todoist_sync.conf import conf
from todoist_sync.events import EventBuffer, Level
from todoist_sync.exceptions import (
    RunStop,
    TodoistConfigurationError,
    TodoistError,
    TodoistRateLimitedError,
)
from todoist_sync.models import SyncRun
from todoist_sync.services.budget import (
    account_budget_key,
    full_read_key,
    rate_budget_acquire,
    rate_budget_block,
    rate_budget_fold,
)
from todoist_sync.services.lease import current_fence, lease_renew
from todoist_sync.todoist import MAX_IDS_PER_QUERY, SyncResult, TodoistClient

T = TypeVar("T")


class Transport:
    def __init__(
        self,
        *,
        client: TodoistClient,
        budget_key: str,
        run: SyncRun,
        events: EventBuffer,
        sleep: Callable[[float], None],
        progress: Callable[[str], None],
        shared: bool = False,
    ) -> None:
        self.client = client
        self.budget_key = budget_key
        # A shared token's budget is shared fairly between its users (`rate_budget_acquire`).
        self.shared = shared
        self.run = run
        self.user_id = run.user_id
        self.holder = run.job_id
        self.events = events
        self.sleep = sleep
        self.progress = progress

    def send(self, call: Callable[[], T], *, full: bool = False) -> T:
        """One request, within the rate budget; a 429 blocks the budget for everyone. A `full`
        read (`sync_token="*"`) also takes a slot of the account's full-read budget."""
        if full:
            self.acquire_full_read()
        self.acquire()
        try:
            answer = call()
        except TodoistError as exc:
            self.answered(exc)
            raise
        self.answered(None)
        return answer

    def answered(self, error: TodoistError | None) -> None:
        """Every request's end: counted (`todoist_sync.metrics`), and a 429 blocks the budget
        for everyone."""
        metrics.request_answered(error)
        if isinstance(error, TodoistRateLimitedError):
            rate_budget_block(key=self.budget_key, seconds=error.retry_after)

    def acquire(self) -> None:
        """Before every request: renew the lease, then take one slot from the token's budget
        (fairly shared between the users of a shared token): sleep a short wait, stop on a long
        one."""
        self.renew_or_stop()
        while True:
            wait = rate_budget_acquire(
                key=self.budget_key,
                user_id=self.user_id if self.shared else None,
                user_limit=conf.TODOIST_RATE_LIMIT_USER_REQUESTS,
            )
            if wait <= 0:
                break
            if wait > conf.TODOIST_RATE_LIMIT_MAX_WAIT:
                raise RunStop(
                    SyncRun.State.DEFERRED,
                    f"request budget spent; the rest resumes in {wait:.0f} s",
                    timezone.now() + timedelta(seconds=wait),
                )
            self.progress(f"pacing: waiting {wait:.1f} s for the request budget")
            lease_renew(user_id=self.user_id, holder=self.holder)
            metrics.budget_waited(wait)
            self.sleep(wait)
        self.run.requests += 1

    def acquire_full_read(self) -> None:
        """Todoist allows 100 full syncs per 15 minutes per user, apart from the other
        requests: a slot of that budget, or the run ends and resumes when one frees."""
        wait = rate_budget_acquire(
            key=full_read_key(self.budget_key), limit=conf.TODOIST_RATE_LIMIT_FULL_SYNCS
        )
        if wait > 0:
            raise RunStop(
                SyncRun.State.DEFERRED,
                f"full-read budget spent; the rest resumes in {wait:.0f} s",
                timezone.now() + timedelta(seconds=wait),
            )

    def identified(self, todoist_user_id: str) -> None:
        """The token's Todoist account is known now: from here on the run spends the account's
        budget, shared by every token of it; what it spent under the token moves there."""
        key = account_budget_key(todoist_user_id)
        if key == self.budget_key:
            return
        rate_budget_fold(key=self.budget_key, into=key)
        rate_budget_fold(key=full_read_key(self.budget_key), into=full_read_key(key))
        self.budget_key = key

    def renew_or_stop(self) -> None:
        """Renew the lease (ours by holder and fence); a run that lost it stops."""
        fence = current_fence.get()
        if not lease_renew(
            user_id=self.user_id, holder=self.holder, fence=fence.number if fence else None
        ):
            raise RunStop(SyncRun.State.FAILED, "lost the sync lease (the run took too long)")

    def stop_on(self, exc: TodoistError | None) -> None:
        """End the whole run for an error that is not one task's fault."""
        if exc is None or not exc.stops_run:
            return
        resume = self.note_stop(exc)
        raise RunStop(exc.run_state, exc.run_summary, resume)

    def note_stop(self, exc: TodoistError) -> datetime | None:
        """One event for each answer that stops the run (requests in flight at once can all be
        answered 429: none goes unrecorded). Return when the run may resume."""
        resume = None
        data: dict = {"status": exc.status}
        if exc.resume_after is not None:
            resume = timezone.now() + timedelta(seconds=exc.resume_after)
            data = {"retry_after": exc.resume_after, "resume_at": resume.isoformat()}
        self.events.add(Level(exc.event_level), exc.run_event, data)
        return resume

    def sync_outcome(self, in_flight: Future) -> SyncResult | TodoistError:
        """The answer of a `/sync` request sent on another thread, errors as values."""
        try:
            answer = in_flight.result()
        except TodoistError as exc:
            self.answered(exc)
            if exc.task_gone:
                # /sync itself missing is a wrong base URL, not a deleted task.
                return TodoistConfigurationError(
                    "Todoist answered 404 for /sync: check TODOIST_API_URL", status=404
                )
            return exc
        self.answered(None)
        return answer

    def read_labels(
        self, todoist_ids: list[str]
    ) -> tuple[dict[str, list[str]], dict[str, TodoistError]]:
        """Current labels of these Todoist tasks, and the read errors by Todoist id."""
        items, failed = self.read_items(todoist_ids)
        return {t: list(item.get("labels") or []) for t, item in items.items()}, failed

    def read_items(self, todoist_ids: list[str]) -> tuple[dict[str, dict], dict[str, TodoistError]]:
        """These Todoist tasks as they are now (active ones only), and the read errors by id."""
        items: dict[str, dict] = {}
        failed: dict[str, TodoistError] = {}
        for start in range(0, len(todoist_ids), MAX_IDS_PER_QUERY):
            chunk = todoist_ids[start : start + MAX_IDS_PER_QUERY]
            try:
                found = self.send(lambda chunk=chunk: self.client.list_tasks(ids=chunk))
            except TodoistError as exc:
                self.stop_on(exc)
                failed.update(dict.fromkeys(chunk, exc))
                continue
            items.update({str(t["id"]): t for t in found})
        return items, failed


def stop_error(outcome: SyncResult | TodoistError) -> TodoistError | None:
    """The error in a batch's outcome that ends the run (of the request or of one of its
    commands), if any."""
    if isinstance(outcome, TodoistError):
        return outcome if outcome.stops_run else None
    for status in outcome.sync_status.values():
        if isinstance(status, TodoistError) and status.stops_run:
            return status
    return None
