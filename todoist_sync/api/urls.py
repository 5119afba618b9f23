from __future__ import annotations

from django.urls import path

from todoist_sync.api.views import SyncStatusApi, SyncTriggerApi, TodoistTokenApi

urlpatterns = [
    path("sync/todoist", SyncTriggerApi.as_view(), name="todoist-sync"),
    path("sync/todoist/status", SyncStatusApi.as_view(), name="todoist-sync-status"),
    path("sync/todoist/token", TodoistTokenApi.as_view(), name="todoist-sync-token"),
]
