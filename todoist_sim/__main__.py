"""`python -m todoist_sim`: run the local Todoist API simulator (NOT Todoist)."""

from __future__ import annotations

from todoist_sim.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
