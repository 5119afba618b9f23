"""Drop the per-user safety-net schedules of earlier versions (one sweep replaced them).

Once, here, rather than on every `migrate` as `safety_net_install` used to do it.
"""

from django.db import migrations

LEGACY_SCHEDULE_PREFIX = "todoist-safety-net-user-"


def drop_legacy_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.using(schema_editor.connection.alias).filter(
        name__startswith=LEGACY_SCHEDULE_PREFIX
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("todoist_sync", "0009_project_archived_at"),
        # Schedule.name exists from 0005 on; any django-q2 the wheel accepts has it.
        ("django_q", "0005_auto_20150718_1506"),
    ]

    operations = [migrations.RunPython(drop_legacy_schedules, migrations.RunPython.noop)]
