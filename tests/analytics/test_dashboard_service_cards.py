"""The service cards dashboard (服务卡): cards sold, services and commission, usage, renewals, no-shows and the
deferred revenue, on a small history whose figures are worked out by hand below."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from servicecards.models import Appointment, CardEntry, CommissionRule, MemberCard
from tests.analytics.loyalty_history import (
    assert_marketer_exports_and_others_may_not,
    assert_page_queries,
    board,
    figures,
    rows,
)
from tests.factories import MemberFactory
from tests.factories.servicecards import (
    CardProductFactory,
    PeriodCardProductFactory,
    ServiceFactory,
    ServiceStaffFactory,
    card_use_entry,
    member_card,
)
from tests.loyalty.clock import Clock, local

pytestmark = pytest.mark.django_db
SLUG = "service_cards"
D = Decimal


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 3, 31, 10))


@pytest.fixture
def history(chain, clock):
    """March 2026 at store A (SH001) and B (BJ001); now is 3/31 10:00.

    洗护 ¥100. 10次洗护卡 (12 uses with its bonus) ¥600; 健身月卡 ¥300, 30 days.
    Rules: therapist for 洗护 ¥20; therapist for anything ¥5 + 10 %; coach for anything 50 %.
    - 王芳 buys a 洗护卡 at A on 3/5; the therapist serves her on 3/6 and 3/7, the coach on 3/8; a use on 3/9
      is reversed. 9 uses left: deferred 600 × 9/12 = 450.
    - 赵敏's 洗护卡 of January runs out with a use on 3/1 (therapist); she buys another on 3/20 at A: a
      renewal (she ran out 19 days before). Deferred 0 + 600.
    - 孙丽 buys a 洗护卡 on 3/25 at A and is refunded: sold, not deferred.
    - 钱进's 洗护卡 of 2025 expired on 3/1 with 12 uses left: not deferred.
    - 李娜 buys a 月卡 at B on 3/16 10:00 (ends 4/15 10:00): 15 of 30 days left, 150.
    - 周涛 buys a 月卡 at B on 3/2 10:00 (ends 4/1 10:00), frozen on 3/12 10:00: 20 days left, 200.
    - Appointments: at A 3 done, 1 no-show, 1 cancelled, 1 still booked; at B 1 no-show.
    """
    wash = ServiceFactory(code="WASH", name="洗护", price=D("100.00"))
    wash_card = CardProductFactory(code="WASH10", name="10次洗护卡", uses=D(10), bonus_uses=D(2), price=D("600.00"))
    wash_card.services.set([wash])
    month = PeriodCardProductFactory(code="GYM1M", name="健身月卡", price=D("300.00"))
    month.services.set([wash])
    therapist = ServiceStaffFactory(job="therapist", services=[wash])
    coach = ServiceStaffFactory(job="coach", services=[wash])
    CommissionRule.objects.create(job="therapist", service=wash, amount=D("20.00"))
    CommissionRule.objects.create(job="therapist", service=None, amount=D("5.00"), percent=D("10.00"))
    CommissionRule.objects.create(job="coach", service=None, percent=D("50.00"))
    a, b = chain.store_a, chain.store_b
    people = {name: MemberFactory(name=name) for name in ("王芳", "赵敏", "孙丽", "钱进", "李娜", "周涛")}

    wang = member_card(people["王芳"], wash_card, a, purchased_at=local(2026, 3, 5, 10))
    for day, staff in ((6, therapist), (7, therapist), (8, coach)):
        card_use_entry(wang, at=local(2026, 3, day, 15), performed_by=staff.user)
    reversed_use = card_use_entry(wang, at=local(2026, 3, 9, 15), performed_by=therapist.user)
    CardEntry.objects.create(
        card=wang,
        member=wang.member,
        kind=CardEntry.Kind.REVERSAL,
        uses=D(1),
        store=a,
        recorded_by=chain.manager_a,
        reverses=reversed_use,
        reason="记错了",
    )
    MemberCard.objects.filter(pk=wang.pk).update(uses_remaining=D(9), uses_taken=D(3))

    old = member_card(people["赵敏"], wash_card, a, purchased_at=local(2026, 1, 10, 10), uses_remaining=D(1))
    card_use_entry(old, at=local(2026, 3, 1, 11), performed_by=therapist.user)
    member_card(people["赵敏"], wash_card, a, purchased_at=local(2026, 3, 20, 10))
    member_card(people["孙丽"], wash_card, a, purchased_at=local(2026, 3, 25, 10), status=MemberCard.Status.REFUNDED)
    member_card(people["钱进"], wash_card, a, purchased_at=local(2025, 2, 1, 10), expires_at=local(2026, 3, 1, 0))
    member_card(people["李娜"], month, b, purchased_at=local(2026, 3, 16, 10))
    zhou = member_card(people["周涛"], month, b, purchased_at=local(2026, 3, 2, 10), status=MemberCard.Status.FROZEN)
    MemberCard.objects.filter(pk=zhou.pk).update(frozen_at=local(2026, 3, 12, 10))

    def appointment(store, day, status, hour=10):
        starts = local(2026, 3, day, hour)
        Appointment.objects.create(
            request_id=uuid.uuid4().hex,
            store=store,
            member=people["王芳"],
            service=wash,
            staff=therapist,
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            status=status,
            booked_by=chain.cashier_a,
            closed_at=None if status == Appointment.Status.BOOKED else starts,
        )

    for day in (2, 3, 4):
        appointment(a, day, Appointment.Status.DONE)
    appointment(a, 5, Appointment.Status.NO_SHOW)
    appointment(a, 6, Appointment.Status.CANCELLED)
    appointment(a, 30, Appointment.Status.BOOKED)
    appointment(b, 7, Appointment.Status.NO_SHOW)
    return {"therapist": therapist, "coach": coach}


def test_cards_sold_services_and_deferred_revenue_by_store(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-03-01", "2026-03-31")

    table = {row[0]: row[1:] for row in rows(result, "by_store")}
    #          sold revenue        services kept no-shows rate          deferred now
    assert table["SH001 上海徐汇店"] == [3, D("1800.00"), 4, 3, 1, D("25.00"), D("1050.00")]
    assert table["BJ001 北京朝阳店"] == [2, D("600.00"), 0, 0, 1, D("100.00"), D("350.00")]
    shown = figures(result)
    assert shown["Cards sold"] == 5
    assert shown["Revenue"] == D("2400.00")
    assert shown["Services performed"] == 4
    assert shown["Deferred revenue"] == D("1400.00")
    assert shown["No-show rate"] == D("40.00")


def test_usage_and_renewals_by_product(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-03-01", "2026-03-31")

    table = {row[0]: row[1:] for row in rows(result, "by_product")}
    # 3 洗护卡 of 12 uses sold in March; 王芳 took 3 of hers: 3 / 36
    assert table["10次洗护卡"][1:] == [3, D("1800.00"), D(36), D(3), D("8.33"), 1]
    assert table["健身月卡"][1:] == [2, D("600.00"), D(0), D(0), None, 0]
    assert figures(result)["Renewals"] == 1
    assert figures(result)["Usage"] == D("8.33")


def test_commission_takes_the_service_s_rule_before_the_job_s(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-03-01", "2026-03-31")

    table = {row[0]: row[1:] for row in rows(result, "by_staff")}
    therapist, coach = str(history["therapist"]), str(history["coach"])
    # the therapist: 3 washes (3/1, 3/6, 3/7; 3/9 was reversed) at ¥20, the rule for 洗护 first
    assert table[therapist] == ["SH001", 3, D(3), D("60.00")]
    # the coach: 1 wash at 50 % of ¥100
    assert table[coach] == ["SH001", 1, D(1), D("50.00")]
    assert figures(result)["Commission"] == D("110.00")


def test_a_store_filter_keeps_that_store_s_cards_and_services(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-03-01", "2026-03-31", store=chain.store_b.pk)

    assert [row[0] for row in rows(result, "by_store")] == ["BJ001 北京朝阳店"]
    assert rows(result, "by_staff") == []
    assert figures(result)["Deferred revenue"] == D("350.00")


def test_a_period_without_cards_says_so(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2025-06-01", "2025-06-30")

    assert figures(result)["Cards sold"] == 0
    assert result.notes


def test_the_page_costs_five_queries_whatever_the_history(client, chain, history, django_assert_num_queries):
    assert_page_queries(client, django_assert_num_queries, chain.marketer, SLUG, "2026-03-01", "2026-03-31", 5)


def test_marketers_export_the_tables_and_store_roles_may_not(client, chain, history):
    assert_marketer_exports_and_others_may_not(client, chain, SLUG, "by_staff", "2026-03-01", "2026-03-31")
