"""`manage.py sync_todoist`: the command-line way to run, queue or preview a sync.

It calls the same services as the job, the API and the admin (`sync_run_execute`,
`sync_enqueue`, `sync_plan`), so all three show the same truth. On a terminal, a round of more
than a few batches shows a progress bar (tqdm) instead of a line per batch.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from contextlib import ExitStack
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import Truncator

from todoist_sync import selectors, services
from todoist_sync.conf import conf
from todoist_sync.models import SyncRun
from todoist_sync.services.planning import PLANNED_ACTIONS, Action

try:
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm
except ImportError:  # optional for this app: plain lines without it
    tqdm = None

# Usage errors exit with 2 (as argparse's own), so scripts can tell them from sync errors (1).
USAGE = 2

# The engine's progress lines that feed the bar.
ROUND = re.compile(r"round: (\d+) task\(s\) to push")
SENT = re.compile(r"batch \d+: (\d+) commands sent")
PUSHED = re.compile(r"(\d+)/\d+ tasks pushed")


class ProgressBar:
    """A bar for each round of more than `min_tasks` tasks, moved by the engine's progress
    lines (commands sent, against the round's tasks); other lines, and log lines to the
    console, print above it."""

    def __init__(self, stream: IO[str], label: str, min_tasks: int) -> None:
        self.stream, self.label, self.min_tasks = stream, label, min_tasks
        self.bar: Any = None
        self.redirect = ExitStack()

    def show(self, line: str) -> bool:
        """Return whether the bar took the line (else the caller prints it as usual)."""
        if match := ROUND.fullmatch(line):
            self.close()
            tasks = int(match[1])
            if tasks <= self.min_tasks:
                return False
            self.bar = tqdm(
                total=tasks, desc=self.label, unit="task", file=self.stream, dynamic_ncols=True
            )
            self.redirect.enter_context(logging_redirect_tqdm())
            return True
        if self.bar is None:
            return False
        if match := SENT.fullmatch(line):
            self.bar.update(min(int(match[1]), self.bar.total - self.bar.n))
        elif match := PUSHED.fullmatch(line):
            self.bar.update(int(match[1]) - self.bar.n)
        elif line.startswith("done:"):
            self.close()
            return False
        else:
            self.bar.write(f"{self.label}: {line}", file=self.stream)
        return True

    def close(self) -> None:
        if self.bar is not None:
            self.redirect.close()
            self.bar.close()
            self.bar = None


def users_by_name(usernames: list[str]) -> list[Any]:
    """The named users in the order given. Raises CommandError naming any unknown one."""
    user_model = get_user_model()
    field = user_model.USERNAME_FIELD
    names = list(dict.fromkeys(usernames))
    found = {getattr(u, field): u for u in user_model.objects.filter(**{f"{field}__in": names})}
    missing = [name for name in names if name not in found]
    if missing:
        raise CommandError(f"Unknown user(s): {', '.join(missing)}.", returncode=USAGE)
    return [found[name] for name in names]


class Command(BaseCommand):
    help = (
        "Sync local tasks to Todoist now (or queue the job with --enqueue, or preview with "
        "--dry-run). Exit status 0 when no task ended in error, 1 when some did, 2 for bad "
        "arguments."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--user",
            action="append",
            dest="usernames",
            default=[],
            metavar="USERNAME",
            help="Sync this user (repeatable).",
        )
        parser.add_argument(
            "--all",
            action="store_true",
            dest="all_users",
            help="Sync every user with tasks (users without a Todoist token are skipped).",
        )
        parser.add_argument(
            "--chat", type=int, dest="chat_id", metavar="ID", help="Only this Telegram chat."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print what would be created, updated, closed, reopened or skipped, and why; "
            "send and write nothing.",
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Queue the sync.todoist job for a worker, print its id and return.",
        )
        parser.add_argument(
            "--retry-errors",
            action="store_true",
            help="Try tasks with errors now, permanent ones included.",
        )
        parser.add_argument(
            "--reconcile",
            action="store_true",
            help="First compare with Todoist (one read an account) and restore, or report, "
            "what a person changed there (TODOIST_DRIFT_POLICY).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        usernames = options["usernames"]
        all_users = options["all_users"]
        chat_id = options["chat_id"]
        dry_run = options["dry_run"]
        enqueue = options["enqueue"]
        retry_errors = options["retry_errors"]
        reconcile = options["reconcile"]
        self.verbosity = options["verbosity"]
        self.traceback = options["traceback"]

        if bool(usernames) == all_users:
            raise CommandError("Give --user USERNAME (repeatable) or --all.", returncode=USAGE)
        if dry_run and enqueue:
            raise CommandError("--dry-run and --enqueue exclude each other.", returncode=USAGE)
        if dry_run and reconcile:
            raise CommandError(
                "--dry-run sends nothing; --reconcile reads Todoist: drop one.", returncode=USAGE
            )
        if enqueue and retry_errors:
            raise CommandError(
                "--retry-errors works on an inline run only: drop --enqueue.", returncode=USAGE
            )
        users = list(selectors.sync_users()) if all_users else users_by_name(usernames)
        if not users and self.verbosity >= 1:
            self.stdout.write("No user has tasks: nothing to sync.")

        problems = Counter()
        for user in users:
            if dry_run:
                self._plan(user, chat_id=chat_id, retry_errors=retry_errors)
                continue
            try:
                services.todoist_token_for(user_id=user.pk)
            except services.NoTodoistToken as exc:
                if all_users:
                    # --all means "everyone who can be synced"; not connecting is not an error.
                    if self.verbosity >= 1:
                        self.stdout.write(self.style.WARNING(f"{user}: skipped ({exc.detail})"))
                else:
                    self.stderr.write(f"{user}: {exc.detail}")
                    problems["users without a Todoist token"] += 1
                continue
            if enqueue:
                run = services.sync_enqueue(
                    user=user, chat_id=chat_id, trigger="command", reconcile=reconcile
                )
                self.stdout.write(self.style.SUCCESS(f"{user}: queued job {run.job_id}"))
                continue
            run = self._run(user, chat_id=chat_id, retry_errors=retry_errors, reconcile=reconcile)
            if run is None or run.state == SyncRun.State.FAILED:
                problems["failed runs"] += 1
            elif run.failed:
                problems["tasks in error"] += run.failed

        if problems:
            detail = ", ".join(f"{what}: {count}" for what, count in sorted(problems.items()))
            raise CommandError(f"Not everything was synced: {detail}.", returncode=1)

    # -- one user -------------------------------------------------------------------------------

    def _run(
        self, user: Any, *, chat_id: int | None, retry_errors: bool, reconcile: bool = False
    ) -> SyncRun | None:
        job_id = uuid.uuid4().hex
        if self.verbosity >= 1:
            self.stdout.write(f"{user}: syncing {self._scope(chat_id)} (job {job_id})")

        bar = self._progress_bar(user)

        def progress(line: str) -> None:
            if bar is not None and bar.show(line):
                return
            # The engine's closing "done: ..." line says what the summary below says: detail.
            if self.verbosity >= (2 if line.startswith("done:") else 1):
                self.stdout.write(f"{user}: {line}")

        try:
            run = services.sync_run_execute(
                user_id=user.pk,
                chat_id=chat_id,
                job_id=job_id,
                trigger="command",
                retry_errors=retry_errors,
                reconcile=reconcile,
                progress=progress,
            )
        except Exception as exc:
            if bar is not None:
                bar.close()
            if self.traceback:
                raise
            # The run records the failure; the other users still get their sync.
            self.stderr.write(
                self.style.ERROR(f"{user}: internal error ({type(exc).__name__}), job {job_id}")
            )
            return None
        self._summary(user, run)
        return run

    def _progress_bar(self, user: Any) -> ProgressBar | None:
        """A bar on a terminal, for rounds over two batches; None elsewhere (tests, CI, a pipe),
        where each batch prints its line."""
        if tqdm is None or self.verbosity < 1 or not self.stdout.isatty():
            return None
        # The terminal itself: Django's OutputWrapper ends every write with a newline.
        return ProgressBar(self.stdout._out, str(user), 2 * max(1, conf.TODOIST_BATCH_SIZE))

    def _summary(self, user: Any, run: SyncRun) -> None:
        counts = (
            f"created {run.created}, updated {run.updated}, closed {run.closed}, "
            f"reopened {run.reopened}, unchanged {run.unchanged}, skipped {run.skipped}, "
            f"failed {run.failed}"
        )
        line = f"{user}: {run.state}: {counts}"
        if run.error_summary:
            line += f" ({Truncator(run.error_summary).chars(160)})"
        if run.state == SyncRun.State.FAILED or run.failed:
            self.stdout.write(self.style.ERROR(line))
        elif run.state == SyncRun.State.DEFERRED:
            self.stdout.write(self.style.WARNING(line))
        elif self.verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(line))
        if self.verbosity >= 2 and run.failed:
            for mapping in selectors.recent_errors(user_id=user.pk, limit=20):
                self.stdout.write(
                    f"  task {mapping.local_task_id} "
                    f"{Truncator(mapping.task_title).chars(60)!r}: {mapping.last_error}"
                )

    def _plan(self, user: Any, *, chat_id: int | None, retry_errors: bool) -> None:
        decisions = services.sync_plan(user_id=user.pk, chat_id=chat_id, retry_errors=retry_errors)
        if self.verbosity >= 1:
            self.stdout.write(f"{user}: dry run of {self._scope(chat_id)}; nothing is sent")
        for d in decisions:
            # Unchanged tasks are the bulk of a settled account: detail only.
            if self.verbosity >= 2 or (self.verbosity >= 1 and d.action != Action.UNCHANGED):
                title = Truncator(d.task.title).chars(60)
                self.stdout.write(f"  {d.action:<9} task {d.task.id} {title!r}: {d.reason}")
        tally = Counter(d.action for d in decisions)
        would = ", ".join(f"{action} {tally[action]}" for action in PLANNED_ACTIONS)
        rest = ", ".join(
            f"{action} {tally[action]}"
            for action in (Action.SKIP, Action.INVALID, Action.UNCHANGED)
        )
        if self.verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(f"{user}: would {would}; {rest}"))

    @staticmethod
    def _scope(chat_id: int | None) -> str:
        return "all chats" if chat_id is None else f"chat {chat_id}"
