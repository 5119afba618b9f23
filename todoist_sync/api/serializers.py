"""Shapes of the sync endpoints: inputs are strict, outputs describe the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from todoist_sync.models import SyncRun, TodoistTaskMap
from todoist_sync.tokens import token_characters


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: "42", 4.0 and true are refused instead of coerced (as the task API)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string only: 123 is refused instead of becoming "123"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean only: "true", 1 and "yes" are refused instead of coerced."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class JsonObjectSerializer(serializers.Serializer):
    # A body that is not a JSON object (a list, a string) is a 400, not a 500.
    def to_internal_value(self, data: Any) -> Any:
        if not hasattr(data, "get"):
            raise serializers.ValidationError(
                {"non_field_errors": ["Expected a JSON object."]}, code="invalid"
            )
        return super().to_internal_value(data)


# -- errors --------------------------------------------------------------------------------------

ERROR_CODES = """A stable machine code; read it, never `detail`.

- `invalid` (400): the input is invalid; `fields` has the messages of each field.
- `parse_error` (400): the request cannot be read (malformed JSON, NUL characters).
- `token_rejected` (400): Todoist refused the token being connected (`fields.token`).
- `not_authenticated`, `authentication_failed` (401): no API key, or a wrong one.
- `permission_denied` (403): a session write without its CSRF token.
- `not_found` (404): no such path, or not yours.
- `method_not_allowed` (405), `not_acceptable` (406), `unsupported_media_type` (415).
- `no_token`, `token_unreadable` (409): nothing to sync with: connect a Todoist token.
- `request_too_large` (413): the body is too large.
- `throttled`, `token_rate_limited` (429): wait `Retry-After` seconds.
- `todoist_unavailable`, `token_storage_unavailable` (503): Todoist unreachable; no key here.
- `server_error` (500): a bug of ours, logged; nothing in it to read.
"""


class ErrorSerializer(serializers.Serializer):
    """Every error answer of the API (todoist_sync.api.exceptions.exception_handler)."""

    code = serializers.CharField(help_text=ERROR_CODES)
    detail = serializers.CharField(help_text="For a person: it may change, so never parse it.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Invalid input only: field name -> its messages (`non_field_errors` for the "
        "body as a whole).",
    )


# -- trigger -------------------------------------------------------------------------------------


class SyncTriggerInputSerializer(JsonObjectSerializer):
    """Optional: an empty body syncs every chat."""

    chat_id = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=-(2**63),
        max_value=2**63 - 1,
        help_text="Limit the sync to the tasks of this Telegram chat; all chats when omitted.",
    )
    reconcile = StrictBooleanField(
        required=False,
        default=False,
        help_text="First compare with Todoist (one read) and deal with what a person changed "
        "there: restored (TODOIST_DRIFT_POLICY=restore) or reported. The periodic safety-net "
        "run always does.",
    )


class SyncTriggerOutputSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    status_url = serializers.URLField(help_text="GET it to follow this run.")


# -- status --------------------------------------------------------------------------------------


class SyncStatusQuerySerializer(serializers.Serializer):
    job_id = serializers.CharField(required=False, max_length=64)


class SyncRunOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = [
            "job_id",
            "state",
            "trigger",
            "chat_id",
            "queued_at",
            "started_at",
            "finished_at",
            *SyncRun.COUNTERS,
            "requests",
            "reconcile",
            *SyncRun.DRIFT_COUNTERS,
            "error_summary",
        ]
        read_only_fields = fields


class StateCountsSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    synced = serializers.IntegerField()
    error = serializers.IntegerField()


class ErrorCountsSerializer(serializers.Serializer):
    retrying = serializers.IntegerField()
    permanent = serializers.IntegerField()


class RecentErrorSerializer(serializers.ModelSerializer):
    title = serializers.CharField(source="task_title")
    permanent = serializers.BooleanField(source="error_permanent")

    class Meta:
        model = TodoistTaskMap
        fields = [
            "local_task_id",
            "title",
            "todoist_task_id",
            "last_error",
            "attempts",
            "next_retry_at",
            "permanent",
        ]
        read_only_fields = fields


class BlockedProjectSerializer(serializers.Serializer):
    project = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    waiting = serializers.IntegerField(help_text="Tasks waiting to go in; not errors.")


class DriftSerializer(serializers.Serializer):
    detected = serializers.IntegerField(
        help_text="Tasks found changed (or deleted) in Todoist by reconciles, over the runs kept."
    )
    restored = serializers.IntegerField(help_text="Of those, put back to local truth.")
    reported = serializers.IntegerField(help_text="Of those, only reported.")
    last_checked_at = serializers.DateTimeField(
        allow_null=True, help_text="When Todoist was last compared (a reconcile's read)."
    )


class WebhookSummarySerializer(serializers.Serializer):
    last_at = serializers.DateTimeField(
        allow_null=True, help_text="When Todoist last sent a webhook about your account."
    )
    accepted = serializers.IntegerField(help_text="Webhooks that queued a reconcile.")
    ignored = serializers.IntegerField(
        help_text="Webhooks ignored: an echo of the sync's own write, an item it does not "
        "know, or a repeated delivery."
    )
    rejected = serializers.IntegerField(
        help_text="Deliveries refused for a bad signature (server-wide: they name nobody)."
    )


class SyncStatusOutputSerializer(serializers.Serializer):
    connection = serializers.ChoiceField(
        choices=["oauth", "token", "shared", "none"],
        help_text="How your sync reaches Todoist: connected through OAuth, a pasted personal "
        "token, the server's shared token, or not at all.",
    )
    webhooks = WebhookSummarySerializer(help_text="Todoist's webhooks (OAuth connections only).")
    counts = StateCountsSerializer(help_text="The user's task mappings by sync state.")
    errors = ErrorCountsSerializer(help_text="Mappings in error: retried later, or permanent.")
    recent_errors = RecentErrorSerializer(many=True, help_text="Newest first, at most 20.")
    last_run = SyncRunOutputSerializer(allow_null=True)
    running = serializers.BooleanField(help_text="Whether a run of the user is in progress.")
    account_changed_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When your token last opened another Todoist account: your tasks were "
        "created afresh there, and the previous account was left as it is.",
    )
    drift = DriftSerializer(
        help_text="Changes made in Todoist that reconciles found (local data is the truth)."
    )
    blocked = BlockedProjectSerializer(
        many=True,
        help_text="Todoist projects that cannot take more tasks now (full: 300 active tasks), "
        "with how many wait for them. They go out by themselves once there is room.",
    )


# -- a chat's project ----------------------------------------------------------------------------


class ChatProjectInputSerializer(JsonObjectSerializer):
    project = StrictCharField(
        max_length=120,
        allow_null=True,
        help_text="The Todoist project (by name) this chat's tasks go to; created when missing. "
        "`Inbox` is your inbox; null goes back to the server's default.",
    )


class ChatProjectOutputSerializer(serializers.Serializer):
    chat_id = serializers.IntegerField()
    project = serializers.CharField()
    job_id = serializers.CharField(
        allow_null=True, help_text="The sync queued to move the chat's open tasks, if any."
    )


# -- token ---------------------------------------------------------------------------------------


class TodoistTokenInputSerializer(JsonObjectSerializer):
    """The token to connect; it is checked with Todoist before it is stored."""

    token = StrictCharField(
        write_only=True,
        max_length=200,
        trim_whitespace=True,
        help_text="A Todoist API token (Todoist: Settings > Integrations > Developer).",
        # What can travel in an Authorization header: checked here, so it is a 400, not a 500.
        validators=[token_characters],
    )


class TodoistTokenOutputSerializer(serializers.Serializer):
    """Never the token: whether one is connected, and its last four characters."""

    status = serializers.ChoiceField(
        choices=["none", "connected", "unreadable"],
        help_text="`unreadable`: a token is stored, but the server's encryption keys no longer "
        "open it (they changed); it cannot sync until connected again.",
    )
    connected = serializers.BooleanField(help_text="Whether a token is stored, readable or not.")
    kind = serializers.ChoiceField(
        choices=["oauth", "token"],
        allow_null=True,
        help_text="`oauth`: connected through Todoist's consent page (revoked on disconnect); "
        "`token`: a pasted personal token.",
    )
    last4 = serializers.CharField(allow_null=True)
    verified_at = serializers.DateTimeField(allow_null=True)


# -- OAuth connect -------------------------------------------------------------------------------


class ConnectOutputSerializer(serializers.Serializer):
    authorize_url = serializers.URLField(
        help_text="Open it to approve the connection in Todoist; single use."
    )
    expires_at = serializers.DateTimeField(help_text="The link works until then (10 minutes).")
