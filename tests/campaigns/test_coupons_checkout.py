"""Coupons at checkout: what each kind takes off which lines, every refusal (nothing written), claiming,
and a refund giving the coupon back while it is still valid."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from campaigns.models import Coupon
from campaigns.services.coupons import coupon_void
from campaigns.services.redemption import coupon_plan, coupons_claim
from loyalty.models import MemberStats, PointsAccount, Sale
from loyalty.services import RefundLineInput, sale_refund
from tests.campaigns.conftest import line, rid
from tests.factories.campaigns import (
    AmountOffTemplateFactory,
    CouponFactory,
    CouponTemplateFactory,
    GiftTemplateFactory,
    PercentOffTemplateFactory,
)
from tests.loyalty.clock import Clock, local

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 6, 10, 14, 0))


def make_tier(member, tier) -> None:
    MemberStats.objects.update_or_create(member=member, defaults={"tier": tier})


def refusal(excinfo) -> tuple[str, str, str]:
    field, errors = next(iter(excinfo.value.error_dict.items()))
    error = errors[0]
    return field, error.code, str(error.message % error.params if error.params else error.message)


# What each kind takes off


def test_a_threshold_coupon_takes_its_amount_off_shared_over_the_lines(chain, member, checkout, clock):
    coupon = CouponFactory(member=member, template=CouponTemplateFactory(amount=D("50"), threshold=D("200")))

    sale = checkout(member, [line("饮品", 150), line("烘焙", 100)], coupons=[coupon.code], cash="200.00")

    assert (sale.subtotal, sale.coupon_discount, sale.total_due) == (D("250.00"), D("50.00"), D("200.00"))
    assert [line.net_amount for line in sale.lines.all()] == [D("120.00"), D("80.00")]
    assert sale.points_earned == 200  # on what was paid, not on the discount
    coupon.refresh_from_db()
    assert (coupon.status, coupon.sale, coupon.discount, coupon.used_at) == (
        Coupon.Status.USED,
        sale,
        D("50.00"),
        sale.created_at,
    )
    assert sale.coupon_code == coupon.code


def test_the_minimum_spend_counts_what_the_lines_cost_after_the_tier_discount(chain, member, checkout, tiers):
    make_tier(member, tiers["gold"])  # 10 % off: ¥220 of goods cost ¥198
    coupon = CouponFactory(member=member, template=CouponTemplateFactory(amount=D("50"), threshold=D("200")))

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        checkout(member, [line("饮品", 220)], coupons=[coupon.code], cash="148.00")

    assert refusal(excinfo) == (
        "coupon",
        "coupon_below_threshold",
        f"Coupon {coupon.code} needs ¥200.00 of eligible goods; this sale has ¥198.00.",
    )


def test_a_coupon_for_categories_counts_and_discounts_only_their_lines(chain, member, checkout):
    template = CouponTemplateFactory(amount=D("20"), threshold=D("100"), categories=["饮品"])
    coupon = CouponFactory(member=member, template=template)

    sale = checkout(member, [line("饮品", 120), line("零食", 80)], coupons=[coupon.code], cash="180.00")

    assert [line.net_amount for line in sale.lines.all()] == [D("100.00"), D("80.00")]


def test_other_categories_do_not_reach_the_minimum_spend(chain, member, checkout):
    coupon = CouponFactory(
        member=member, template=CouponTemplateFactory(amount=D("20"), threshold=D("100"), categories=["饮品"])
    )

    with pytest.raises(ValidationError) as excinfo:
        checkout(member, [line("饮品", 90), line("零食", 200)], coupons=[coupon.code], cash="270.00")

    assert refusal(excinfo)[1] == "coupon_below_threshold"


@pytest.mark.parametrize(("amount", "off"), [("200.00", "20.00"), ("500.00", "30.00"), ("33.33", "3.33")])
def test_a_percent_coupon_takes_its_percent_up_to_its_cap(chain, member, checkout, amount, off):
    template = PercentOffTemplateFactory(percent_off=D("10"), max_discount=D("30"))
    coupon = CouponFactory(member=member, template=template)

    sale = checkout(member, [line("服装", amount)], coupons=[coupon.code], cash=D(amount) - D(off))

    assert sale.coupon_discount == D(off)


def test_a_percent_coupon_applies_to_what_is_left_after_the_tier_discount(chain, member, checkout, tiers):
    make_tier(member, tiers["gold"])
    coupon = CouponFactory(member=member, template=PercentOffTemplateFactory(percent_off=D("20"), max_discount=None))

    sale = checkout(member, [line("服装", 100)], coupons=[coupon.code], cash="72.00")

    assert (sale.tier_discount, sale.coupon_discount, sale.total_due) == (D("10.00"), D("18.00"), D("72.00"))


def test_an_amount_off_takes_no_more_than_the_lines_cost(chain, member, checkout):
    coupon = CouponFactory(member=member, template=AmountOffTemplateFactory(amount=D("10")))

    sale = checkout(member, [line("饮品", "6.50")], coupons=[coupon.code], cash="0")

    assert (sale.coupon_discount, sale.total_due) == (D("6.50"), D("0.00"))
    coupon.refresh_from_db()
    assert coupon.discount == D("6.50")


def test_a_gift_coupon_takes_one_unit_of_the_gifts_line_off(chain, member, checkout):
    coupon = CouponFactory(member=member, template=GiftTemplateFactory(categories=["咖啡"], gift_value=D("32")))

    sale = checkout(member, [line("咖啡", 60, quantity=2), line("烘焙", 20)], coupons=[coupon.code], cash="50.00")

    assert [line.net_amount for line in sale.lines.all()] == [D("30.00"), D("20.00")]


def test_a_gift_coupon_takes_no_more_than_the_gifts_value(chain, member, checkout):
    coupon = CouponFactory(member=member, template=GiftTemplateFactory(categories=["咖啡"], gift_value=D("32")))

    sale = checkout(member, [line("咖啡", 38)], coupons=[coupon.code], cash="6.00")

    assert sale.coupon_discount == D("32.00")


def test_a_gift_coupon_without_the_gift_on_the_sale_is_refused(chain, member, checkout):
    coupon = CouponFactory(member=member, template=GiftTemplateFactory(categories=["咖啡"]))

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        checkout(member, [line("烘焙", 20)], coupons=[coupon.code], cash="20.00")

    assert refusal(excinfo)[1:] == (
        "coupon_no_eligible_lines",
        f"Coupon {coupon.code} is for 咖啡; there is none on this sale.",
    )


def test_stackable_coupons_apply_one_after_the_other(chain, member, checkout):
    first = CouponFactory(member=member, template=CouponTemplateFactory(stackable=True))  # 满200减50
    second = CouponFactory(member=member, template=PercentOffTemplateFactory(stackable=True, percent_off=D("10")))

    sale = checkout(member, [line("饮品", 300)], coupons=[first.code, second.code], cash="225.00")

    # ¥50 off ¥300, then 10 % of the ¥250 left.
    assert sale.coupon_discount == D("75.00")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.discount, second.discount) == (D("50.00"), D("25.00"))
    assert first.sale == second.sale == sale


def test_the_same_coupon_typed_twice_counts_once(chain, member, checkout):
    coupon = CouponFactory(member=member)

    sale = checkout(
        member, [line("饮品", 250)], coupons=[coupon.code, coupon.code.lower().replace("-", "")], cash="200.00"
    )

    assert sale.coupon_discount == D("50.00")


def test_a_coupon_can_be_limited_to_online_sales(chain, member, checkout):
    coupon = CouponFactory(member=member, template=CouponTemplateFactory(channels=["online"]))

    sale = checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00", channel="online")

    assert sale.coupon_discount == D("50.00")


def test_a_coupon_of_the_right_tier_and_store_applies(chain, member, checkout, tiers):
    make_tier(member, tiers["gold"])
    template = CouponTemplateFactory(tiers=[tiers["gold"]], stores=[chain.store_a])
    coupon = CouponFactory(member=member, template=template)

    sale = checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="175.00")

    assert (sale.tier_discount, sale.coupon_discount) == (D("25.00"), D("50.00"))


# Refusals: each a clear message on "coupon", and nothing written


@pytest.fixture
def nothing_written():
    def check(coupon: Coupon | None = None):
        assert not Sale.objects.exists()
        if coupon is not None:
            status = Coupon.objects.get(pk=coupon.pk).status
            assert status in (Coupon.Status.ISSUED, Coupon.Status.VOID)
            assert Coupon.objects.get(pk=coupon.pk).sale_id is None

    return check


def test_an_unknown_code_is_refused(chain, member, checkout, nothing_written):
    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        checkout(member, [line("饮品", 250)], coupons=["7K3M-Q9XD-2HVA"], cash="200.00")

    assert refusal(excinfo) == ("coupon", "coupon_not_found", "There is no coupon with the code 7K3M-Q9XD-2HVA.")
    nothing_written()


def test_someone_elses_coupon_is_refused_without_saying_whose(chain, member, other_member, checkout, nothing_written):
    coupon = CouponFactory(member=other_member)

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    assert refusal(excinfo) == ("coupon", "coupon_not_yours", f"Coupon {coupon.code} belongs to another member.")
    nothing_written(coupon)


def test_a_coupon_needs_its_member_on_the_sale(chain, member, checkout, nothing_written):
    coupon = CouponFactory(member=member)

    with pytest.raises(ValidationError) as excinfo:
        checkout(None, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    assert refusal(excinfo)[1] == "coupon_no_member"
    nothing_written(coupon)


def test_a_used_coupon_is_refused(chain, member, checkout):
    coupon = CouponFactory(member=member)
    checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    assert refusal(excinfo) == ("coupon", "coupon_used", f"Coupon {coupon.code} has already been used.")
    assert Sale.objects.count() == 1


def test_a_voided_coupon_is_refused(chain, member, checkout, nothing_written):
    coupon = CouponFactory(member=member)
    coupon_void(coupon=coupon, actor=chain.marketer, reason="发错了")

    with pytest.raises(ValidationError) as excinfo:
        checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    assert refusal(excinfo)[1] == "coupon_void"
    nothing_written(coupon)


def test_an_expired_coupon_is_refused(chain, member, checkout, clock, nothing_written):
    coupon = CouponFactory(member=member, template=CouponTemplateFactory(valid_days=3))
    clock.set(local(2026, 6, 14, 0, 0))  # the end of the third day after issue

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    assert refusal(excinfo) == ("coupon", "coupon_expired", f"Coupon {coupon.code} expired on 2026-06-14 00:00.")
    nothing_written(coupon)


def test_a_coupon_not_yet_valid_is_refused(chain, member, checkout, clock, nothing_written):
    template = CouponTemplateFactory(
        valid_days=None, valid_from=local(2026, 7, 1, 0, 0), valid_until=local(2026, 7, 31)
    )
    coupon = CouponFactory(member=member, template=template)

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    assert refusal(excinfo) == (
        "coupon",
        "coupon_not_yet_valid",
        f"Coupon {coupon.code} can be used from 2026-07-01 00:00.",
    )
    nothing_written(coupon)


def test_a_coupon_for_other_stores_is_refused(chain, member, checkout, nothing_written):
    coupon = CouponFactory(member=member, template=CouponTemplateFactory(stores=[chain.store_b]))

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    assert refusal(excinfo) == (
        "coupon",
        "coupon_wrong_store",
        f"Coupon {coupon.code} cannot be used at this store; only at BJ001.",
    )
    nothing_written(coupon)


def test_a_coupon_for_another_tier_is_refused(chain, member, checkout, tiers, nothing_written):
    make_tier(member, tiers["normal"])
    coupon = CouponFactory(member=member, template=CouponTemplateFactory(tiers=[tiers["gold"]]))

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    assert refusal(excinfo) == ("coupon", "coupon_wrong_tier", f"Coupon {coupon.code} is for members of 金卡 only.")
    nothing_written(coupon)


def test_a_tier_coupon_is_refused_to_a_member_without_a_tier(chain, member, checkout, tiers, nothing_written):
    coupon = CouponFactory(member=member, template=CouponTemplateFactory(tiers=[tiers["gold"]]))

    with pytest.raises(ValidationError) as excinfo:
        checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    assert refusal(excinfo)[1] == "coupon_wrong_tier"


def test_an_online_coupon_is_refused_in_store(chain, member, checkout, nothing_written):
    coupon = CouponFactory(member=member, template=CouponTemplateFactory(channels=["online"]))

    with pytest.raises(ValidationError) as excinfo:
        checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    assert refusal(excinfo)[1] == "coupon_wrong_channel"
    nothing_written(coupon)


def test_a_coupon_that_does_not_stack_is_refused_beside_another(chain, member, checkout, nothing_written):
    alone = CouponFactory(member=member, template=CouponTemplateFactory(stackable=False))
    other = CouponFactory(member=member, template=AmountOffTemplateFactory(stackable=True))

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        checkout(member, [line("饮品", 250)], coupons=[other.code, alone.code], cash="190.00")

    assert refusal(excinfo) == (
        "coupon",
        "coupon_not_stackable",
        f"Coupon {alone.code} does not combine with other coupons: use it on its own.",
    )
    nothing_written(alone)
    nothing_written(other)


def test_a_refused_coupon_leaves_the_members_points_alone(chain, member, checkout, give_points):
    give_points(member, 1000)
    coupon = CouponFactory(member=member, template=CouponTemplateFactory(stores=[chain.store_b]))

    with pytest.raises(ValidationError):
        checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="195.00", points=500)

    assert PointsAccount.objects.get(pk=member.pk).available == 1000


def test_a_coupon_claimed_by_another_sale_since_it_was_checked_is_refused(chain, member, checkout):
    coupon = CouponFactory(member=member)
    plan = coupon_plan(
        codes=[coupon.code],
        member=member,
        store=chain.store_a,
        channel="store",
        lines=[line("饮品", 250)],
        line_dues=[D("250.00")],
        now=timezone.now(),
    )
    other = checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    with pytest.raises(ValidationError) as excinfo:
        coupons_claim(plan=plan, sale=other, now=timezone.now())

    assert refusal(excinfo)[1] == "coupon_used"
    coupon.refresh_from_db()
    assert (coupon.sale, coupon.discount) == (other, D("50.00"))


# Refunds


def full_refund(chain, sale):
    return sale_refund(request_id=rid(), sale=sale, actor=chain.manager_a, reason="退货", amount=sale.paid_total)


def test_a_full_refund_gives_the_coupon_back_while_it_is_valid(chain, member, checkout, clock):
    coupon = CouponFactory(member=member, template=CouponTemplateFactory(valid_days=3))
    sale = checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    full_refund(chain, sale)

    coupon.refresh_from_db()
    assert (coupon.status, coupon.sale, coupon.used_at, coupon.discount) == (Coupon.Status.ISSUED, None, None, D("0"))
    again = checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")
    assert again.coupon_discount == D("50.00")


def test_a_full_refund_after_the_coupon_expired_keeps_it_used(chain, member, checkout, clock):
    coupon = CouponFactory(member=member, template=CouponTemplateFactory(valid_days=3))
    sale = checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")
    clock.set(local(2026, 6, 15, 10, 0))

    full_refund(chain, sale)

    coupon.refresh_from_db()
    assert (coupon.status, coupon.sale) == (Coupon.Status.USED, sale)


def test_a_partial_refund_keeps_the_coupon_used(chain, member, checkout):
    coupon = CouponFactory(member=member)
    sale = checkout(member, [line("饮品", 150), line("烘焙", 100)], coupons=[coupon.code], cash="200.00")

    refund = sale_refund(
        request_id=rid(), sale=sale, actor=chain.manager_a, reason="退一件", lines=[RefundLineInput(2, D("1"))]
    )

    assert refund.amount == D("80.00")  # the line's net amount: its share of the coupon stays off
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.USED


def test_the_coupon_works_at_any_store_of_the_chain_by_default(chain, member, checkout):
    coupon = CouponFactory(member=member)

    sale = checkout(
        member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00", store=chain.store_b, cashier=chain.cashier_b
    )

    assert sale.coupon_discount == D("50.00")
