"""OpenAPI post-processing: the error answers every operation can give, documented once."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "description": "`detail` for a general error, or field name -> list of messages.",
    "additionalProperties": True,
}


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: 400 where input is taken, 401 where auth is needed,
    404 for a path id that is not yours or a page past the end, 429 everywhere (a caller who
    fails to authenticate is throttled on any path; writes are throttled per user)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = _ERROR
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path, path_item in result.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            names = {p.get("name") for p in operation.get("parameters", [])}
            if ("{" in path or "page" in names) and "404" not in responses:
                responses["404"] = {"description": "Not found.", **ref}
            takes_input = "requestBody" in operation or operation.get("parameters")
            if takes_input and "400" not in responses:
                responses["400"] = {"description": "Invalid input.", **ref}
            if operation.get("security") != [{}] and "401" not in responses:
                responses["401"] = {"description": "No or wrong credentials.", **ref}
            if "429" not in responses:
                responses["429"] = {
                    "description": "Too many requests: the Retry-After header says when to "
                    "try again.",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                    **ref,
                }
    return result
