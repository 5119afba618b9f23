"""`manage.py todoist_schedules`: show (and install, if missing) the safety-net sweep.

The sweep is one django-q2 schedule for everyone, installed by every `migrate`, so this command
is never required. It is safe to run at any time (deploys, cron): it updates the schedule in
place, removes the per-user schedules of earlier versions, and says how many users the next
sweep covers.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from todoist_sync import selectors, services


class Command(BaseCommand):
    help = (
        "Install or update the periodic safety-net sweep (migrate does this too) and show how "
        "many users it covers."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = options["verbosity"]
        schedule = services.safety_net_install()
        covered = list(selectors.safety_net_user_ids())
        if verbosity >= 2:
            self.stdout.write(f"  next sweep at {schedule.next_run.isoformat()}")
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Safety-net sweep every {schedule.minutes} minutes; it covers "
                    f"{len(covered)} user(s) now, and users added later by themselves."
                )
            )
