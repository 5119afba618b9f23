"""`manage.py todoist_simulator`: run the local Todoist API simulator (NOT Todoist).

A thin wrapper around `todoist_sim.main(argv)`: every argument is the simulator's own, exactly as
`python -m todoist_sim` takes them, e.g.

    python manage.py todoist_simulator --port 8765 --latency-ms 20 --verbose
    TODOIST_SIM_TOKENS=dev-token python manage.py todoist_simulator --port 0

Then point the sync at it: TODOIST_API_URL=http://127.0.0.1:8765/api/v1 and a token it accepts.
It listens on loopback only unless given --allow-remote, and stops on Ctrl-C or SIGTERM.

It lives in planner, this repository's site, and not in todoist_sync: the simulator is a tool of
this repository (demo, tests, benchmarks), so the app's wheel ships neither it nor a command that
would fail to import it.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from todoist_sim import main

# Handled by manage.py itself before the command runs; not the simulator's to parse.
_DJANGO_OPTIONS = ("--settings", "--pythonpath")


class Command(BaseCommand):
    help = (
        "Run the local Todoist API v1 simulator (NOT Todoist) until Ctrl-C. Arguments are those "
        "of `python -m todoist_sim`; see `manage.py todoist_simulator --help`."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument(
            "sim_args",
            nargs="*",
            metavar="ARG",
            help="arguments of the simulator, e.g. --port 0 --latency-ms 20 (after `--` when "
            "given to call_command)",
        )

    def run_from_argv(self, argv: list[str]) -> None:
        # Django's parser would refuse the simulator's options: hand them all to its own parser,
        # which also answers --help.
        raise SystemExit(main(_without_django_options(argv[2:])))

    def handle(self, *args, **options):
        code = main(list(options["sim_args"]))
        if code:
            raise CommandError(f"the simulator exited with status {code}")


def _without_django_options(args: list[str]) -> list[str]:
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in _DJANGO_OPTIONS:
            skip = True
            continue
        if arg.startswith(tuple(option + "=" for option in _DJANGO_OPTIONS)):
            continue
        kept.append(arg)
    return kept
