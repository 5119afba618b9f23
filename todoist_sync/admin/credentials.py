"""Users' own Todoist tokens: checked with Todoist and stored encrypted, through the same
service as the API; only the last four characters are ever shown."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from todoist_sync import services
from todoist_sync.admin.mixins import OwnRowsAdminMixin
from todoist_sync.exceptions import TodoistSyncError
from todoist_sync.models import (
    TodoistCredential,
)
from todoist_sync.tokens import token_characters

# -- tokens --------------------------------------------------------------------------------------


class TodoistCredentialForm(forms.ModelForm):
    """Takes the token in a password field (never rendered back), checks it with Todoist and
    stores it encrypted, through the same service as the API."""

    token = forms.CharField(
        label=_("Todoist token"),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        max_length=200,
        # As the API's serializer: any other character could not be sent to Todoist (a 500).
        validators=[token_characters],
        help_text=_(
            "Checked with Todoist, then stored encrypted; only its last four characters "
            "are ever shown."
        ),
    )

    class Meta:
        model = TodoistCredential
        fields = ["user"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = cleaned.get("user") or getattr(self.instance, "user", None)
        token = cleaned.get("token")
        if user is None or not token:
            return cleaned
        if self.instance.pk is None and TodoistCredential.objects.filter(user=user).exists():
            self.add_error("user", _("This user has a token already: replace it on its page."))
            return cleaned
        # Check and store in one service call (the admin's change view runs in a transaction,
        # so a later failure rolls the write back); its errors become form errors here.
        try:
            self.instance = services.todoist_credential_connect(user=user, token=token)
        except TodoistSyncError as exc:
            if exc.field is None:
                raise forms.ValidationError(exc.detail) from None
            self.add_error(exc.field, exc.detail)
        return cleaned


@admin.register(TodoistCredential)
class TodoistCredentialAdmin(OwnRowsAdminMixin, admin.ModelAdmin):
    form = TodoistCredentialForm
    list_display = ["user", "masked_token", "verified_at", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]

    @admin.display(description=_("token"))
    def masked_token(self, obj: TodoistCredential) -> str:
        return f"…{obj.token_last4}"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is None:
            return ["user", "token"]
        return ["user", "masked_token", "verified_at", "token"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return ["user", "masked_token", "verified_at"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        pass  # stored by services.todoist_credential_connect in the form's clean()

    def delete_model(self, request: HttpRequest, obj: TodoistCredential) -> None:
        services.todoist_credential_disconnect(user=obj.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TodoistCredential]) -> None:
        for credential in queryset.select_related("user"):
            services.todoist_credential_disconnect(user=credential.user)
