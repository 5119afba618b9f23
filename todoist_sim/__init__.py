"""A local Todoist API v1 simulator. This is NOT Todoist.

It serves a subset of Todoist's API v1 (tasks and projects REST endpoints, completed tasks,
/user, /sync item and project commands and incremental reads) from memory on a loopback
address, with switchable faults, for demos, end-to-end tests, fault soaks and benchmarks.
Nothing is ever sent to Todoist. Each account has an Inbox, one or more tokens and its own
limits (including full syncs); dues may recur ("every day"), carry times and time zones;
projects may be archived. `Simulator.person_*` (or `/__sim__/person/...`) changes an account's
data the way a person in the Todoist app would.

    with Simulator(SimConfig(), ["dev-token"]) as sim:
        requests.get(sim.url + "/tasks", headers={"Authorization": "Bearer dev-token"})

The defaults are kind where Todoist is undocumented; `WORST_CASE` (Todoist's real limits and
the worst plausible undocumented behaviour) is applied by `Simulator(worst_case=True)`,
`python -m todoist_sim --worst-case` or `POST /__sim__/config/worst-case`.

CLI: `python -m todoist_sim --port 8765 --token TOKEN [--worst-case]`.
"""

from __future__ import annotations

from todoist_sim.cli import main
from todoist_sim.config import WORST_CASE, SimConfig
from todoist_sim.server import Simulator, is_loopback_host
from todoist_sim.store import ApiError

__all__ = ["WORST_CASE", "ApiError", "SimConfig", "Simulator", "is_loopback_host", "main"]
