"""How the projects of a user on the shared token are named in Todoist.

On their own token a user's projects are named as chosen (TODOIST_PROJECT_NAME, or a chat's
project). On the shared TODOIST_API_TOKEN every user's tasks land in one Todoist account, so
the name goes through TODOIST_SHARED_PROJECT_NAME, by default `{project} ({username})`: Alice's
"Planner" is "Planner (alice)" there, Bob's "Planner (bob)", and neither can fill the other's
(Todoist caps a project at 300 open tasks). `services.projects` also never adopts a project
another user's mapping points at, whatever the names.

Plain functions, no Django: the system check (`todoist_sync.E014`) validates the template with
`template_problem`.
"""

from __future__ import annotations

from string import Formatter

DEFAULT_TEMPLATE = "{project} ({username})"
# The placeholders TODOIST_SHARED_PROJECT_NAME may use.
FIELDS = ("project", "username", "user_id")
USER_FIELDS = ("username", "user_id")
# Todoist's longest project name (and TodoistProject.name's max_length).
MAX_PROJECT_NAME = 120
# A longer username is cut to this in a name, which leaves the project part room.
MAX_USERNAME = 60


def template_problem(template: object) -> str | None:
    """What is wrong with a TODOIST_SHARED_PROJECT_NAME value, or None."""
    if not isinstance(template, str):
        return f"must be a string, not {type(template).__name__}"
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as exc:  # a lone "{" or "}"
        return f"is not a valid format string ({exc})"
    fields = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in FIELDS:
            shown = "{" + field + "}" if field else "{}"
            return f"uses {shown}; only {{project}}, {{username}} and {{user_id}} are known"
        if spec or conversion:
            return f"formats {{{field}}} with a conversion or spec; use the plain {{{field}}}"
        fields.append(field)
    if not any(field in USER_FIELDS for field in fields):
        return (
            "names no user ({username} or {user_id}): every user of the shared token would "
            "get projects of the same name"
        )
    return None


def shared_project_name(template: str, *, project: str, username: str, user_id: int) -> str:
    """The name of the user's project `project` on the shared token: the template filled in,
    `project` shortened so the whole fits Todoist's 120 characters."""
    username = username[:MAX_USERNAME]
    fixed = template.format(project="", username=username, user_id=user_id)
    uses = sum(field == "project" for _, field, _, _ in Formatter().parse(template))
    room = max(0, MAX_PROJECT_NAME - len(fixed)) // max(uses, 1)
    name = template.format(project=project[:room].rstrip(), username=username, user_id=user_id)
    return name[:MAX_PROJECT_NAME].strip()
