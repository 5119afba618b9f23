"""The simulator's planned faults: `lose_next`, `fail_next` and `clear_faults`."""

from __future__ import annotations

import pytest
import requests

from tests.simulator.client import sync


def add(name: str) -> dict:
    return {
        "type": "item_add",
        "uuid": f"u-{name}",
        "temp_id": f"t-{name}",
        "args": {"content": name},
    }


def close(name: str) -> dict:
    return {"type": "item_close", "uuid": f"c-{name}", "args": {"id": f"t-{name}"}}


def contents(sim) -> dict[str, bool]:
    return {t["content"]: t["checked"] for t in sim.tasks("alice") if not t["is_deleted"]}


def test_lose_next_applies_the_request_then_drops_its_answer(sim, http):
    sim.lose_next()
    with pytest.raises(requests.ConnectionError):
        sync(sim, http, [add("a"), close("a")])
    assert contents(sim) == {"a": True}
    assert sim.stats()["lost_answers"] == 1
    answer = sync(sim, http, [add("b")])  # used up: the next request is answered
    assert answer["sync_status"] == {"u-b": "ok"}


def test_lose_next_with_applied_runs_only_the_first_commands(sim, http):
    sim.lose_next(applied=1)
    with pytest.raises(requests.ConnectionError):
        sync(sim, http, [add("a"), close("a")])
    assert contents(sim) == {"a": False}  # cut off after the create
    # Replayed: the create is answered "ok" without its temp_id, so the close finds nothing.
    answer = sync(sim, http, [add("a"), close("a")])
    assert answer["sync_status"]["u-a"] == "ok" and answer["temp_id_mapping"] == {}
    assert answer["sync_status"]["c-a"]["error_tag"] == "ITEM_NOT_FOUND"


def test_lose_next_waits_for_a_request_its_filter_accepts(sim, http):
    sim.lose_next(when=lambda commands: any(c["type"] == "item_close" for c in commands))
    sync(sim, http, [add("a")])  # no close: answered
    with pytest.raises(requests.ConnectionError):
        sync(sim, http, [close("a"), add("b")])
    assert contents(sim) == {"a": False, "b": False}  # the close named another request's temp_id


def test_fail_next_answers_5xx_and_applies_nothing(sim, http):
    sim.fail_next()
    response = http.post(f"{sim.url}/sync", json={"commands": [add("a")]}, timeout=5)
    assert response.status_code == 503
    assert contents(sim) == {}
    sync(sim, http, [add("a")])
    assert contents(sim) == {"a": False}


def test_clear_faults_forgets_faults_not_yet_hit(sim, http):
    sim.lose_next(3)
    sim.fail_next(2)
    sim.clear_faults()
    sync(sim, http, [add("a")])
    assert sim.stats()["lost_answers"] == 0 and sim.stats()["responses_5xx_injected"] == 0
