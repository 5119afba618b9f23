"""The control endpoints of the local Todoist API simulator (`/__sim__/...`, never faulted).

    GET  /__sim__/state | /__sim__/stats | /__sim__/config
    POST /__sim__/config                 {"field": value, ...}   change switches at runtime
    POST /__sim__/config/worst-case      {}                      apply config.WORST_CASE
    POST /__sim__/reset                  {}                      forget all data (accounts stay)
    POST /__sim__/token                  {"account", "token"}    one more token of an account

Acting as a person in the Todoist app (account = account name or its token):

    POST /__sim__/person/task            {"account", "task_id", "action", ...fields}
         action "update" (content, description, priority, due, labels), "complete" (a
         recurring task moves on), "complete_forever", "reopen", "delete", "move" (project_id)
         -> the task; due: a date string, a rule string ("every day"), a due object
         ({"date", "string"?, "timezone"?}) or null
    POST /__sim__/person/task/add        {"account", "content", "project_id"?, ...fields}
    POST /__sim__/person/project         {"account", "name", "color"?, ...} -> the project
    POST /__sim__/person/project/delete  {"account", "project_id"} -> deletes its tasks too
    POST /__sim__/person/project/archive | /unarchive  {"account", "project_id"} -> the project

Errors: 404 for an unknown account, task or project, 400 for a bad field, 403 for a full
project, each with Todoist's error body shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from todoist_sim.config import WORST_CASE
from todoist_sim.store import ApiError, Outcome, SimState, invalid
from todoist_sim.store.model import dumps

CONTROL_PREFIX = "/__sim__"


def handle_control(state: SimState, method: str, path: str, body: bytes) -> Outcome:
    try:
        return _route(state, method, path, body)
    except ApiError as exc:
        return Outcome(exc.http_code, dumps(exc.body()))
    except KeyError:
        error = ApiError(404, "NOT_FOUND", 404, "No account with that name or token")
        return Outcome(404, dumps(error.body()))
    except (ValueError, TypeError) as exc:
        argument = "config" if path.startswith(CONTROL_PREFIX + "/config") else "body"
        return Outcome(400, dumps(invalid(argument, str(exc)).body()))


def _route(state: SimState, method: str, path: str, body: bytes) -> Outcome:
    if method == "GET":
        readers: dict[str, Callable[[], Any]] = {
            "/__sim__/state": state.state,
            "/__sim__/stats": state.snapshot_stats,
            "/__sim__/config": lambda: state.config.as_dict(),
        }
        if path in readers:
            return Outcome(200, dumps(readers[path]()))
    elif method == "POST":
        if path == "/__sim__/config":
            return Outcome(200, dumps(state.configure(**_object(body)).as_dict()))
        if path == "/__sim__/config/worst-case":
            return Outcome(200, dumps(state.configure(**WORST_CASE).as_dict()))
        if path == "/__sim__/reset":
            state.reset()
            return Outcome(200, dumps({"reset": True}))
        if path.startswith("/__sim__/person/"):
            return _person(state, path, _object(body))
        if path == "/__sim__/token":
            args = _object(body)
            account = _take(args, "account")
            state.add_token(account, _take(args, "token"))
            # The token is never echoed back.
            return Outcome(200, dumps({"account": state.find_account(account).name}))
    error = ApiError(404, "NOT_FOUND", 404, f"No control endpoint {method} {path}")
    return Outcome(404, dumps(error.body()))


def _person(state: SimState, path: str, args: dict[str, Any]) -> Outcome:
    account = _take(args, "account")
    if path == "/__sim__/person/task":
        task_id = _take(args, "task_id")
        action = args.pop("action", "update")
        return Outcome(200, dumps(state.person_task(account, task_id, action, **args)))
    if path == "/__sim__/person/task/add":
        content = _take(args, "content")
        return Outcome(200, dumps(state.person_add_task(account, content, **args)))
    if path == "/__sim__/person/project":
        name = _take(args, "name")
        return Outcome(200, dumps(state.person_add_project(account, name, **args)))
    if path in ("/__sim__/person/project/archive", "/__sim__/person/project/unarchive"):
        project_id = _take(args, "project_id")
        archived = path.endswith("/archive")
        return Outcome(200, dumps(state.person_archive_project(account, project_id, archived)))
    if path == "/__sim__/person/project/delete":
        project_id = _take(args, "project_id")
        return Outcome(200, dumps(state.person_delete_project(account, project_id)))
    error = ApiError(404, "NOT_FOUND", 404, f"No control endpoint POST {path}")
    return Outcome(404, dumps(error.body()))


def _object(body: bytes) -> dict[str, Any]:
    payload = json.loads(body or b"{}")
    if not isinstance(payload, dict):
        raise ValueError("expected a JSON object")
    return payload


def _take(args: dict[str, Any], name: str) -> Any:
    value = args.pop(name, None)
    if not isinstance(value, str) or not value:
        raise invalid(name, "is required (a string)")
    return value
