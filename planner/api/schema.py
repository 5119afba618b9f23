"""OpenAPI post-processing: the error answers every operation can give, documented once."""

from __future__ import annotations

from typing import Any

# todoist_sync.api.serializers.ErrorSerializer's component: every error body has its shape.
ERROR_REF = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: 400 where input is taken, 401 where auth is needed,
    404 for a path id that is not yours or a page past the end, 429 everywhere (a caller who
    fails to authenticate is throttled on any path; writes are throttled per user). Each names
    the codes its body can carry."""
    if "Error" not in result.get("components", {}).get("schemas", {}):
        # Only the sync's views declare it: without them, no error answer could be described.
        raise RuntimeError("The Error component (todoist_sync's ErrorSerializer) is missing.")
    for path, path_item in result.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            names = {p.get("name") for p in operation.get("parameters", [])}
            if ("{" in path or "page" in names) and "404" not in responses:
                responses["404"] = {"description": "`not_found`.", **ERROR_REF}
            takes_input = "requestBody" in operation or operation.get("parameters")
            if takes_input and "400" not in responses:
                responses["400"] = {
                    "description": "`invalid` (the messages under `fields`), or `parse_error`.",
                    **ERROR_REF,
                }
            if operation.get("security") != [{}] and "401" not in responses:
                responses["401"] = {
                    "description": "`not_authenticated` (no key) or `authentication_failed`.",
                    **ERROR_REF,
                }
            responses.setdefault("429", {"description": "`throttled`.", **ERROR_REF})
            # Whoever documented the 429, it comes with when to try again.
            responses["429"].setdefault("headers", {})["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "Seconds to wait before trying again.",
            }
    return result
