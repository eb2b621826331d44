"""The beat schedule (django-celery-beat's DatabaseScheduler) of the sweeper of imports and exports that
nobody works on (members.job_leases): every minute, so a job whose worker died runs again about a minute
after its lease runs out. Applying this again updates the task by name; reversing deletes it and the
schedule nobody else uses.
"""

from django.db import migrations

NAME = "members: run again the imports and exports nobody works on"
TASK = "members.tasks.sweep_jobs"
DESCRIPTION = (
    "Every minute: a running import or export whose lease ran out (its worker died) is queued again, or given up "
    "after JOB_MAX_ATTEMPTS runs; a waiting one whose task was lost is sent again."
)


def _schedules_changed(apps) -> None:
    # The beat scheduler reloads when this row moves; the real model's signals do not fire here.
    from django.utils import timezone

    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def create_periodic_task(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # IntervalSchedule has no unique constraint: reuse an identical schedule rather than add another.
    fields = {"every": 1, "period": "minutes"}
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
            "kwargs": "{}",
            # A sweep not taken within its minute is superseded by the next one.
            "expire_seconds": 55,
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
        ("members", "0009_job_leases"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_periodic_task, delete_periodic_task)]
