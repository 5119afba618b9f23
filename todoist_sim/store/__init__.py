"""State and request logic of the local Todoist API simulator (NOT Todoist itself).

Split by responsibility: `errors` (Todoist-shaped error answers), `model` (accounts, answer
shapes, cursors, sync tokens), `fields` (validation), `tasks` (task/project operations),
`sync` (/sync commands and incremental reads), `person` (edits as a person in the app) and
`state` (`SimState`: switches, stats and the request pipeline).
"""

from __future__ import annotations

from todoist_sim.store.errors import (
    ApiError,
    invalid,
    item_not_found,
    not_found,
    project_full,
    project_not_found,
    server_error,
    too_large,
    too_many_requests,
    unauthorized,
)
from todoist_sim.store.fields import MAX_CONTENT, MAX_DESCRIPTION
from todoist_sim.store.model import (
    API_PREFIX,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Account,
    Outcome,
    account_names,
    token_hint,
)
from todoist_sim.store.person import PERSON_ACTIONS
from todoist_sim.store.state import (
    KINDS,
    MAX_REQUEST_ID_BYTES,
    MUTATING_KINDS,
    REQUEST_ID_KINDS,
    Headers,
    SimState,
)
from todoist_sim.store.sync import MAX_SYNC_COMMANDS

__all__ = [
    "API_PREFIX",
    "DEFAULT_LIMIT",
    "KINDS",
    "MAX_CONTENT",
    "MAX_DESCRIPTION",
    "MAX_LIMIT",
    "MAX_REQUEST_ID_BYTES",
    "MAX_SYNC_COMMANDS",
    "MUTATING_KINDS",
    "PERSON_ACTIONS",
    "REQUEST_ID_KINDS",
    "Account",
    "ApiError",
    "Headers",
    "Outcome",
    "SimState",
    "account_names",
    "invalid",
    "item_not_found",
    "not_found",
    "project_full",
    "project_not_found",
    "server_error",
    "token_hint",
    "too_large",
    "too_many_requests",
    "unauthorized",
]
