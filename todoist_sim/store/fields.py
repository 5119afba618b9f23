"""Validation of task and project fields sent to the local Todoist API simulator."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from todoist_sim.store.dues import check_date, due_from_string, make_due
from todoist_sim.store.errors import invalid

MAX_CONTENT = 500
MAX_DESCRIPTION = 16383
MAX_PROJECT_NAME = 120
# Todoist's named project colours.
COLORS = frozenset(
    (
        "berry_red red orange yellow olive_green lime_green green mint_green teal sky_blue "
        "light_blue blue grape violet lavender magenta salmon charcoal grey taupe"
    ).split()
)
VIEW_STYLES = frozenset({"list", "board", "calendar"})
# Moving is item_move / POST /tasks/{id}/move only (v1 reference); an update naming these
# is refused rather than silently ignored, the worst plausible answer.
MOVE_ARGUMENTS = ("project_id", "section_id", "parent_id")
# The REST task endpoints' ways to give a due; at most one per request.
DUE_ARGUMENTS = ("due_date", "due_datetime", "due_string")


def json_body(body: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object (empty: {})."""
    if not body.strip():
        return {}
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise invalid("body", "expected a JSON object") from None
    if not isinstance(payload, dict):
        raise invalid("body", "expected a JSON object")
    return payload


def common_fields(args: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    """Validate content/description/priority/labels; answer the changes to apply."""
    changes: dict[str, Any] = {}
    if "content" in args:
        content = args["content"]
        if not isinstance(content, str):
            raise invalid("content", "expected a string")
        if not content.strip():
            raise invalid("content", "must not be empty")
        if len(content) > MAX_CONTENT:
            raise invalid("content", f"must be at most {MAX_CONTENT} characters")
        changes["content"] = content
    elif creating:
        raise invalid("content", "is required")
    if "description" in args:
        description = args["description"]
        if not isinstance(description, str):
            raise invalid("description", "expected a string")
        if len(description) > MAX_DESCRIPTION:
            raise invalid("description", f"must be at most {MAX_DESCRIPTION} characters")
        changes["description"] = description
    if "priority" in args:
        priority = args["priority"]
        if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 4:
            raise invalid("priority", "expected an integer from 1 to 4")
        changes["priority"] = priority
    if "labels" in args:
        labels = args["labels"]
        if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
            raise invalid("labels", "expected a list of non-empty strings")
        changes["labels"] = list(labels)
    return changes


def refuse_move_arguments(args: Mapping[str, Any]) -> None:
    for name in MOVE_ARGUMENTS:
        if name in args:
            raise invalid(name, "an update cannot move a task; use item_move or /move")


def rest_fields(body: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    if not creating:
        refuse_move_arguments(body)
    changes = common_fields(body, creating)
    # null due_* values mean "not given", as clients often serialise absent fields. Each one
    # replaces the whole due: a due_date over a recurring or timed due drops the rule and time.
    given = [name for name in DUE_ARGUMENTS if body.get(name) is not None]
    if len(given) > 1:
        raise invalid(given[1], f"only one of {', '.join(DUE_ARGUMENTS)} may be given")
    if "due_date" in given:
        changes["due"] = make_due(check_date(body["due_date"], "due_date", timed=False))
    elif "due_datetime" in given:
        value = body["due_datetime"]
        if not isinstance(value, str) or not value.endswith("Z"):
            raise invalid("due_datetime", "expected a UTC time formatted YYYY-MM-DDTHH:MM:SSZ")
        changes["due"] = make_due(check_date(value, "due_datetime"), argument="due_datetime")
    elif "due_string" in given:
        changes["due"] = due_from_string(body["due_string"], "due_string")
    return changes


def sync_fields(args: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    if not creating:
        refuse_move_arguments(args)
    changes = common_fields(args, creating)
    if "due" in args:
        value = args["due"]
        if value is None:
            changes["due"] = None
        elif not isinstance(value, dict):
            raise invalid("due", "expected an object or null")
        elif value.get("date") is not None:
            # Worst case of "a date alone does not allow you to create recurring due dates":
            # without its `string` a due is a plain date, whatever it was before.
            changes["due"] = make_due(
                check_date(value["date"], "due"),
                value.get("string"),
                timezone=value.get("timezone"),
                lang=value.get("lang"),
            )
        elif value.get("string") is not None:
            changes["due"] = due_from_string(value["string"], "due")
        else:
            raise invalid("due", "expected a date or a string")
    return changes


def person_fields(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Fields a person edits in the Todoist app; `due` may also be a plain string: a date in one
    of the due forms, or anything else as the due's `string` (e.g. "every day")."""
    allowed = {"content", "description", "priority", "due", "labels"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise invalid(unknown[0], f"a person edit changes only {', '.join(sorted(allowed))}")
    args = dict(changes)
    if isinstance(args.get("due"), str):
        text = args["due"]
        args["due"] = {"date": text} if text[:4].isdigit() else {"string": text}
    return sync_fields(args, False)


def project_fields(args: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a new project's name/color/is_favorite/view_style/description."""
    fields: dict[str, Any] = {}
    name = args.get("name")
    if name is None:
        raise invalid("name", "is required")
    if not isinstance(name, str) or not name.strip():
        raise invalid("name", "expected a non-empty string")
    if len(name) > MAX_PROJECT_NAME:
        raise invalid("name", f"must be at most {MAX_PROJECT_NAME} characters")
    fields["name"] = name
    if args.get("color") is not None:
        if args["color"] not in COLORS:
            raise invalid("color", "expected one of Todoist's colour names")
        fields["color"] = args["color"]
    if args.get("is_favorite") is not None:
        if not isinstance(args["is_favorite"], bool):
            raise invalid("is_favorite", "expected a boolean")
        fields["is_favorite"] = args["is_favorite"]
    if args.get("view_style") is not None:
        if args["view_style"] not in VIEW_STYLES:
            raise invalid("view_style", "expected list, board or calendar")
        fields["view_style"] = args["view_style"]
    if args.get("description") is not None:
        if not isinstance(args["description"], str):
            raise invalid("description", "expected a string")
        fields["description"] = args["description"]
    return fields
