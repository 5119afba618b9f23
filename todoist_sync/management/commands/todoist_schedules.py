"""`manage.py todoist_schedules`: the periodic safety-net sync of each user (django-q2 schedules).

Sync on change misses what Django sends no signal for (`QuerySet.update()`, `bulk_create()`, a
lost job); the safety net picks it up every TODOIST_SAFETY_NET_MINUTES. Safe to run again
(deploys, cron): each user has one schedule, updated in place.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from todoist_sync import selectors, services
from todoist_sync.conf import conf
from todoist_sync.management.commands.sync_todoist import USAGE, users_by_name


class Command(BaseCommand):
    help = (
        "Create or update the periodic safety-net Todoist sync of every user with tasks and a "
        "Todoist token (or of the users given)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--user",
            action="append",
            dest="usernames",
            default=[],
            metavar="USERNAME",
            help="Only this user (repeatable); default: every user with tasks.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        usernames = options["usernames"]
        verbosity = options["verbosity"]

        users = users_by_name(usernames) if usernames else list(selectors.sync_users())
        # A schedule for a user without a token would fail at every run.
        ready, skipped = [], []
        for user in users:
            try:
                services.todoist_token_for(user_id=user.pk)
            except services.NoTodoistToken:
                skipped.append(user)
            else:
                ready.append(user)
        if skipped and verbosity >= 1:
            names = ", ".join(str(u) for u in skipped)
            self.stdout.write(self.style.WARNING(f"Skipped (no Todoist token): {names}"))
        if usernames and skipped:
            raise CommandError("Some users given have no Todoist token.", returncode=USAGE)
        count = services.safety_net_schedule(user_ids=[u.pk for u in ready])
        if verbosity >= 2:
            for user in ready:
                self.stdout.write(f"  {user}")
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Safety-net sync every {conf.TODOIST_SAFETY_NET_MINUTES} minutes "
                    f"scheduled for {count} user(s)."
                )
            )
