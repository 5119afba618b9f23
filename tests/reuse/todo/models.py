"""A to-do model with its own field names and values, for todoist_sync to push."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Todo(models.Model):
    class State(models.TextChoices):
        TODO = "todo", _("To do")
        WAITING = "waiting", _("Waiting")
        FINISHED = "finished", _("Finished")
        SOMEDAY = "someday", _("Someday")  # not mapped: the sync skips it with a warning

    class Urgency(models.TextChoices):
        HIGH = "high", _("High")
        MEDIUM = "medium", _("Medium")
        LOW = "low", _("Low")
        NONE = "none", _("None")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="todos",
        verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.TODO)
    urgency = models.CharField(
        _("urgency"), max_length=8, choices=Urgency.choices, default=Urgency.NONE
    )
    deadline = models.DateField(_("deadline"), null=True, blank=True)

    class Meta:
        verbose_name = _("to-do")
        verbose_name_plural = _("to-dos")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    class TodoistSync:
        """The fields todoist_sync reads (TODOIST_SYNC_TASK_MODEL = "todo.Todo")."""

        owner = "owner"
        chat = None
        title = "name"
        description = "notes"
        status = "state"
        statuses = {"todo": "open", "waiting": "blocked", "finished": "done"}
        priority = "urgency"
        priorities = {"high": 1, "medium": 2, "low": 3, "none": 4}
        due_date = "deadline"
        archived = None


class TodoEvent(models.Model):
    """The sync's events, as this project stores them (connected in `TodoConfig.ready`)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="todo_events",
        verbose_name=_("user"),
    )
    level = models.CharField(_("level"), max_length=16)
    topic = models.CharField(_("topic"), max_length=64)
    message = models.TextField(_("message"))
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("to-do event")
        verbose_name_plural = _("to-do events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"[{self.level}] {self.topic}: {self.message[:60]}"
