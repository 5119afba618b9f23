"""Which Todoist task an unconfirmed create adopts (`UnconfirmedResolver.matches`): a pure
comparison of the task a read found with the args the create sent."""

from __future__ import annotations

import pytest

from todoist_sync.services.unconfirmed import UnconfirmedResolver

SENT = {"content": "Buy milk", "description": "", "priority": 1}
REMOTE = {
    "id": "td-9",
    "content": "Buy milk",
    "description": "",
    "priority": 1,
    "project_id": "pr-1",
}


@pytest.mark.parametrize(
    ("remote", "sent", "matches"),
    [
        pytest.param(REMOTE, SENT, True, id="same-fields"),
        pytest.param({**REMOTE, "content": "Buy oat milk"}, SENT, False, id="other-content"),
        pytest.param({**REMOTE, "description": "2 l"}, SENT, False, id="other-description"),
        pytest.param({**REMOTE, "priority": 4}, SENT, False, id="other-priority"),
        # Fields the create did not send are not compared.
        pytest.param({**REMOTE, "description": "2 l"}, {"content": "Buy milk", "priority": 1},
                     True, id="description-not-sent"),
        # A field Todoist left out of its answer counts as empty.
        pytest.param({"id": "td-9", "content": "Buy milk", "priority": 1}, SENT, True,
                     id="empty-description-left-out"),
        pytest.param({"id": "td-9", "content": "Buy milk", "priority": 1},
                     {**SENT, "description": "2 l"}, False, id="description-left-out-not-empty"),
        # Neither the due date nor the labels decide: a person may have changed them since.
        pytest.param({**REMOTE, "due": {"date": "2030-01-31"}, "labels": ["x"]}, SENT, True,
                     id="due-and-labels-not-compared"),
        # In a project: only a task in that project.
        pytest.param(REMOTE, {**SENT, "project_id": "pr-1"}, True, id="same-project"),
        pytest.param(REMOTE, {**SENT, "project_id": "pr-2"}, False, id="other-project"),
        pytest.param({**REMOTE, "project_id": 123}, {**SENT, "project_id": "123"}, True,
                     id="numeric-project-id"),
        pytest.param({k: v for k, v in REMOTE.items() if k != "project_id"},
                     {**SENT, "project_id": "pr-1"}, False, id="project-left-out"),
        # Sent to the inbox (no project_id): any project's task with those fields.
        pytest.param({**REMOTE, "project_id": "inbox-1"}, SENT, True, id="inbox-any-project"),
    ],
)  # fmt: skip
def test_matches(remote, sent, matches):
    assert UnconfirmedResolver.matches(remote, sent) is matches
