"""The simulator (tests/conftest.py's `sim`) with two accounts, and an HTTP session as the first
one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.simulator.client import OTHER_TOKEN, TOKEN


@pytest.fixture
def sim_token() -> str:
    return TOKEN


@pytest.fixture
def sim_accounts() -> dict[str, str]:
    return {"alice": TOKEN, "bob": OTHER_TOKEN}


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    yield session
    session.close()
