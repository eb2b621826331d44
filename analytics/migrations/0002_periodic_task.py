"""The nightly scoring job's beat schedule (django-celery-beat), in China's local time. Applying it again
(after a reverse) updates the task by name; reversing deletes it and the schedule nobody else uses."""

import json

from django.db import migrations

NAME = "analytics: score members"
TASK = "analytics.tasks.score_members"
DESCRIPTION = "Daily at 03:30: recompute RFM segments, churn risk and reasons as of today."
CRONTAB = {
    "minute": "30",
    "hour": "3",
    "day_of_month": "*",
    "month_of_year": "*",
    "day_of_week": "*",
    "timezone": "Asia/Shanghai",
}


def _schedules_changed(apps) -> None:
    from django.utils import timezone

    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def create_periodic_task(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # CrontabSchedule has no unique constraint: reuse an identical schedule rather than add another.
    crontab = CrontabSchedule.objects.filter(**CRONTAB).order_by("pk").first() or CrontabSchedule.objects.create(
        **CRONTAB
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
            "description": DESCRIPTION,
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


def create_settings(apps, schema_editor):
    # The churn rules' one settings row, with its defaults, for HQ to edit in the admin.
    apps.get_model("analytics", "ScoreSettings").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_scores"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(create_periodic_task, delete_periodic_task),
        migrations.RunPython(create_settings, migrations.RunPython.noop),
    ]
