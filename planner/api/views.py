"""The bot's task API: thin views over the planner's selectors and services."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from planner.api.serializers import TaskFilterSerializer, TaskSerializer
from planner.models import Task
from planner.selectors import task_list
from planner.services import task_archive


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=Task.Status.values),
            OpenApiParameter("chat_id", OpenApiTypes.INT64),
            OpenApiParameter(
                "archived", OpenApiTypes.BOOL, description="Archived tasks instead (default false)."
            ),
        ]
    ),
    destroy=extend_schema(description="Archives the task; nothing is hard-deleted."),
)
class TaskViewSet(viewsets.ModelViewSet):
    serializer_class = TaskSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    # Writes are limited per user (API_THROTTLE_TASK_WRITES); reads are not.
    throttle_scope = "tasks.write"

    def get_queryset(self) -> QuerySet[Task]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request user
            return Task.objects.none()
        # Scoped to the requesting user: another user's task is a 404, never a 403.
        if self.action == "list":
            filters = TaskFilterSerializer(data=self.request.query_params)
            filters.is_valid(raise_exception=True)
            return task_list(user=self.request.user, filters=filters.validated_data)
        return Task.objects.filter(user=self.request.user)

    def perform_create(self, serializer: TaskSerializer) -> None:
        serializer.save(user=self.request.user)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        task_archive(task=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
