"""Writes of the sync: the engine that pushes local tasks to Todoist, and the services around it.

Every caller (the django-q2 job, the API, the admin action, the management command) goes through
these functions, so they cannot drift apart. One module a responsibility:

- `runs`: queueing the job, follow-up schedules, re-syncs;
- `safety_net`: the one periodic sweep that reaches every user;
- `engine`: one run of one user, from the lease to the summary, in rounds;
- `planning`: what each task needs, and the `/sync` commands that do it;
- `reconcile`: what a person changed in Todoist (drift), restored or reported;
- `pushers` and `transport`: sending them, paced and under the lease;
- `settling`: what the answers do to each mapping (the error policy);
- `persistence`: the exactly-once commit and batched mapping writes;
- `coordination`: the per-user lease and the per-token rate budget;
- `credentials`: which token a user's sync uses;
- `connections` and `revocations`: connecting through OAuth, and revoking tokens at Todoist.
"""

from __future__ import annotations

from todoist_sync.exceptions import NoTodoistToken
from todoist_sync.services.connections import oauth_connect_finish, oauth_connect_start
from todoist_sync.services.coordination import (
    lease_acquire,
    lease_release,
    lease_renew,
    rate_budget_acquire,
    rate_budget_block,
)
from todoist_sync.services.credentials import (
    todoist_client,
    todoist_credential_connect,
    todoist_credential_disconnect,
    todoist_token_for,
)
from todoist_sync.services.engine import SyncEngine, sync_run_execute
from todoist_sync.services.planning import Action, Decision, sync_plan
from todoist_sync.services.runs import (
    chat_project_set,
    mappings_reconcile,
    mappings_resync,
    schedule_sync,
    sync_enqueue,
    tasks_resync,
)
from todoist_sync.services.safety_net import (
    safety_net_install,
    safety_net_slice,
    safety_net_sweep,
)

__all__ = [
    "Action",
    "Decision",
    "NoTodoistToken",
    "SyncEngine",
    "chat_project_set",
    "lease_acquire",
    "lease_release",
    "lease_renew",
    "mappings_reconcile",
    "mappings_resync",
    "oauth_connect_finish",
    "oauth_connect_start",
    "rate_budget_acquire",
    "rate_budget_block",
    "safety_net_install",
    "safety_net_slice",
    "safety_net_sweep",
    "schedule_sync",
    "sync_enqueue",
    "sync_plan",
    "sync_run_execute",
    "tasks_resync",
    "todoist_client",
    "todoist_credential_connect",
    "todoist_credential_disconnect",
    "todoist_token_for",
]
