"""Automations: a holdout share (deterministic by member, so the effect can be measured), an index for an
automation's latest effects, and the beat schedule (django-celery-beat's DatabaseScheduler) of the task
that runs the scheduled triggers every hour (at five past, China time).

The hourly run is idempotent: each effect is keyed by its occurrence (the birthday of 2026, the dormancy
after the purchase of 2026-03-01), so running it again, or on two workers at once, reaches nobody twice.
Applying the schedule again (after a reverse) updates the task by name; reversing deletes it.
"""

import json
from decimal import Decimal

import django.core.validators
from django.db import migrations, models

NAME = "campaigns: run automations"
TASK = "campaigns.tasks.run_automations"
DESCRIPTION = "Every hour: run the scheduled triggers of the active automations (birthday, dormant, points expiring, …)."


def _schedules_changed(apps) -> None:
    # The beat scheduler reloads when this row moves; the real model's signals do not fire here.
    from django.utils import timezone

    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def create_periodic_task(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # Five past every hour, China time; a crontab of its own rather than a shared "every hour" interval,
    # so removing another app's hourly task never takes this schedule with it. Reused if identical.
    fields = {
        "minute": "5",
        "hour": "*",
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
        "timezone": "Asia/Shanghai",
    }
    crontab = CrontabSchedule.objects.filter(**fields).order_by("pk").first() or CrontabSchedule.objects.create(
        **fields
    )
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "interval": None,
            "crontab": crontab,
            "solar": None,
            "clocked": None,
            "args": "[]",
            "kwargs": json.dumps({}),
            # A run missed by more than this is dropped: the next hour's run finds the same members.
            "expire_seconds": 3000,
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


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_campaigns"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="automation",
            name="holdout_percent",
            field=models.DecimalField(
                decimal_places=1,
                default=Decimal("0.0"),
                help_text="A fixed share of the members it finds that gets nothing, to measure the automation against.",
                max_digits=4,
                validators=[
                    django.core.validators.MinValueValidator(0),
                    django.core.validators.MaxValueValidator(50),
                ],
                verbose_name="holdout group (%)",
            ),
        ),
        migrations.AddConstraint(
            model_name="automation",
            constraint=models.CheckConstraint(
                condition=models.Q(("holdout_percent__gte", 0), ("holdout_percent__lte", 50)),
                name="automation_holdout_in_range",
            ),
        ),
        migrations.AddIndex(
            model_name="automationeffect",
            index=models.Index(fields=["automation", "-created_at"], name="automation_effect_recent_idx"),
        ),
        migrations.RunPython(create_periodic_task, delete_periodic_task),
    ]
