"""The loyalty jobs' beat schedules (django-celery-beat's DatabaseScheduler), in China's local time.

HQ can change the times in the admin afterwards. Applying this again (after a reverse) updates the
four tasks by name instead of adding copies; reversing deletes them and the schedules nobody else uses.
"""

import json

from django.db import migrations

TIMEZONE = "Asia/Shanghai"

# name: (task, (minute, hour), kwargs, expire_seconds, description)
PERIODIC_TASKS = {
    "loyalty: expire points": (
        "loyalty.tasks.expire_points",
        ("5", "0"),
        {},
        12 * 3600,
        "Daily at 00:05: expire the points whose expiry has passed.",
    ),
    "loyalty: unlock pending points": (
        "loyalty.tasks.unlock_pending_points",
        ("10", "*"),
        {},
        50 * 60,
        "Hourly at :10: make pending points spendable once their return window has passed.",
    ),
    "loyalty: evaluate tiers": (
        "loyalty.tasks.evaluate_tiers",
        ("30", "2"),
        {},
        12 * 3600,
        "Daily at 02:30: downgrade members whose tier no longer holds after its retention period.",
    ),
    "loyalty: points expiring soon": (
        "loyalty.tasks.points_expiring_soon",
        ("0", "9"),
        {"days": 7},
        12 * 3600,
        "Daily at 09:00: the members whose points expire within 7 days, for the reminder campaign.",
    ),
}


def _crontab(CrontabSchedule, minute: str, hour: str):
    fields = {
        "minute": minute,
        "hour": hour,
        "day_of_month": "*",
        "month_of_year": "*",
        "day_of_week": "*",
        "timezone": TIMEZONE,
    }
    # CrontabSchedule has no unique constraint: reuse an identical schedule rather than add another.
    return CrontabSchedule.objects.filter(**fields).order_by("pk").first() or CrontabSchedule.objects.create(**fields)


def _schedules_changed(apps) -> None:
    # The beat scheduler reloads when this row moves; the real model's signals do not fire here.
    from django.utils import timezone

    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def create_periodic_tasks(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (task, (minute, hour), kwargs, expire_seconds, description) in PERIODIC_TASKS.items():
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "crontab": _crontab(CrontabSchedule, minute, hour),
                "interval": None,
                "solar": None,
                "clocked": None,
                "args": "[]",
                "kwargs": json.dumps(kwargs),
                "expire_seconds": expire_seconds,
                "one_off": False,
                "enabled": True,
                "description": description,
            },
        )
    _schedules_changed(apps)


def delete_periodic_tasks(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab_ids = set(
        PeriodicTask.objects.filter(name__in=PERIODIC_TASKS, crontab__isnull=False).values_list("crontab_id", flat=True)
    )
    PeriodicTask.objects.filter(name__in=PERIODIC_TASKS).delete()
    CrontabSchedule.objects.filter(pk__in=crontab_ids, periodictask__isnull=True).delete()
    _schedules_changed(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_periodic_tasks, delete_periodic_tasks)]
