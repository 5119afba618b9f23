"""Create (or refresh) a demo user with tasks in every status, and print a new API key.

The key is knox's (only its digest is stored), so each run makes a new one; earlier ones keep
working. The last line is `API token: <key>`, which the demo harness reads."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from knox.models import get_token_model

from planner.models import Task

DEMO_TITLES = [
    "Renew passport",
    "Book dentist",
    "Pay rent",
    "Water the plants",
    "Call grandma",
    "Fix the bike light",
    "Buy birthday present",
    "Back up the laptop",
    "File expenses",
    "Plan weekend hike",
    "Read chapter 4",
    "Clean the fridge",
    "Cancel old gym membership",
    "Order printer ink",
    "Reply to Anna",
    "Update CV",
    "Pick up parcel",
    "Defrost freezer",
    "Book train tickets",
    "Sort out recycling",
    "Buy light bulbs",
    "Return library books",
    "Check car tyres",
    "Write thank-you notes",
    "Prepare slides",
    "Review budget",
    "Schedule vet visit",
    "Change bed sheets",
    "Try the new recipe",
    "Backup photos",
]


class Command(BaseCommand):
    help = "Create a demo user with a few dozen tasks in every status and print its API token."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--tasks", type=int, default=len(DEMO_TITLES))
        parser.add_argument("--chat", type=int, default=1001, help="Telegram chat id of the tasks.")

    @transaction.atomic
    def handle(self, *args, **options):
        username, count, chat_id = options["username"], options["tasks"], options["chat"]
        if count < 0:
            raise CommandError("--tasks must be 0 or more.")
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save()
        if Task.objects.filter(user=user).exists():
            self.stdout.write(f"User {username!r} already has tasks; leaving them as they are.")
        else:
            statuses = ["open", "open", "blocked", "done"]
            today = timezone.localdate()
            Task.objects.bulk_create(
                Task(
                    user=user,
                    chat_id=chat_id,
                    title=DEMO_TITLES[i % len(DEMO_TITLES)]
                    + ("" if i < len(DEMO_TITLES) else f" #{i}"),
                    description="Seeded by seed_demo." if i % 3 == 0 else "",
                    status=statuses[i % len(statuses)],
                    priority=1 + i % 4,
                    due_date=today + datetime.timedelta(days=i % 10) if i % 2 == 0 else None,
                )
                for i in range(count)
            )
        _, key = get_token_model().objects.create(user=user)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo user {username!r}: {Task.objects.filter(user=user).count()} tasks."
            )
        )
        self.stdout.write(f"API token: {key}")
