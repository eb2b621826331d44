"""Birthday points: each tier's birthday_points, paid once a year in the birthday month, in the ledger."""

import logging
from datetime import date
from decimal import Decimal

import pytest
from django_celery_beat.models import PeriodicTask

from loyalty import tasks
from loyalty.models import MemberStats, PointsAccount, PointsEntry, PointsLot
from loyalty.reconcile import ledger_mismatches
from loyalty.services import points_birthday_pay_due
from members.services import member_set_status
from tests.conftest import postgres_only
from tests.factories import MemberFactory
from tests.factories.loyalty import TierFactory
from tests.loyalty.clock import Clock, local
from tests.loyalty.test_concurrency import outcome, race

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 3, 1, 0, 20))


@pytest.fixture
def tiers(db):
    return (
        TierFactory(code="NORMAL", name="普卡", rank=0, threshold=Decimal("0")),
        TierFactory(code="SILVER", name="银卡", rank=1, threshold=Decimal("1000"), birthday_points=100),
        TierFactory(code="GOLD", name="金卡", rank=2, threshold=Decimal("5000"), birthday_points=200),
    )


def in_tier(tier, *, birthday: date, name: str = "王芳"):
    member = MemberFactory(name=name, birthday=birthday)
    MemberStats.objects.create(member=member, tier=tier, tier_since=local(2025, 1, 1))
    return member


def available(member) -> int:
    return PointsAccount.objects.filter(pk=member.pk).values_list("available", flat=True).first() or 0


def test_a_gold_member_is_paid_the_tiers_birthday_points_once_in_their_birthday_month(clock, policy, tiers):
    _normal, _silver, gold = tiers
    wang = in_tier(gold, birthday=date(1990, 3, 28))

    first = points_birthday_pay_due()
    clock.set(local(2026, 3, 2, 0, 20))
    second = points_birthday_pay_due()

    assert (first, second) == ({"members": 1, "paid": 1, "points": 200}, {"members": 0, "paid": 0, "points": 0})
    entry = PointsEntry.objects.get(member=wang)
    assert (entry.kind, entry.points, entry.idempotency_key) == (PointsEntry.Kind.BIRTHDAY, 200, "birthday:2026")
    # A lot of its own that expires as earned points do (12 months by default), spendable at once.
    lot = PointsLot.objects.get(entry=entry)
    assert not lot.is_pending and lot.expires_at is not None and lot.expires_at > local(2027, 1, 1)
    assert available(wang) == 200
    assert ledger_mismatches() == []


def test_only_members_in_their_birthday_month_whose_tier_gives_points_are_paid(clock, policy, tiers):
    normal, silver, gold = tiers
    in_tier(silver, birthday=date(1985, 3, 1), name="银卡三月")
    in_tier(gold, birthday=date(1985, 4, 1), name="金卡四月")
    in_tier(normal, birthday=date(1985, 3, 15), name="普卡三月")
    MemberFactory(name="未消费三月", birthday=date(1985, 3, 15))  # in the entry tier, which gives nothing
    MemberFactory(name="没填生日")

    assert points_birthday_pay_due() == {"members": 1, "paid": 1, "points": 100}
    assert list(PointsEntry.objects.values_list("member__name", "points")) == [("银卡三月", 100)]


def test_the_next_year_pays_again(clock, policy, tiers):
    wang = in_tier(tiers[2], birthday=date(1990, 3, 28))
    points_birthday_pay_due()
    clock.set(local(2027, 3, 10, 0, 20))

    assert points_birthday_pay_due()["paid"] == 1
    assert sorted(PointsEntry.objects.filter(member=wang).values_list("idempotency_key", flat=True)) == [
        "birthday:2026",
        "birthday:2027",
    ]


