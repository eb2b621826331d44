"""The scheduled loyalty jobs: their Celery tasks and the beat schedules migration 0002 creates."""

import importlib
import json
import logging
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from config import celery_app
from loyalty import tasks
from loyalty.models import MemberStats, PointsAccount, PointsLot, TierPolicy
from tests.factories import MemberFactory
from tests.factories.loyalty import TierFactory
from tests.loyalty.clock import Clock, local

pytestmark = pytest.mark.django_db

schedule_migration = importlib.import_module("loyalty.migrations.0002_periodic_tasks")

EXPECTED = {
    # name: (task, minute, hour, kwargs)
    "loyalty: expire points": ("loyalty.tasks.expire_points", "5", "0", {}),
    "loyalty: unlock pending points": ("loyalty.tasks.unlock_pending_points", "10", "*", {}),
    "loyalty: evaluate tiers": ("loyalty.tasks.evaluate_tiers", "30", "2", {}),
    "loyalty: points expiring soon": ("loyalty.tasks.points_expiring_soon", "0", "9", {"days": 7}),
}


def scheduled() -> dict:
    return {
        t.name: (t.task, t.crontab.minute, t.crontab.hour, json.loads(t.kwargs))
        for t in PeriodicTask.objects.filter(name__in=EXPECTED).select_related("crontab")
    }


def test_after_migrate_the_four_jobs_are_scheduled_in_china_time():
    assert scheduled() == EXPECTED
    for task in PeriodicTask.objects.filter(name__in=EXPECTED).select_related("crontab"):
        assert task.enabled
        assert str(task.crontab.timezone) == "Asia/Shanghai"
        assert (task.crontab.day_of_month, task.crontab.month_of_year, task.crontab.day_of_week) == ("*", "*", "*")


def test_the_scheduled_task_names_are_registered_with_the_celery_app():
    # A worker imports the autodiscovered modules at start-up; do what it does.
    celery_app.loader.import_default_modules()
    for task_name, *_rest in EXPECTED.values():
        assert task_name in celery_app.tasks
        assert celery_app.tasks[task_name].acks_late


def test_the_schedule_migration_follows_django_celery_beats_latest_migration():
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    migration = loader.get_migration("loyalty", "0002_periodic_tasks")
    beat_leaf = loader.graph.leaf_nodes("django_celery_beat")
    assert ("loyalty", "0001_initial") in migration.dependencies
    assert beat_leaf[0] in migration.dependencies


def test_applying_the_schedules_again_updates_them_instead_of_adding_copies():
    # Given HQ moved the expiry job in the admin
    PeriodicTask.objects.filter(name="loyalty: expire points").update(task="something.else")
    crontabs = CrontabSchedule.objects.count()
    # When the migration's forward step runs again
    schedule_migration.create_periodic_tasks(django_apps, None)
    schedule_migration.create_periodic_tasks(django_apps, None)
    # Then there are still four tasks, put right, and no new schedules
    assert scheduled() == EXPECTED
    assert PeriodicTask.objects.filter(name__in=EXPECTED).count() == 4
    assert CrontabSchedule.objects.count() == crontabs


def test_reversing_the_schedule_migration_deletes_the_tasks_and_their_schedules():
    # Other apps' schedules (the automations' own crontab) stay; only the loyalty tasks' go.
    own = set(PeriodicTask.objects.filter(name__in=EXPECTED).values_list("crontab_id", flat=True))
    others = set(PeriodicTask.objects.exclude(name__in=EXPECTED).values_list("crontab_id", flat=True))
    schedule_migration.delete_periodic_tasks(django_apps, None)
    assert not PeriodicTask.objects.filter(name__in=EXPECTED).exists()
    assert not CrontabSchedule.objects.filter(pk__in=own - others).exists()
    assert set(PeriodicTask.objects.exclude(name__in=EXPECTED).values_list("crontab_id", flat=True)) == others
    schedule_migration.create_periodic_tasks(django_apps, None)
    assert scheduled() == EXPECTED


# The tasks run their services and report what they did


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 1, 10))


def test_expire_points_task_expires_due_points_once_and_logs_a_summary(clock, member, sell, caplog):
    sell(member, "100.00", cash="100.00")
    clock.set(local(2027, 1, 11, 0, 5))
    with caplog.at_level(logging.INFO, logger="loyalty.tasks"):
        first = tasks.expire_points.apply().get()
        second = tasks.expire_points.apply().get()
    assert first == {"members": 1, "entries": 1, "points": 100}
    assert second["entries"] == 0
    assert "100 points expired" in caplog.text
    assert PointsAccount.objects.get(pk=member.pk).available == 0


def test_unlock_pending_points_task_unlocks_once(clock, member, sell, policy):
    policy.pending_days = 3
    policy.save()
    sell(member, "100.00", cash="100.00")
    clock.advance(days=3)
    assert tasks.unlock_pending_points.apply().get() == {"lots": 1}
    assert tasks.unlock_pending_points.apply().get() == {"lots": 0}
    assert PointsAccount.objects.get(pk=member.pk).available == 100


def test_evaluate_tiers_task_downgrades_after_retention(clock, member, sell):
    TierPolicy.objects.create(window_days=30, retention_days=60)
    TierFactory(code="NORMAL", rank=0, threshold=Decimal("0"))
    TierFactory(code="SILVER", rank=1, threshold=Decimal("1000"))
    sell(member, "1000.00", cash="1000.00")
    clock.advance(days=61)
    assert tasks.evaluate_tiers.apply().get() == {"examined": 1, "downgraded": 1}
    assert MemberStats.objects.get(pk=member.pk).tier.code == "NORMAL"


def test_points_expiring_soon_task_lists_the_members_soonest_first(clock, chain, sell):
    later, sooner, not_yet = (MemberFactory() for _ in range(3))
    sell(later, "100.00", cash="100.00")  # expires at the end of 2027-01-10
    clock.set(local(2026, 1, 5))
    sell(sooner, "50.00", cash="50.00")  # expires at the end of 2027-01-05
    clock.set(local(2026, 2, 1))
    sell(not_yet, "70.00", cash="70.00")
    clock.set(local(2027, 1, 4, 9, 0))
    result = tasks.points_expiring_soon.apply(kwargs={"days": 7}).get()
    assert result == {"days": 7, "members": 2, "points": 150, "member_ids": [sooner.pk, later.pk]}
    # Points already expired (and not yet swept) are not "expiring soon"
    PointsLot.objects.filter(member=sooner).update(expires_at=local(2027, 1, 4, 0, 0))
    assert tasks.points_expiring_soon.apply(kwargs={"days": 7}).get()["member_ids"] == [later.pk]
