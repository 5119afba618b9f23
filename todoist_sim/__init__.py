"""A local Todoist API v1 simulator. This is NOT Todoist.

It serves a subset of Todoist's API v1 (tasks REST endpoints, /user, /sync item
commands) from memory on a loopback address, with switchable faults, for demos,
end-to-end tests, fault soaks and benchmarks. Nothing is ever sent to Todoist.

    with Simulator(SimConfig(), ["dev-token"]) as sim:
        requests.get(sim.url + "/tasks", headers={"Authorization": "Bearer dev-token"})

CLI: `python -m todoist_sim --port 8765 --token TOKEN`.
"""

from __future__ import annotations

from todoist_sim.config import SimConfig
from todoist_sim.server import Simulator, is_loopback_host, main

__all__ = ["SimConfig", "Simulator", "is_loopback_host", "main"]
