"""The beat schedule (django-celery-beat's DatabaseScheduler) of the cleanup of old export files.

Every hour rather than once a day at a set time: a file is deleted 7 days after it was written, not
at the next night after its seventh day, and the job is the same whenever it runs. HQ can change the
schedule in the admin afterwards. Applying this again (after a reverse) updates the task by name
instead of adding a copy; reversing deletes it and the schedule nobody else uses.
"""

import json

from django.db import migrations

NAME = "members: delete old exports"
TASK = "members.tasks.expire_exports"
KWARGS = {"days": 7}
DESCRIPTION = "Hourly: delete the files of back-office exports written more than 7 days ago; their jobs say expired."


def _schedules_changed(apps) -> None:
    # The beat scheduler reloads when this row moves; the real model's signals do not fire here.
    from django.utils import timezone

    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def create_periodic_task(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # IntervalSchedule has no unique constraint: reuse an identical schedule rather than add another.
    fields = {"every": 1, "period": "hours"}
    interval = IntervalSchedule.objects.filter(**fields).order_by("pk").first() or IntervalSchedule.objects.create(
        **fields
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
            "kwargs": json.dumps(KWARGS),
            "expire_seconds": 50 * 60,
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
        ("members", "0005_export_job"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_periodic_task, delete_periodic_task)]