def test_a_member_who_joins_in_their_birthday_month_is_paid_by_the_next_run(clock, policy, tiers):
    normal, _silver, _gold = tiers
    normal.birthday_points = 20
    normal.save()
    clock.set(local(2026, 3, 20, 15))
    newcomer = MemberFactory(name="新会员", birthday=date(2000, 3, 5))  # no purchase yet: the entry tier

    clock.set(local(2026, 3, 21, 0, 20))
    assert points_birthday_pay_due()["paid"] == 1
    assert available(newcomer) == 20


def test_an_upgrade_after_the_payment_is_not_paid_again_that_year(clock, policy, tiers):
    _normal, silver, gold = tiers
    li = in_tier(silver, birthday=date(1992, 3, 9), name="李娜")
    points_birthday_pay_due()
    MemberStats.objects.filter(pk=li.pk).update(tier=gold)

    clock.set(local(2026, 3, 20, 0, 20))
    assert points_birthday_pay_due()["paid"] == 0
    assert available(li) == 100


def test_a_member_who_reaches_a_tier_with_birthday_points_within_the_month_is_paid(clock, policy, tiers):
    normal, silver, _gold = tiers
    zhang = in_tier(normal, birthday=date(1992, 3, 9), name="张伟")
    assert points_birthday_pay_due()["paid"] == 0
    MemberStats.objects.filter(pk=zhang.pk).update(tier=silver)

    clock.set(local(2026, 3, 12, 0, 20))
    assert points_birthday_pay_due()["paid"] == 1
    assert available(zhang) == 100


def test_a_frozen_member_is_passed_over_until_unfrozen(clock, policy, tiers, chain):
    frozen = in_tier(tiers[1], birthday=date(1992, 3, 9), name="冻结")
    member_set_status(member=frozen, status="frozen", actor=chain.hq_admin, reason="核查")
    assert points_birthday_pay_due()["paid"] == 0

    member_set_status(member=frozen, status="active", actor=chain.hq_admin, reason="已核查")
    clock.set(local(2026, 3, 5, 0, 20))
    assert points_birthday_pay_due()["paid"] == 1


def test_the_daily_task_is_scheduled_pays_and_logs(clock, policy, tiers, caplog):
    task = PeriodicTask.objects.select_related("crontab").get(name="loyalty: birthday points")
    assert (task.task, task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == (
        "loyalty.tasks.pay_birthday_points",
        "20",
        "0",
        "Asia/Shanghai",
    )
    assert tasks.pay_birthday_points.name == task.task and tasks.pay_birthday_points.acks_late
    in_tier(tiers[2], birthday=date(1990, 3, 28))

    with caplog.at_level(logging.INFO, logger="loyalty.tasks"):
        assert tasks.pay_birthday_points.apply().get() == {"members": 1, "paid": 1, "points": 200}
    assert "1 of 1 members paid, 200 points" in caplog.text


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_running_the_job_at_once_pay_each_member_once(clock, policy, tiers):
    members = [in_tier(tiers[2], birthday=date(1990, 3, d), name=f"会员{'甲乙丙丁戊'[d - 1]}") for d in range(1, 6)]

    results = race(2, lambda i: points_birthday_pay_due())

    assert [outcome(r) for r in results] == ["ok", "ok"]
    assert sum(r["paid"] for r in results) == 5
    assert PointsEntry.objects.filter(kind=PointsEntry.Kind.BIRTHDAY).count() == 5
    assert [available(m) for m in members] == [200] * 5
    assert ledger_mismatches() == []


def test_the_member_card_says_the_birthday_points_were_paid(clock, policy, tiers, chain, at_till):
    from django.urls import reverse

    wang = in_tier(tiers[2], birthday=date(1990, 3, 28))
    points_birthday_pay_due()
    clock.set(local(2026, 3, 10, 11))

    page = at_till(chain.cashier_a, chain.store_a).get(
        reverse("tablet:member", args=[wang.code]), HTTP_ACCEPT_LANGUAGE="en"
    )

    assert "Birthday points: 200 paid on 2026-03-01." in page.content.decode()
