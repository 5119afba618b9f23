from __future__ import annotations

from django.http import QueryDict
from rest_framework import serializers

from planner.models import Task


class TaskSerializer(serializers.ModelSerializer):
    # Strict types: "4" for priority or 1 for title is a 400, not a silent coercion.
    title = serializers.CharField(
        max_length=Task._meta.get_field("title").max_length, trim_whitespace=True
    )
    priority = serializers.IntegerField(min_value=1, max_value=4, required=False)
    archived = serializers.BooleanField(read_only=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "chat_id",
            "title",
            "description",
            "status",
            "priority",
            "due_date",
            "archived",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "archived", "created_at", "updated_at"]

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["Expected a JSON object."]}, code="invalid"
            )
        if isinstance(data, QueryDict):
            # A form post from the browsable API: every value is a string, let DRF parse them.
            return super().to_internal_value(data)
        errors = {}
        # DRF's IntegerField accepts "3" and 3.0; the bot must send a JSON integer.
        for name in ("priority", "chat_id"):
            value = data.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                errors[name] = ["A valid integer is required."]
        for name in ("title", "description", "status", "due_date"):
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                errors[name] = ["Not a valid string."]
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class TaskFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Task.Status.choices, required=False)
    chat_id = serializers.IntegerField(required=False)
    archived = serializers.BooleanField(required=False)
