"""Issuing one coupon: validity, quantity, per-member limit, idempotency, who may, and the registration gift."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from campaigns.models import Coupon, CouponTemplate
from campaigns.services.coupons import coupon_issue, coupon_issue_request, coupon_void
from members.services import member_set_status
from stores.models import AuditEntry
from tests.campaigns.conftest import rid
from tests.factories import MemberFactory
from tests.factories.campaigns import CouponFactory, CouponTemplateFactory
from tests.loyalty.clock import SHANGHAI, Clock, local

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 3, 16, 15, 30))  # a Monday afternoon in Shanghai


def refused(excinfo) -> tuple[str, str, str]:
    field, errors = next(iter(excinfo.value.error_dict.items()))
    error = errors[0]
    return field, error.code, str(error.message % error.params if error.params else error.message)


def issue(template, member, key="test:1", **kwargs):
    return coupon_issue(template=template, member=member, source=Coupon.Source.CAMPAIGN, issue_key=key, **kwargs)


# Validity


def test_a_coupon_valid_for_n_days_lasts_until_the_end_of_the_nth_local_day_after_issue(clock, member):
    coupon = issue(CouponTemplateFactory(valid_days=7), member)

    assert coupon.valid_from == clock.now
    assert coupon.valid_until == datetime(2026, 3, 24, 0, 0, tzinfo=SHANGHAI)  # the end of next Monday


def test_a_coupon_issued_just_before_midnight_counts_its_days_from_that_local_day(clock, member):
    clock.set(local(2026, 3, 16, 23, 59))

    coupon = issue(CouponTemplateFactory(valid_days=1), member)

    assert coupon.valid_until == datetime(2026, 3, 18, 0, 0, tzinfo=SHANGHAI)


def test_a_coupon_of_fixed_dates_has_the_templates_dates(clock, member):
    start, end = local(2026, 4, 1, 0, 0), local(2026, 4, 30, 23, 59)
    template = CouponTemplateFactory(valid_days=None, valid_from=start, valid_until=end)

    coupon = issue(template, member)

    assert (coupon.valid_from, coupon.valid_until) == (start, end)


def test_a_fixed_dates_coupon_whose_start_has_passed_is_valid_from_its_issue(clock, member):
    template = CouponTemplateFactory(valid_days=None, valid_from=local(2026, 3, 1), valid_until=local(2026, 3, 31))

    assert issue(template, member).valid_from == clock.now


def test_with_days_and_an_end_date_the_sooner_ends_the_coupon(clock, member):
    template = CouponTemplateFactory(valid_days=30, valid_until=local(2026, 3, 20, 0, 0))

    assert issue(template, member).valid_until == local(2026, 3, 20, 0, 0)


def test_a_template_whose_dates_have_passed_issues_nothing(clock, member):
    template = CouponTemplateFactory(valid_days=None, valid_until=local(2026, 3, 1))

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        issue(template, member)

    assert refused(excinfo)[1] == "coupon_template_expired"
    assert not Coupon.objects.exists()
    template.refresh_from_db()
    assert template.issued_count == 0


# Quantity, limits, state


def test_each_coupon_gets_a_code_of_its_own_and_counts_toward_the_templates_total(member, other_member):
    template = CouponTemplateFactory(total_quantity=10)

    first, second = issue(template, member, "k:1"), issue(template, other_member, "k:1")

    assert first.code != second.code
    template.refresh_from_db()
    assert template.issued_count == 2


def test_a_template_issues_no_more_than_its_total_quantity(member, other_member):
    template = CouponTemplateFactory(total_quantity=1, name="限量券")
    issue(template, member)

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        issue(template, other_member)

    assert refused(excinfo) == ("template", "coupon_quantity_exhausted", "All 1 coupons of “限量券” have been issued.")
    assert Coupon.objects.count() == 1
    template.refresh_from_db()
    assert template.issued_count == 1


def test_a_member_holds_no_more_of_a_template_than_its_per_member_limit(member):
    template = CouponTemplateFactory(per_member_limit=2, name="每人两张")
    issue(template, member, "k:1")
    issue(template, member, "k:2")

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        issue(template, member, "k:3")

    assert refused(excinfo)[:2] == ("member", "coupon_limit_reached")
    assert "2" in refused(excinfo)[2]
    template.refresh_from_db()
    assert (template.issued_count, Coupon.objects.count()) == (2, 2)


def test_a_voided_coupon_no_longer_counts_toward_the_per_member_limit(chain, member):
    template = CouponTemplateFactory(per_member_limit=1)
    coupon_void(coupon=issue(template, member, "k:1"), actor=chain.marketer, reason="发错了")

    assert issue(template, member, "k:2").status == Coupon.Status.ISSUED


def test_an_inactive_template_issues_nothing(member):
    template = CouponTemplateFactory(is_active=False)

    with pytest.raises(ValidationError) as excinfo:
        issue(template, member)

    assert refused(excinfo)[1] == "coupon_template_inactive"
    assert not Coupon.objects.exists()


def test_a_frozen_member_receives_no_coupon(chain, member):
    member_set_status(member=member, actor=chain.hq_admin, status="frozen", reason="挂失")

    with pytest.raises(ValidationError) as excinfo:
        issue(CouponTemplateFactory(), member)

    assert refused(excinfo)[1] == "member_frozen"


# Idempotency


def test_the_same_issue_again_answers_the_first_coupon(member):
    template = CouponTemplateFactory()
    first = issue(template, member, "birthday:2026")

    again = issue(template, member, "birthday:2026")

    assert again.pk == first.pk and again.replayed
    template.refresh_from_db()
    assert template.issued_count == 1


def test_an_issue_that_ran_before_gives_no_second_coupon_even_from_another_template(member):
    first = issue(CouponTemplateFactory(), member, "birthday:2026")

    again = issue(CouponTemplateFactory(), member, "birthday:2026")

    assert again.pk == first.pk
    assert Coupon.objects.count() == 1


def test_the_same_key_for_another_member_is_another_issue(member, other_member):
    template = CouponTemplateFactory()

    assert issue(template, member, "campaign:7").pk != issue(template, other_member, "campaign:7").pk


# Staff


def test_hq_issues_a_coupon_by_hand_and_it_is_audited(chain, member):
    template = CouponTemplateFactory()

    coupon = coupon_issue_request(request_id=rid(), template=template, member=member, actor=chain.marketer)

    assert (coupon.source, coupon.issued_by) == (Coupon.Source.MANUAL, chain.marketer)
    entry = AuditEntry.objects.get(action="coupon.issued")
    assert (entry.actor, entry.target_id, entry.data["member"]) == (chain.marketer, str(coupon.pk), member.code)


def test_a_request_sent_twice_issues_one_coupon(chain, member):
    template, request_id = CouponTemplateFactory(), rid()

    first = coupon_issue_request(request_id=request_id, template=template, member=member, actor=chain.hq_admin)
    again = coupon_issue_request(request_id=request_id, template=template, member=member, actor=chain.hq_admin)

    assert again.pk == first.pk and again.replayed
    assert AuditEntry.objects.filter(action="coupon.issued").count() == 1


def test_a_request_id_used_for_one_member_is_refused_for_another(chain, member, other_member):
    template, request_id = CouponTemplateFactory(), rid()
    coupon_issue_request(request_id=request_id, template=template, member=member, actor=chain.hq_admin)

    with pytest.raises(ValidationError) as excinfo:
        coupon_issue_request(request_id=request_id, template=template, member=other_member, actor=chain.hq_admin)

    assert refused(excinfo)[:2] == ("request_id", "request_id_reused")
    assert Coupon.objects.count() == 1


@pytest.mark.parametrize("persona", ["cashier_a", "manager_a"])
def test_store_staff_cannot_issue_coupons_by_hand(chain, member, persona):
    with pytest.raises(PermissionDenied):
        coupon_issue_request(
            request_id=rid(), template=CouponTemplateFactory(), member=member, actor=getattr(chain, persona)
        )

    assert not Coupon.objects.exists()


# Void


def test_hq_voids_an_unused_coupon_with_a_reason_and_it_is_audited(chain, member):
    coupon = CouponFactory(member=member)

    coupon_void(coupon=coupon, actor=chain.marketer, reason="客户投诉已另行补偿")

    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.VOID
    entry = AuditEntry.objects.get(action="coupon.voided")
    assert (entry.actor, entry.reason) == (chain.marketer, "客户投诉已另行补偿")


def test_voiding_needs_a_reason(chain, member):
    coupon = CouponFactory(member=member)

    with pytest.raises(ValidationError) as excinfo:
        coupon_void(coupon=coupon, actor=chain.marketer, reason="  ")

    assert refused(excinfo)[:2] == ("reason", "reason_required")
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED


def test_a_used_coupon_cannot_be_voided(chain, member, checkout):
    from tests.campaigns.conftest import line

    coupon = CouponFactory(member=member)
    checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash="200.00")

    with pytest.raises(ValidationError) as excinfo:
        coupon_void(coupon=coupon, actor=chain.hq_admin, reason="误操作")

    assert refused(excinfo)[1] == "coupon_used"
    assert not AuditEntry.objects.filter(action="coupon.voided").exists()


def test_store_staff_cannot_void_coupons(chain, member):
    with pytest.raises(PermissionDenied):
        coupon_void(coupon=CouponFactory(member=member), actor=chain.manager_a, reason="x")


# Registration gift


def test_a_new_member_gets_the_registration_gift(policy):
    template = CouponTemplateFactory(on_registration=True, name="新人礼", valid_days=30)

    member = MemberFactory()

    coupon = Coupon.objects.get(member=member)
    assert (coupon.template, coupon.source, coupon.issue_key) == (
        template,
        Coupon.Source.REGISTRATION,
        f"registration:{template.pk}",
    )


def test_only_active_registration_gifts_are_given(policy):
    CouponTemplateFactory(on_registration=True, is_active=False)
    CouponTemplateFactory(on_registration=False)

    member = MemberFactory()

    assert not Coupon.objects.filter(member=member).exists()


def test_a_registration_gift_that_ran_out_does_not_stop_a_registration(policy):
    template = CouponTemplateFactory(on_registration=True, total_quantity=1)
    first = MemberFactory()

    second = MemberFactory()

    assert second.pk is not None
    assert list(Coupon.objects.values_list("member_id", flat=True)) == [first.pk]
    template.refresh_from_db()
    assert template.issued_count == 1


def test_the_gift_is_one_query_when_there_is_none(policy, django_assert_max_num_queries):
    from members.services import member_register

    with django_assert_max_num_queries(30) as captured:
        member_register(phone="13700137000", name="张伟")

    assert sum("campaigns_coupontemplate" in q["sql"] for q in captured.captured_queries) == 1


def test_a_percent_template_with_nothing_off_is_refused_by_the_database(db):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        CouponTemplate.objects.create(
            name="坏券", kind=CouponTemplate.Kind.PERCENT_OFF, percent_off=Decimal("0"), valid_days=1
        )


def test_a_coupon_of_a_template_valid_for_days_expires_after_them(clock, member):
    coupon = issue(CouponTemplateFactory(valid_days=0), member)

    assert coupon.valid_until - clock.now == timedelta(hours=8, minutes=30)
