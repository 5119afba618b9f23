"""Local tasks (the source of truth) and the event log."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# Todoist accepts 1..500 characters of content; a title is pushed as content unchanged.
TITLE_MAX_LENGTH = 500
# Todoist accepts a description of up to 16383 characters.
DESCRIPTION_MAX_LENGTH = 16383


class Task(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        BLOCKED = "blocked", _("Blocked")
        DONE = "done", _("Done")

    class Priority(models.IntegerChoices):
        # As Todoist's app shows them: p1 is the most urgent.
        P1 = 1, "p1"
        P2 = 2, "p2"
        P3 = 3, "p3"
        P4 = 4, "p4"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tasks",
        verbose_name=_("user"),
    )
    chat_id = models.BigIntegerField(_("Telegram chat id"), null=True, blank=True)
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    description = models.TextField(_("description"), blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"),
        choices=Priority.choices,
        default=Priority.P4,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    archived = models.BooleanField(_("archived"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["-created_at", "-id"]
        # No database constraint on status: a later phase may add states, and the sync must skip
        # (and log) a status it does not know rather than crash. The API accepts only the choices.
        indexes = [
            # The bot lists a user's tasks by chat and status; the sync reads a user's live tasks.
            models.Index(fields=["user", "archived", "status"], name="task_user_archived_status"),
            models.Index(fields=["user", "chat_id", "archived"], name="task_user_chat_archived"),
            models.Index(fields=["user", "-created_at"], name="task_user_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__gte=1) & Q(priority__lte=4), name="task_priority_1_to_4"
            ),
            models.CheckConstraint(condition=~Q(title=""), name="task_title_not_blank"),
        ]

    def __str__(self) -> str:
        return self.title

    class TodoistSync:
        """The fields todoist_sync reads (TODOIST_SYNC_TASK_MODEL; see todoist_sync.task_model)."""

        owner = "user"
        chat = "chat_id"
        title = "title"
        description = "description"
        status = "status"
        statuses = {"open": "open", "blocked": "blocked", "done": "done"}
        priority = "priority"
        priorities = {1: 1, 2: 2, 3: 3, 4: 4}  # p1 (most urgent) .. p4, as Todoist shows them
        due_date = "due_date"
        archived = "archived"


class EventLog(models.Model):
    class Level(models.TextChoices):
        INFO = "info", _("Info")
        WARNING = "warning", _("Warning")
        ERROR = "error", _("Error")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("user"),
    )
    level = models.CharField(_("level"), max_length=16, choices=Level.choices, default=Level.INFO)
    topic = models.CharField(_("topic"), max_length=64)
    message = models.TextField(_("message"))
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("event log")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="event_user_recent"),
            models.Index(fields=["topic", "-created_at"], name="event_topic_recent"),
        ]

    def __str__(self) -> str:
        return f"[{self.level}] {self.topic}: {self.message[:60]}"
