"""The hourly cleanup of files with personal data (members.tasks.expire_exports) reads its retention from
settings.PII_FILE_RETENTION_DAYS: the schedule no longer fixes it with a `days` argument, and it deletes
import uploads and error reports as well as exports (issue 17)."""

import json

from django.db import migrations

NAME = "members: delete old exports"
DESCRIPTION = (
    "Hourly: delete the files of back-office exports, import uploads and import error reports of jobs "
    "finished more than PII_FILE_RETENTION_DAYS (7) days ago; export jobs say expired."
)
OLD_DESCRIPTION = "Hourly: delete the files of back-office exports written more than 7 days ago; their jobs say expired."


def _schedules_changed(apps) -> None:
    from django.utils import timezone

    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def retention_from_settings(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=NAME).update(kwargs="{}", description=DESCRIPTION):
        _schedules_changed(apps)


def retention_in_the_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=NAME).update(kwargs=json.dumps({"days": 7}), description=OLD_DESCRIPTION):
        _schedules_changed(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0017_member_access_constraint_messages"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(retention_from_settings, retention_in_the_schedule)]
