from __future__ import annotations

from django.urls import path, register_converter

from todoist_sync.api.views import (
    ChatProjectApi,
    SyncStatusApi,
    SyncTriggerApi,
    TodoistConnectApi,
    TodoistTokenApi,
)


class SignedIntConverter:
    """Telegram chat ids: negative for groups, up to 19 digits."""

    regex = "-?[0-9]{1,19}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: int | str) -> str:
        return str(value)


register_converter(SignedIntConverter, "chat_id")

urlpatterns = [
    path("sync/todoist", SyncTriggerApi.as_view(), name="todoist-sync"),
    path("sync/todoist/status", SyncStatusApi.as_view(), name="todoist-sync-status"),
    path("sync/todoist/token", TodoistTokenApi.as_view(), name="todoist-sync-token"),
    path("sync/todoist/connect", TodoistConnectApi.as_view(), name="todoist-sync-connect"),
    path(
        "sync/todoist/chats/<chat_id:chat_id>",
        ChatProjectApi.as_view(),
        name="todoist-sync-chat-project",
    ),
]
