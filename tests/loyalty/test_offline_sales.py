"""Offline sales (honoured as far as they can be), the quote, the manager's review and a store's day."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from loyalty.models import PointsAccount, PointsEntry, Sale, WalletEntry
from loyalty.reconcile import ledger_mismatches
from loyalty.selectors import sales_to_review, sales_to_review_count, store_day_figures
from loyalty.services import (
    LineInput,
    TenderInput,
    sale_checkout,
    sale_quote,
    sale_refund,
    sale_review_resolve,
    wallet_top_up,
)
from stores.models import AuditEntry
from tests.factories import MemberFactory, StaffFactory
from tests.factories.campaigns import CouponFactory
from tests.factories.loyalty import RechargePackageFactory, TierFactory
from tests.loyalty.conftest import rid
from tests.loyalty.test_sale_checkout import error_code, give_tier

pytestmark = pytest.mark.django_db

D = Decimal


def offline_sale(chain, member, amount, *, points=0, coupons=(), request_id=None, cashier=None, **tenders) -> Sale:
    return sale_checkout(
        request_id=request_id or rid(),
        store=chain.store_a,
        cashier=cashier or chain.cashier_a,
        member=member,
        lines=[LineInput("饮品", D("1"), D(amount))],
        tenders=[TenderInput(kind, D(value)) for kind, value in tenders.items()],
        coupon_codes=list(coupons),
        points_to_redeem=points,
        offline=True,
    )


def available(member) -> int:
    return PointsAccount.objects.get(pk=member.pk).available


def test_an_offline_sale_whose_points_were_spent_meanwhile_is_recorded_without_them(chain, member, sell):
    sell(member, "1000.00", cash="1000.00")  # 1000 points
    # The till rang up ¥100 with 1000 points (¥10) and ¥90 cash while offline; the points went elsewhere
    sell(member, "100.00", points=1000, cash="90.00")
    sale = offline_sale(chain, member, "100.00", points=1000, cash="90.00")
    assert sale.points_redeemed == 0 and sale.points_value == D("0.00")
    assert sale.review_reasons == ["points_unavailable", "amount_differs"]
    assert sale.review_state == Sale.ReviewState.PENDING
    assert sale.total_due == D("90.00") and sale.paid_money == D("90.00")
    assert sale.unsettled_amount == D("10.00")
    # Points are earned only on the money paid
    assert sale.points_earned == 90
    flagged = AuditEntry.objects.get(action="sale.offline_flagged")
    assert flagged.target_id == str(sale.pk) and flagged.data["reasons"] == sale.review_reasons
    assert flagged.data["unsettled"] == "10.00" and flagged.data["asked"]["points"] == 1000
    assert ledger_mismatches() == []


def test_an_offline_sale_with_everything_still_available_is_an_ordinary_sale(chain, member, sell):
    sell(member, "1000.00", cash="1000.00")
    sale = offline_sale(chain, member, "100.00", points=1000, cash="90.00")
    assert (sale.points_redeemed, sale.unsettled_amount, sale.review_reasons, sale.review_state) == (1000, 0, [], "")
    assert not AuditEntry.objects.filter(action="sale.offline_flagged").exists()


def test_an_offline_sale_over_the_cap_drops_the_points(chain, member, sell):
    sell(member, "10000.00", cash="10000.00")
    sale = offline_sale(chain, member, "100.00", points=6000, cash="40.00")
    assert sale.points_redeemed == 0 and "points_unavailable" in sale.review_reasons
    assert (sale.total_due, sale.unsettled_amount) == (D("40.00"), D("60.00"))


def test_an_offline_sale_with_a_used_coupon_is_recorded_without_it(chain, member, sell):
    coupon = CouponFactory(member=member)  # 满200减50
    sell_with_coupon = sale_checkout(
        request_id=rid(),
        store=chain.store_a,
        cashier=chain.cashier_a,
        member=member,
        lines=[LineInput("饮品", D("1"), D("200.00"))],
        tenders=[TenderInput("cash", D("150.00"))],
        coupon_code=coupon.code,
    )
    assert sell_with_coupon.coupon_discount == D("50.00")
    sale = offline_sale(chain, member, "200.00", coupons=[coupon.code], cash="150.00")
    assert sale.coupon_code == "" and sale.coupon_discount == D("0.00")
    assert sale.review_reasons == ["coupon_unavailable", "amount_differs"]
    assert (sale.total_due, sale.unsettled_amount) == (D("150.00"), D("50.00"))


def test_an_offline_sale_with_the_wallet_short_is_recorded_without_stored_value(chain, member, sell):
    wallet_top_up(
        request_id=rid(), member=member, store=chain.store_a, staff=chain.cashier_a, amount=D("50.00"), tender="cash"
    )
    sale = offline_sale(chain, member, "100.00", stored_value="80.00", cash="20.00")
    assert sale.review_reasons == ["stored_value_unavailable", "amount_differs"]
    assert (sale.paid_principal, sale.paid_bonus, sale.paid_money) == (D("0.00"), D("0.00"), D("20.00"))
    assert [t.kind for t in sale.tenders.all()] == ["cash"]
    assert (sale.total_due, sale.unsettled_amount) == (D("20.00"), D("80.00"))
    assert not WalletEntry.objects.filter(sale=sale).exists()
    assert ledger_mismatches() == []


def test_an_offline_sale_the_till_priced_without_a_new_tier_discount_records_what_was_collected(chain, member, sell):
    give_tier(member, TierFactory(discount_percent=D("10")))
    sale = offline_sale(chain, member, "100.00", cash="100.00")
    assert sale.review_reasons == ["amount_differs"]
    assert (sale.total_due, sale.unsettled_amount, sale.tier_discount) == (D("100.00"), D("-10.00"), D("10.00"))


def test_an_offline_request_id_sent_again_returns_the_first_sale_without_a_second_effect(chain, member, sell):
    sell(member, "1000.00", cash="1000.00")
    sell(member, "100.00", points=1000, cash="90.00")
    first = offline_sale(chain, member, "100.00", points=1000, cash="90.00", request_id="offline-0001")
    entries = PointsEntry.objects.count()
    again = offline_sale(chain, member, "100.00", points=1000, cash="90.00", request_id="offline-0001")
    assert again.pk == first.pk and again.replayed
    assert PointsEntry.objects.count() == entries
    assert AuditEntry.objects.filter(action="sale.offline_flagged").count() == 1


def test_an_offline_sale_is_still_refused_for_what_the_till_got_wrong(chain, member, sell):
    sell(member, "1000.00", cash="1000.00")
    with pytest.raises(ValidationError) as excinfo:
        offline_sale(chain, member, "100.00", points=150, cash="98.50")
    assert error_code(excinfo) == "invalid_points"
    with pytest.raises(ValidationError) as excinfo:
        offline_sale(chain, member, "100.00", bitcoin="100.00")
    assert error_code(excinfo) == "invalid_tender"
    with pytest.raises(PermissionDenied):
        offline_sale(chain, member, "100.00", cash="100.00", cashier=chain.cashier_b)
    sale = offline_sale(chain, member, "100.00", cash="100.00", request_id="offline-0002")
    with pytest.raises(ValidationError) as excinfo:
        offline_sale(chain, member, "100.00", cash="99.00", request_id="offline-0002")
    assert error_code(excinfo) == "request_id_reused"
    # The same sale sent online under that request id is the same sale.
    assert sell(member, "100.00", cash="100.00", request_id=sale.request_id).pk == sale.pk


def test_a_sale_that_timed_out_online_and_comes_again_from_the_offline_queue_is_one_sale(chain, member, sell):
    sell(member, "1000.00", cash="1000.00")
    first = sell(member, "100.00", points=100, cash="99.00", request_id="timed-out-0001")

    again = offline_sale(chain, member, "100.00", points=100, cash="99.00", request_id="timed-out-0001")

    assert again.pk == first.pk
    assert again.review_state == ""
    assert ledger_mismatches() == []


def test_a_flagged_offline_sale_can_be_refunded_in_full(chain, member, sell):
    sell(member, "1000.00", cash="1000.00")
    sell(member, "100.00", points=1000, cash="90.00")
    sale = offline_sale(chain, member, "100.00", points=1000, cash="90.00")
    refund = sale_refund(
        request_id=rid(), sale=sale, actor=chain.manager_a, amount=D("90.00"), reason="退货", store=chain.store_a
    )
    assert refund.money_refunded == D("90.00")
    assert ledger_mismatches() == []


# The quote


def quote(chain, member, amount, *, points=0, coupons=(), cashier=None):
    return sale_quote(
        store=chain.store_a,
        cashier=cashier or chain.cashier_a,
        member=member,
        lines=[LineInput("饮品", D("1"), D(amount))],
        coupon_codes=list(coupons),
        points_to_redeem=points,
    )


def test_the_quote_equals_what_checkout_then_records(chain, member, sell):
    sell(member, "3000.00", cash="3000.00")
    give_tier(member, TierFactory(discount_percent=D("10")))
    coupon = CouponFactory(member=member)
    priced = quote(chain, member, "300.00", points=2000, coupons=[coupon.code])
    # ¥300 − 10 % = 270, − ¥50 coupon = 220; the cap is half of that, 11000 points, but only 3000 are there
    assert (priced.subtotal, priced.tier_discount, priced.coupon_discount) == (D("300.00"), D("30.00"), D("50.00"))
    assert (priced.max_points, priced.points_value, priced.total_due) == (3000, D("20.00"), D("200.00"))
    assert (priced.redeem_points_per_yuan, priced.redeem_step, priced.stored_value_available) == (100, 100, D("0.00"))
    sale = sale_checkout(
        request_id=rid(),
        store=chain.store_a,
        cashier=chain.cashier_a,
        member=member,
        lines=[LineInput("饮品", D("1"), D("300.00"))],
        tenders=[TenderInput("cash", priced.total_due)],
        coupon_codes=[coupon.code],
        points_to_redeem=2000,
    )
    assert (sale.total_due, sale.points_value, sale.coupon_discount) == (
        priced.total_due,
        priced.points_value,
        priced.coupon_discount,
    )
    assert sale.points_earned == priced.points_earned


def test_the_quote_writes_nothing_and_refuses_what_checkout_refuses(chain, member, sell):
    sell(member, "100.00", cash="100.00")
    entries = PointsEntry.objects.count()
    with pytest.raises(ValidationError) as excinfo:
        quote(chain, member, "100.00", points=500)
    assert error_code(excinfo) == "insufficient_points"
    with pytest.raises(ValidationError) as excinfo:
        quote(chain, member, "100.00", coupons=["NO-SUCH-COUPON"])
    assert error_code(excinfo).startswith("coupon")
    with pytest.raises(PermissionDenied):
        quote(chain, member, "100.00", cashier=chain.cashier_b)
    assert PointsEntry.objects.count() == entries and Sale.objects.count() == 1


# The manager's review


@pytest.fixture
def flagged(chain, member, sell) -> Sale:
    sell(member, "1000.00", cash="1000.00")
    sell(member, "100.00", points=1000, cash="90.00")
    return offline_sale(chain, member, "100.00", points=1000, cash="90.00")


def test_a_manager_at_the_store_resolves_a_flagged_sale(chain, flagged):
    assert list(sales_to_review(store_ids=[chain.store_a.pk])) == [flagged]
    assert sales_to_review_count([chain.store_b.pk]) == 0 and sales_to_review_count(None) == 1
    sale = sale_review_resolve(sale=flagged, actor=chain.manager_a, note="顾客补付10元现金")
    flagged.refresh_from_db()
    assert (flagged.review_state, flagged.reviewed_by, flagged.review_note) == (
        "resolved",
        chain.manager_a,
        "顾客补付10元现金",
    )
    assert sale.reviewed_at is not None and sales_to_review_count(None) == 0
    assert AuditEntry.objects.get(action="sale.review_resolved").reason == "顾客补付10元现金"


def test_a_cashier_or_another_stores_manager_may_not_resolve(chain, flagged):

    manager_b = StaffFactory(username="manager_b", role="store_manager", stores=[chain.store_b])
    for actor in (chain.cashier_a, manager_b):
        with pytest.raises(PermissionDenied):
            sale_review_resolve(sale=flagged, actor=actor, note="ok")
    flagged.refresh_from_db()
    assert flagged.review_state == "pending"


def test_resolving_needs_a_note_and_happens_once(chain, flagged, sell, member):
    with pytest.raises(ValidationError) as excinfo:
        sale_review_resolve(sale=flagged, actor=chain.manager_a, note="  ")
    assert error_code(excinfo) == "note_required"
    with pytest.raises(ValidationError) as excinfo:
        sale_review_resolve(sale=flagged, actor=chain.manager_a, note="x" * 501)
    assert error_code(excinfo) == "note_too_long"
    sale_review_resolve(sale=flagged, actor=chain.manager_a, note="ok")
    with pytest.raises(ValidationError) as excinfo:
        sale_review_resolve(sale=flagged, actor=chain.hq_admin, note="again")
    assert error_code(excinfo) == "not_pending"
    ordinary = sell(member, "10.00", cash="10.00")
    with pytest.raises(ValidationError):
        sale_review_resolve(sale=ordinary, actor=chain.manager_a, note="nothing to review")


# A store's day


def test_a_stores_day_figures_in_five_queries(chain, sell, django_assert_num_queries):
    member = MemberFactory(store=chain.store_a)
    wallet_top_up(
        request_id=rid(),
        member=member,
        store=chain.store_a,
        staff=chain.cashier_a,
        package=RechargePackageFactory(),
        tender="cash",
    )
    sell(member, "1000.00", cash="1000.00")
    sale = sell(member, "100.00", points=1000, stored_value="90.00")
    sale_refund(
        request_id=rid(), sale=sale, actor=chain.manager_a, amount=D("45.00"), reason="退货", store=chain.store_a
    )
    from django.utils import timezone

    with django_assert_num_queries(5):
        figures = store_day_figures(store=chain.store_a, day=timezone.localdate())
    assert (figures.sales_count, figures.sales_amount, figures.points_value) == (2, D("1090.00"), D("10.00"))
    assert (figures.refunds_count, figures.refunds_amount) == (1, D("45.00"))
    assert figures.members_registered == 1
    assert figures.points_redeemed == 1000 and figures.points_issued >= 1000
    assert (figures.stored_value_topped_up, figures.stored_value_bonus_given) == (D("500.00"), D("50.00"))
    other = store_day_figures(store=chain.store_b, day=timezone.localdate())
    assert (other.sales_count, other.sales_amount, other.members_registered) == (0, D("0.00"), 0)


def test_hq_marks_a_flagged_sale_reviewed_in_the_admin_with_a_note(chain, flagged, client):
    client.force_login(chain.hq_admin)
    url = "/admin/loyalty/sale/"
    assert client.get(url, {"review_state": "pending"}).status_code == 200
    asked = client.post(url, {"action": "mark_reviewed", "_selected_action": [flagged.pk]})
    assert asked.status_code == 200 and b'name="note"' in asked.content
    done = client.post(
        url, {"action": "mark_reviewed", "_selected_action": [flagged.pk], "note": "已补收", "apply": "1"}
    )
    assert done.status_code == 302
    flagged.refresh_from_db()
    assert (flagged.review_state, flagged.review_note, flagged.reviewed_by) == ("resolved", "已补收", chain.hq_admin)
