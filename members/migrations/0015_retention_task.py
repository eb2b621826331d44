"""The beat schedule of the retention rule (members.tasks.erase_inactive_members): nightly, it erases the
members without activity for MEMBER_RETENTION_YEARS years (nothing while the setting is not given). Applied
again it updates the task by name; reversed it deletes it and its schedule if nobody else uses it."""

import json

from django.db import migrations

TIMEZONE = "Asia/Shanghai"
NAME = "members: erase members past the retention period"
TASK = "members.tasks.erase_inactive_members"
# After the access log's upkeep (03:40), still before the first store opens.
MINUTE, HOUR = "10", "4"


def _schedules_changed(apps) -> None:
    from django.utils import timezone

    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def create_periodic_task(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    fields = {
        "minute": MINUTE,
        "hour": HOUR,
        "day_of_month": "*",
        "month_of_year": "*",
        "day_of_week": "*",
        "timezone": TIMEZONE,
    }
    crontab = CrontabSchedule.objects.filter(**fields).order_by("pk").first() or CrontabSchedule.objects.create(
        **fields
    )
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "crontab": crontab,
            "interval": None,
            "solar": None,
            "clocked": None,
            "args": "[]",
            "kwargs": json.dumps({}),
            "expire_seconds": 12 * 3600,
            "one_off": False,
            "enabled": True,
            "description": "Daily at 04:10: erase the members without any activity for MEMBER_RETENTION_YEARS "
            "years (does nothing while the setting is not given).",
        },
    )
    _schedules_changed(apps)


def delete_periodic_task(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab_ids = set(
        PeriodicTask.objects.filter(name=NAME, crontab__isnull=False).values_list("crontab_id", flat=True)
    )
    PeriodicTask.objects.filter(name=NAME).delete()
    CrontabSchedule.objects.filter(pk__in=crontab_ids, periodictask__isnull=True).delete()
    _schedules_changed(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0014_erasure"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_periodic_task, delete_periodic_task)]
