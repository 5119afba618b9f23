"""The simulator's test accounts, and a /sync call that must succeed."""

from __future__ import annotations

from typing import Any

import requests

from todoist_sim import Simulator

TOKEN = "sim-token-alice-1111"
OTHER_TOKEN = "sim-token-bob-2222"


def sync(sim: Simulator, http: requests.Session, commands: list[dict[str, Any]]) -> dict:
    response = http.post(f"{sim.url}/sync", json={"commands": commands}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()
