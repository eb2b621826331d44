"""Birthday points: their own kind of ledger entry, and the daily job that pays them (its beat schedule,
created as migration 0002 creates the other loyalty jobs': applied again it updates the task by name,
reversed it deletes it and its schedule if nobody else uses it)."""

import json

from django.db import migrations, models

TIMEZONE = "Asia/Shanghai"
NAME = "loyalty: birthday points"
TASK = "loyalty.tasks.pay_birthday_points"
# After the expiry run (00:05): the points of the day are paid on a ledger already swept.
MINUTE, HOUR = "20", "0"


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
            "description": "Daily at 00:20: pay each tier's birthday points, once a year, in the member's birthday month.",
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
        ("loyalty", "0011_imported_free_receipts"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AlterField(
            model_name="pointsentry",
            name="kind",
            field=models.CharField(
                choices=[
                    ("earn", "Earned"),
                    ("redeem", "Redeemed"),
                    ("expire", "Expired"),
                    ("adjust", "Manual adjustment"),
                    ("clawback", "Clawed back by a refund"),
                    ("restore", "Restored by a refund"),
                    ("debt_settlement", "Settled debt"),
                    ("unlock", "Pending points unlocked"),
                    ("behaviour", "Behaviour reward"),
                    ("opening", "Opening balance"),
                    ("mall", "Points mall"),
                    ("mall_refund", "Points mall order cancelled"),
                    ("birthday", "Birthday points"),
                ],
                max_length=16,
                verbose_name="kind",
            ),
        ),
        migrations.RunPython(create_periodic_task, delete_periodic_task),
    ]
