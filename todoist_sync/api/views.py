"""The sync's endpoints: thin views over `todoist_sync.services` and `todoist_sync.selectors`.

Everything is scoped to `request.user`: another user's run is a 404, never a 403.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from todoist_sync import selectors, services
from todoist_sync.api.serializers import (
    ChatProjectInputSerializer,
    ChatProjectOutputSerializer,
    ConnectOutputSerializer,
    ErrorSerializer,
    SyncRunOutputSerializer,
    SyncStatusOutputSerializer,
    SyncStatusQuerySerializer,
    SyncTriggerInputSerializer,
    SyncTriggerOutputSerializer,
    TodoistTokenInputSerializer,
    TodoistTokenOutputSerializer,
)
from todoist_sync.models import SyncRun, TodoistCredential
from todoist_sync.tokens import token_readable

RECENT_ERRORS_LIMIT = 20

# Errors are answered by the API's exception handler (`todoist_sync.api.exceptions`), in
# ErrorSerializer's shape; the views only raise.
NO_TOKEN = OpenApiResponse(
    ErrorSerializer,
    description="`no_token`: no Todoist token to sync with; `token_unreadable`: the stored one "
    "cannot be decrypted any more. Connect a token.",
)
NOT_FOUND_CHAT = OpenApiResponse(ErrorSerializer, description="`not_found`: no such chat.")


class SyncTriggerApi(APIView):
    # Whatever the host's REST_FRAMEWORK defaults: an anonymous caller has no tasks to sync.
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]
    # For the host's scoped throttle, if it has one (a host may limit triggers per user).
    throttle_scope = "todoist_sync.trigger"

    @extend_schema(
        operation_id="todoist_sync_trigger",
        summary="Queue a sync of your tasks to Todoist",
        description="Answers the queued run. While a run of the same scope is still queued, a "
        "new trigger joins it (same job id) instead of queueing another. With "
        '`{"reconcile": true}` the run first compares with Todoist and restores (or reports) '
        "what a person changed there.",
        request=SyncTriggerInputSerializer,
        responses={
            202: SyncTriggerOutputSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="`invalid` (e.g. a chat_id that is not an int)."
            ),
            409: NO_TOKEN,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = SyncTriggerInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = services.sync_enqueue(
            user=request.user,
            chat_id=serializer.validated_data.get("chat_id"),
            trigger="api",
            reconcile=serializer.validated_data["reconcile"],
        )
        status_url = request.build_absolute_uri(
            f"{reverse('todoist-sync-status')}?{urlencode({'job_id': run.job_id})}"
        )
        output = SyncTriggerOutputSerializer({"job_id": run.job_id, "status_url": status_url})
        return Response(output.data, status=status.HTTP_202_ACCEPTED)


class SyncStatusApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="todoist_sync_status",
        summary="How your sync to Todoist stands",
        description="Counts, recent errors and the latest run; with `job_id`, that run alone.",
        parameters=[SyncStatusQuerySerializer],
        responses={
            200: PolymorphicProxySerializer(
                component_name="TodoistSyncStatusOrRun",
                serializers=[SyncStatusOutputSerializer, SyncRunOutputSerializer],
                resource_type_field_name=None,
            ),
            404: OpenApiResponse(ErrorSerializer, description="`not_found`: no such run of yours."),
        },
    )
    def get(self, request: Request) -> Response:
        query = SyncStatusQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        user_id = request.user.pk
        job_id = query.validated_data.get("job_id")
        if job_id is not None:
            run = selectors.user_run(user_id=user_id, job_id=job_id)
            if run is None:
                raise NotFound("No sync run with this job id.")
            return Response(SyncRunOutputSerializer(run).data)
        # A fixed number of queries whatever the number of mappings (aggregates on indexes).
        summary = selectors.sync_status_counts(user_id=user_id)
        output = SyncStatusOutputSerializer(
            {
                "counts": summary["counts"],
                "errors": summary["errors"],
                "recent_errors": selectors.recent_errors(
                    user_id=user_id, limit=RECENT_ERRORS_LIMIT
                ),
                "last_run": selectors.latest_run(user_id=user_id),
                "running": selectors.run_in_progress(user_id=user_id),
                "blocked": selectors.waiting_by_project(user_id=user_id),
                "drift": selectors.drift_summary(user_id=user_id),
                "account_changed_at": selectors.account_changed_at(user_id=user_id),
                **selectors.connection_summary(user_id=user_id),
            }
        )
        return Response(output.data)


class TodoistTokenApi(APIView):
    permission_classes = [IsAuthenticated]
    # The user's own Todoist token: connect (checked with Todoist first), inspect, disconnect.
    parser_classes = [JSONParser]
    # Only the PUT calls Todoist (a request of the token's own budget, too).
    throttle_scope = "todoist_sync.token_check"
    throttle_methods = ["PUT"]

    @extend_schema(
        operation_id="todoist_token_get",
        summary="Whether you connected your own Todoist token",
        description="Never answers the token itself: only its last four characters.",
        responses={200: TodoistTokenOutputSerializer},
    )
    def get(self, request: Request) -> Response:
        credential = selectors.todoist_credential_get(user_id=request.user.pk)
        return Response(self._output(credential))

    @extend_schema(
        operation_id="todoist_token_put",
        summary="Connect your own Todoist token",
        description="The token is checked with Todoist, then stored encrypted; it is never "
        "returned. Users without one are synced with the server's token, if it has one.",
        request=TodoistTokenInputSerializer,
        responses={
            200: TodoistTokenOutputSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="`token_rejected`: Todoist rejected the token (under `fields.token`); "
                "or `invalid`.",
            ),
            429: OpenApiResponse(
                ErrorSerializer,
                description="`token_rate_limited`: the token's Todoist budget is spent, or "
                "`throttled`: too many checks; wait `Retry-After` seconds.",
            ),
            503: OpenApiResponse(
                ErrorSerializer,
                description="`todoist_unavailable`: Todoist could not be reached; or "
                "`token_storage_unavailable`: tokens cannot be stored here.",
            ),
        },
    )
    def put(self, request: Request) -> Response:
        serializer = TodoistTokenInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        credential = services.todoist_credential_connect(
            user=request.user, token=serializer.validated_data["token"]
        )
        return Response(self._output(credential))

    @extend_schema(
        operation_id="todoist_token_delete",
        summary="Disconnect your own Todoist token",
        description="Deletes the stored token at once (a no-op when none is connected). A token "
        "connected through OAuth is also revoked at Todoist, by a job that retries while "
        "Todoist is down.",
        responses={204: None},
    )
    def delete(self, request: Request) -> Response:
        services.todoist_credential_disconnect(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @staticmethod
    def _output(credential: TodoistCredential | None) -> dict:
        if credential is None:
            state = "none"
        elif token_readable(credential.token_encrypted):
            state = "connected"
        else:
            state = "unreadable"
        return TodoistTokenOutputSerializer(
            {
                "status": state,
                "connected": credential is not None,
                "kind": credential.kind if credential else None,
                "last4": credential.token_last4 if credential else None,
                "verified_at": credential.verified_at if credential else None,
            }
        ).data


class TodoistConnectApi(APIView):
    """A link that connects the user's Todoist through OAuth, for the bot to send."""

    permission_classes = [IsAuthenticated]
    throttle_scope = "todoist_sync.token_check"

    @extend_schema(
        operation_id="todoist_connect",
        summary="A link to connect your Todoist (OAuth)",
        description="Open `authorize_url` and approve in Todoist: Todoist sends you back to "
        "this server, which stores the connection (replacing, and revoking, any earlier one). "
        "The link is single-use and expires after 10 minutes.",
        request=None,
        responses={
            201: ConnectOutputSerializer,
            409: OpenApiResponse(
                ErrorSerializer,
                description="`oauth_unavailable`: OAuth is not set up on this server.",
            ),
            503: OpenApiResponse(
                ErrorSerializer,
                description="`token_storage_unavailable`: tokens cannot be stored here.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        link = services.oauth_connect_start(user=request.user)
        output = ConnectOutputSerializer(
            {"authorize_url": link.authorize_url, "expires_at": link.expires_at}
        )
        return Response(output.data, status=status.HTTP_201_CREATED)


class ChatProjectApi(APIView):
    """The Todoist project a chat's tasks go to."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]
    # A change queues a sync: it counts as a trigger.
    throttle_scope = "todoist_sync.trigger"

    @extend_schema(
        operation_id="todoist_chat_project_get",
        summary="The Todoist project a chat's tasks go to",
        responses={200: ChatProjectOutputSerializer, 404: NOT_FOUND_CHAT},
    )
    def get(self, request: Request, chat_id: str) -> Response:
        chat = self.chat(chat_id)
        project = selectors.chat_project(user_id=request.user.pk, chat_id=chat)
        return Response(ChatProjectOutputSerializer(self.output(chat, project, None)).data)

    @extend_schema(
        operation_id="todoist_chat_project_put",
        summary="Put a chat's tasks in another Todoist project",
        description="The project is created in Todoist when missing; the chat's open tasks are "
        "moved there by the sync this queues.",
        request=ChatProjectInputSerializer,
        responses={
            200: ChatProjectOutputSerializer,
            400: OpenApiResponse(ErrorSerializer, description="`invalid`: an invalid body."),
            404: NOT_FOUND_CHAT,
            409: NO_TOKEN,
        },
    )
    def put(self, request: Request, chat_id: str) -> Response:
        chat = self.chat(chat_id)
        serializer = ChatProjectInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data["project"]
        run = services.chat_project_set(user=request.user, chat_id=chat, project_name=name)
        project = selectors.chat_project(user_id=request.user.pk, chat_id=chat)
        return Response(ChatProjectOutputSerializer(self.output(chat, project, run)).data)

    @staticmethod
    def chat(chat_id: str) -> int:
        # Telegram chat ids are 64-bit and negative for groups; anything else is no such chat.
        value = int(chat_id)
        if not -(2**63) <= value < 2**63:
            raise NotFound("No such chat.")
        return value

    @staticmethod
    def output(chat_id: int, project: str, run: SyncRun | None) -> dict:
        return {"chat_id": chat_id, "project": project, "job_id": run.job_id if run else None}
