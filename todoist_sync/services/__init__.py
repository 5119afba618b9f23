"""Writes of the sync: the engine that pushes local tasks to Todoist, and the services around it.

Every caller (the django-q2 job, the API, the admin action, the management command) goes through
these functions, so they cannot drift apart. One module a responsibility:

- `enqueue`: queueing the job, follow-up schedules, re-syncs;
- `safety_net`: the one periodic sweep that reaches every user;
- `engine`: one run of one user, from the lease to the summary, in rounds;
- `round`: what one round accumulates (`RoundState`), handed by the engine to each role;
- `run_records`: a run's own rows around it: runs whose worker died, how it ended, what follows;
- `planning`: what each task needs, and the `/sync` commands that do it;
- `reconcile`: what a person changed in Todoist (drift), restored or reported;
- `commands`: a round's decisions turned into the commands to push, task by task;
- `pushers` and `transport`: sending them, paced and under the lease;
- `outcomes`: what the answers do to each mapping (the error policy);
- `unconfirmed`: reads that decide what an answer left open (a create confirmed without its
  id, a task answered "not found");
- `projects`: the Todoist projects tasks go to: reading them, their ids, the room left in them;
- `accounts`: which Todoist account a token opens, and mappings that follow a change of it;
- `persistence`: the exactly-once commit and batched mapping writes;
- `lease`: the per-user lease and its fenced writes;
- `budget`: the per-account rate budget;
- `credentials`: which token a user's sync uses;
- `connections` and `revocations`: connecting through OAuth, and revoking tokens at Todoist.
"""

from __future__ import annotations

from todoist_sync.exceptions import NoTodoistToken
from todoist_sync.services.connections import oauth_connect_finish, oauth_connect_start
from todoist_sync.services.credentials import (
    todoist_client,
    todoist_credential_connect,
    todoist_credential_disconnect,
    todoist_token_for,
)
from todoist_sync.services.engine import sync_run_execute
from todoist_sync.services.enqueue import (
    chat_project_set,
    mappings_reconcile,
    mappings_resync,
    sync_enqueue,
    tasks_resync,
)
from todoist_sync.services.lease import lease_acquire, lease_release
from todoist_sync.services.planning import sync_plan
from todoist_sync.services.safety_net import (
    safety_net_install,
    safety_net_slice,
)

__all__ = [
    "NoTodoistToken",
    "chat_project_set",
    "lease_acquire",
    "lease_release",
    "mappings_reconcile",
    "mappings_resync",
    "oauth_connect_finish",
    "oauth_connect_start",
    "safety_net_install",
    "safety_net_slice",
    "sync_enqueue",
    "sync_plan",
    "sync_run_execute",
    "tasks_resync",
    "todoist_client",
    "todoist_credential_connect",
    "todoist_credential_disconnect",
    "todoist_token_for",
]
