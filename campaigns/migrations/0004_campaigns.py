"""The beat schedule (django-celery-beat's DatabaseScheduler) of the task that launches scheduled
campaigns once they start and marks ended ones finished, every five minutes.

Applying it again (after a reverse) updates the task by name instead of adding a copy; reversing deletes
it and the schedule nobody else uses. HQ can change it in the admin afterwards.
"""

import json

from django.db import migrations

NAME = "campaigns: launch and finish campaigns"
TASK = "campaigns.tasks.run_due_campaigns"
DESCRIPTION = "Every five minutes: launch scheduled campaigns that have started, finish those that have ended."
EVERY = {"every": 5, "period": "minutes"}


def _schedules_changed(apps) -> None:
    # The beat scheduler reloads when this row moves; the real model's signals do not fire here.
    from django.utils import timezone

    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def create_periodic_task(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # IntervalSchedule has no unique constraint: reuse an identical schedule rather than add another.
    interval = IntervalSchedule.objects.filter(**EVERY).order_by("pk").first() or IntervalSchedule.objects.create(
        **EVERY
    )
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "interval": interval,
            "crontab": None,
            "solar": None,
            "clocked": None,
            "args": "[]",
            "kwargs": json.dumps({}),
            # A run missed by more than this is dropped: the next run does the same work.
            "expire_seconds": 280,
            "one_off": False,
            "enabled": True,
            "description": DESCRIPTION,
        },
    )
    _schedules_changed(apps)


def delete_periodic_task(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval_ids = set(
        PeriodicTask.objects.filter(name=NAME, interval__isnull=False).values_list("interval_id", flat=True)
    )
    PeriodicTask.objects.filter(name=NAME).delete()
    IntervalSchedule.objects.filter(pk__in=interval_ids, periodictask__isnull=True).delete()
    _schedules_changed(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0003_messaging"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_periodic_task, delete_periodic_task)]
