"""The daily job that queues service reminders (tomorrow's appointments, next visits due), at 10:00 China
time, created as loyalty's jobs are (loyalty 0012): applied again it updates the task by name, reversed it
deletes it and its schedule if nobody else uses it."""

import json

from django.db import migrations

TIMEZONE = "Asia/Shanghai"
NAME = "campaigns: service reminders"
TASK = "campaigns.tasks.queue_service_reminders"
MINUTE, HOUR = "0", "10"


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
            "description": "Daily at 10:00: remind members of tomorrow's appointments and of next visits due.",
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
        ("campaigns", "0010_message_encrypted"),
        ("servicecards", "0002_appointments_never_overlap"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_periodic_task, delete_periodic_task)]
