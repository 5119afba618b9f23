"""Property tests of the field mapping: any input gives a valid Todoist payload or a
deterministic validation error naming the field, never another exception."""

from __future__ import annotations

import datetime
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from todoist_sync.payloads import (
    CONTENT_MAX,
    DESCRIPTION_MAX,
    PayloadError,
    fingerprint,
    item_args,
    plan_task,
    snapshot_for,
)

texts = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=480, max_size=520),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\t\n", "🙂" * 500, "🙂" * 501, "x" * 501]),
)
priorities = st.one_of(st.integers(-3, 8), st.sampled_from([True, False, None, "2", 2.0]))
dates = st.one_of(st.none(), st.dates(), st.sampled_from(["2026-01-01", 20260101]))
statuses = st.sampled_from(["open", "blocked", "done"])
FIELDS = {"content", "description", "priority", "due_date"}


@settings(max_examples=400, deadline=None)
@given(title=texts, description=st.one_of(texts, st.none()), priority=priorities, due=dates,
       status=statuses)  # fmt: skip
def test_any_input_maps_to_a_valid_payload_or_a_field_error(
    title, description, priority, due, status
):
    try:
        snapshot = snapshot_for(
            title=title, description=description, priority=priority, due_date=due, status=status
        )
    except PayloadError as exc:
        assert exc.field in FIELDS
        assert str(exc).startswith(f"{exc.field}: ")
        # Deterministic: the same input gives the same reason.
        try:
            snapshot_for(
                title=title, description=description, priority=priority, due_date=due,
                status=status,
            )  # fmt: skip
        except PayloadError as again:
            assert str(again) == str(exc)
        return
    content = snapshot["content"]
    assert 1 <= len(content) <= CONTENT_MAX and content == content.strip()
    assert "\x00" not in content and "\x00" not in snapshot["description"]
    assert len(snapshot["description"]) <= DESCRIPTION_MAX
    assert snapshot["priority"] in (1, 2, 3, 4) and snapshot["priority"] == 5 - priority
    if due is None:
        assert snapshot["due_date"] is None
    else:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", snapshot["due_date"])
        assert datetime.date.fromisoformat(snapshot["due_date"]) == due
    assert snapshot["done"] is (status == "done")
    # The plan and the wire form of any valid snapshot are JSON and fingerprint-stable.
    plan = plan_task(snapshot, None)
    args = item_args({name: plan.achieved[name] for name in FIELDS})
    assert json.loads(json.dumps(args)) == args
    assert fingerprint(snapshot) == fingerprint(dict(reversed(list(snapshot.items()))))


@given(st.dates(), st.dates())
def test_plan_between_two_due_dates_sends_exactly_the_change(first, second):
    old = snapshot_for(title="t", description="", priority=4, due_date=first, status="open")
    new = snapshot_for(title="t", description="", priority=4, due_date=second, status="open")
    plan = plan_task(new, old)
    if first == second:
        assert plan.describe() == "nothing"
    else:
        assert plan.update == {"due_date": second.isoformat()}
        assert item_args(plan.update) == {"due": {"date": second.isoformat()}}
