from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from loyalty.models import PointsAccount, ReferralReward
from loyalty.reconcile import ledger_mismatches
from loyalty.services import points_behaviour_event, points_profile_completed, points_sign_in
from members.services import member_register, member_set_status, member_update
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def balance(member) -> int:
    account = PointsAccount.objects.filter(pk=member.pk).first()
    return account.available if account else 0


def day(n: int):
    return timezone.now() - timedelta(days=n)


def test_signing_in_every_day_pays_the_streak_bonus_on_the_seventh(chain, member, policy):
    for n in range(6, -1, -1):
        sign_in = points_sign_in(member=member, actor=chain.cashier_a, store=chain.store_a, now=day(n))
    assert sign_in.streak == 7
    assert sign_in.points == 5 + 30
    assert balance(member) == 7 * 5 + 30


def test_a_missed_day_starts_the_streak_again(chain, member, policy):
    points_sign_in(member=member, actor=chain.hq_admin, now=day(3))
    points_sign_in(member=member, actor=chain.hq_admin, now=day(2))
    assert points_sign_in(member=member, actor=chain.hq_admin, now=day(0)).streak == 1


def test_signing_in_twice_a_day_counts_once(chain, member, policy):
    first = points_sign_in(member=member, actor=chain.hq_admin)
    again = points_sign_in(member=member, actor=chain.hq_admin)
    assert again.pk == first.pk
    assert balance(member) == 5


def test_completing_the_profile_is_rewarded_once_when_it_becomes_complete(chain, member, policy):
    with pytest.raises(ValidationError) as error:
        points_profile_completed(member=member)
    assert error.value.error_dict["member"][0].code == "profile_incomplete"

    member = member_update(member=member, actor=chain.hq_admin, gender="female", birthday=date(1990, 5, 1))
    assert balance(member) == 0
    member = member_update(member=member, actor=chain.hq_admin, email="wf@example.com")
    assert balance(member) == 50

    member_update(member=member, actor=chain.hq_admin, email="wang.fang@example.com")
    points_profile_completed(member=member)
    assert balance(member) == 50


def test_a_member_registered_with_a_complete_profile_is_rewarded_at_once(chain, policy):
    member = member_register(
        phone="13700137000",
        name="赵敏",
        gender="female",
        birthday=date(1992, 3, 4),
        email="zm@example.com",
        store=chain.store_a,
        staff=chain.cashier_a,
    )
    assert balance(member) == 50


def test_a_frozen_members_completed_profile_earns_nothing(chain, member, policy):
    member_set_status(member=member, actor=chain.hq_admin, status="frozen", reason="card lost")
    member = member_update(
        member=member, actor=chain.hq_admin, gender="female", birthday=date(1990, 5, 1), email="wf@example.com"
    )
    assert balance(member) == 0


def test_a_cashier_signs_members_in_only_at_their_own_store(chain, member, policy):
    with pytest.raises(PermissionDenied):
        points_sign_in(member=member, actor=chain.cashier_b, store=chain.store_a)
    with pytest.raises(PermissionDenied):
        points_sign_in(member=member, actor=chain.cashier_a)
    assert balance(member) == 0


def test_only_a_back_office_role_reports_reviews_and_shares(chain, member, policy):
    for actor in (chain.cashier_a, chain.manager_a, chain.marketer):
        with pytest.raises(PermissionDenied):
            points_behaviour_event(member=member, kind="review", external_id="order-1", actor=actor)
    assert balance(member) == 0


def test_a_review_posted_twice_by_an_integration_pays_once(chain, member, policy):
    points_behaviour_event(member=member, kind="review", external_id="order-77", actor=chain.hq_admin)
    points_behaviour_event(member=member, kind="review", external_id="order-77", actor=chain.hq_admin)
    points_behaviour_event(member=member, kind="share", external_id="wx-1", actor=chain.hq_admin)
    assert balance(member) == 10 + 5


def test_unknown_events_are_refused(chain, member, policy):
    with pytest.raises(ValidationError):
        points_behaviour_event(member=member, kind="like", external_id="1", actor=chain.hq_admin)
    with pytest.raises(ValidationError):
        points_behaviour_event(member=member, kind="review", external_id="", actor=chain.hq_admin)


def test_referral_pays_both_on_the_first_qualifying_purchase_not_at_registration(member, sell):
    friend = MemberFactory(phone="13900139000", name="李娜", referrer=member)
    assert balance(member) == 0 and balance(friend) == 0
    sell(friend, "100.00", cash="100.00")
    assert balance(member) == 200
    assert balance(friend) == 100 + 100
    sell(friend, "100.00", cash="100.00")
    assert balance(member) == 200
    assert ReferralReward.objects.count() == 1
    assert ledger_mismatches() == []


def test_a_purchase_below_the_qualifying_amount_does_not_pay_the_referral(member, sell, policy):
    policy.referral_min_purchase = Decimal("50.00")
    policy.save()
    friend = MemberFactory(phone="13900139000", name="李娜", referrer=member)
    sell(friend, "10.00", cash="10.00")
    assert not ReferralReward.objects.exists()


def test_the_referrer_is_paid_at_most_the_monthly_cap(member, sell, policy):
    policy.referral_monthly_cap = 2
    policy.save()
    friends = [MemberFactory(phone=f"1390013900{i}", name="李娜", referrer=member) for i in range(3)]
    for friend in friends:
        sell(friend, "20.00", cash="20.00")
    assert balance(member) == 2 * 200
    assert all(balance(f) == 100 + 20 for f in friends)
