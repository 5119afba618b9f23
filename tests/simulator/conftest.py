"""The in-process simulator with two accounts, and an HTTP session as the first one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.simulator.client import OTHER_TOKEN, TOKEN
from todoist_sim import SimConfig, Simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimConfig(seed=7), {"alice": TOKEN, "bob": OTHER_TOKEN}) as simulator:
        yield simulator


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    yield session
    session.close()
