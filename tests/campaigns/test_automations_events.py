"""Event triggers from the real loyalty services (a first sale, a referral's first purchase, a top-up), the
beat task and its schedule, and the run_automations command."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Automation, AutomationEffect, Coupon
from loyalty.models import PointsAccount
from loyalty.services import wallet_top_up
from tests.campaigns.conftest import line, rid
from tests.factories import MemberFactory
from tests.factories.campaigns import AutomationFactory, CouponTemplateFactory
from tests.factories.loyalty import RechargePackageFactory

# The events run as Celery tasks, eagerly here (also when CI points CELERY_BROKER_URL at a Redis no
# worker listens to).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_broker")]

Trigger = Automation.Trigger


def effects(automation) -> list[tuple[str, str]]:
    return list(AutomationEffect.objects.filter(automation=automation).values_list("member__name", "occurrence"))


def test_a_members_first_purchase_reaches_them_once_after_the_sale_commits(
    checkout, member, django_capture_on_commit_callbacks
):
    automation = AutomationFactory(
        trigger=Trigger.FIRST_PURCHASE, days=0, points=0, coupon_template=CouponTemplateFactory()
    )

    with django_capture_on_commit_callbacks(execute=True):
        checkout(member, [line("饮品", 50)], cash=50)
    with django_capture_on_commit_callbacks(execute=True):
        checkout(member, [line("饮品", 50)], cash=50)

    assert effects(automation) == [("王芳", "first_purchase")]
    assert Coupon.objects.filter(member=member, automation=automation).count() == 1


def test_a_referrers_referral_succeeds_when_the_new_member_first_buys(
    checkout, policy, django_capture_on_commit_callbacks
):
    policy.referral_min_purchase = Decimal("10.00")
    policy.save()
    referrer = MemberFactory(name="王芳")
    friend = MemberFactory(name="李娜", referrer=referrer)
    automation = AutomationFactory(trigger=Trigger.REFERRAL_SUCCESS, days=0, points=200)

    with django_capture_on_commit_callbacks(execute=True):
        checkout(friend, [line("饮品", 50)], cash=50)

    assert effects(automation) == [("王芳", f"referral:{friend.pk}")]
    assert PointsAccount.objects.get(pk=referrer.pk).available >= 200


def test_each_top_up_is_an_occurrence_within_the_frequency_cap(chain, member, django_capture_on_commit_callbacks):
    automation = AutomationFactory(trigger=Trigger.AFTER_TOPUP, days=0, points=50, max_per_member=2, cap_days=30)
    package = RechargePackageFactory()

    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            topup = wallet_top_up(
                request_id=rid(),
                member=member,
                store=chain.store_a,
                staff=chain.cashier_a,
                tender="cash",
                package=package,
            )

    skipped = list(
        AutomationEffect.objects.filter(automation=automation).order_by("pk").values_list("skipped", flat=True)
    )
    assert skipped == ["", "", "frequency_cap"]
    last = AutomationEffect.objects.filter(automation=automation).order_by("pk").last()
    assert last.occurrence == f"topup:{topup.pk}"
    assert PointsAccount.objects.get(pk=member.pk).available == 100


def test_without_an_active_automation_of_the_trigger_no_task_is_sent(
    checkout, member, django_capture_on_commit_callbacks, monkeypatch
):
    from campaigns import tasks

    sent = []
    monkeypatch.setattr(tasks.run_automation_event, "delay", lambda **kw: sent.append(kw))
    AutomationFactory(trigger=Trigger.FIRST_PURCHASE, days=0, is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        checkout(member, [line("饮品", 50)], cash=50)

    assert sent == []


def test_an_automation_failing_never_fails_the_sale(checkout, member, django_capture_on_commit_callbacks, monkeypatch):
    from campaigns import tasks

    def broken(**kw):
        raise RuntimeError("broker down")

    monkeypatch.setattr(tasks.run_automation_event, "delay", broken)
    AutomationFactory(trigger=Trigger.FIRST_PURCHASE, days=0)

    with django_capture_on_commit_callbacks(execute=True):
        sale = checkout(member, [line("饮品", 50)], cash=50)

    assert sale.pk is not None


# The beat task and the command


def test_the_hourly_beat_task_is_scheduled():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="campaigns: run automations")
    assert (task.task, task.crontab.minute, task.crontab.hour, str(task.crontab.timezone), task.enabled) == (
        "campaigns.tasks.run_automations",
        "5",
        "*",
        "Asia/Shanghai",
        True,
    )


def test_the_schedule_migration_applies_twice_and_reverses(db):
    import importlib

    from django.apps import apps
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    migration = importlib.import_module("campaigns.migrations.0005_automations")
    crontabs = CrontabSchedule.objects.count()
    migration.create_periodic_task(apps, None)
    migration.create_periodic_task(apps, None)
    assert PeriodicTask.objects.filter(name=migration.NAME).count() == 1
    assert CrontabSchedule.objects.count() == crontabs
    migration.delete_periodic_task(apps, None)
    assert not PeriodicTask.objects.filter(name=migration.NAME).exists()
    assert not CrontabSchedule.objects.filter(minute="5", hour="*").exists()


def test_the_beat_task_runs_the_active_automations(clock, policy, celery_broker):
    from campaigns.tasks import run_automations

    MemberFactory(name="王芳", birthday=date(1990, 3, 16))
    automation = AutomationFactory()

    [summary] = run_automations.delay().get()

    assert summary == {"automation": automation.pk, "reached": 1, "held_out": 0}


def test_the_command_runs_as_of_a_date_and_prints_a_summary(policy):
    MemberFactory(name="王芳", birthday=date(1990, 6, 3))
    automation = AutomationFactory(name="生日礼遇", days=7)
    out = StringIO()

    call_command("run_automations", "--as-of", "2026-05-30", stdout=out, stderr=StringIO())

    assert f"#{automation.pk} 生日礼遇: found 1, reached 1" in out.getvalue()
    assert effects(automation) == [("王芳", "birthday:2026")]


def test_the_command_dry_run_writes_nothing(policy):
    MemberFactory(name="王芳", birthday=date(1990, 6, 3))
    automation = AutomationFactory(days=7, is_active=False)
    out = StringIO()

    call_command(
        "run_automations",
        "--as-of",
        "2026-05-30T10:00",
        "--automation",
        str(automation.pk),
        "--dry-run",
        stdout=out,
        stderr=StringIO(),
    )

    assert "Dry run, nothing written" in out.getvalue() and "would reach 1" in out.getvalue()
    assert not AutomationEffect.objects.exists()


def test_the_command_refuses_an_unknown_automation_and_a_bad_date(policy):
    with pytest.raises(CommandError, match="no such automation"):
        call_command("run_automations", "--automation", "999999", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="not a date"):
        call_command("run_automations", "--as-of", "昨天", stdout=StringIO(), stderr=StringIO())


def test_a_member_frozen_before_the_event_task_runs_is_not_reached(chain, member):
    from campaigns.services.automations import automations_run_event
    from members.services import member_set_status

    automation = AutomationFactory(trigger=Trigger.AFTER_TOPUP, days=0, points=50)
    member_set_status(member=member, actor=chain.hq_admin, status="frozen", reason="风控")

    assert automations_run_event(trigger=Trigger.AFTER_TOPUP, member_id=member.pk, occurrence="topup:9") == []
    assert not AutomationEffect.objects.filter(automation=automation).exists()
