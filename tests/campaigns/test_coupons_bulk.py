"""Issuing a template to a set of members at once (a segment): set-based, idempotent, within quantity."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from campaigns.models import Coupon
from campaigns.services.coupons import coupon_issue, coupons_issue_bulk
from members.models import Member
from members.services import member_set_status
from stores.models import AuditEntry
from tests.factories import MemberFactory
from tests.factories.campaigns import CouponTemplateFactory
from tests.loyalty.clock import Clock, local

pytestmark = pytest.mark.django_db


@pytest.fixture
def members(policy):
    return [MemberFactory() for _ in range(12)]


def bulk(template, members, key="campaign:1", **kwargs):
    return coupons_issue_bulk(
        template=template,
        members=Member.objects.filter(pk__in=[m.pk for m in members]),
        source=Coupon.Source.BULK,
        issue_key=key,
        **kwargs,
    )


def test_every_member_of_the_set_gets_one_coupon_with_a_code_of_its_own(chain, members, monkeypatch):
    clock = Clock(monkeypatch, local(2026, 5, 1, 10, 0))
    template = CouponTemplateFactory(valid_days=7)

    result = bulk(template, members, actor=chain.marketer)

    assert (result.issued, result.already_issued, result.at_limit, result.frozen) == (12, 0, 0, 0)
    coupons = list(Coupon.objects.filter(template=template))
    assert sorted(c.member_id for c in coupons) == sorted(m.pk for m in members)
    assert len({c.code for c in coupons}) == 12
    first = coupons[0]
    assert (first.status, first.source, first.issue_key, first.issued_by) == (
        Coupon.Status.ISSUED,
        Coupon.Source.BULK,
        "campaign:1",
        chain.marketer,
    )
    assert (first.valid_from, first.valid_until, first.issued_at) == (clock.now, local(2026, 5, 9, 0, 0), clock.now)
    template.refresh_from_db()
    assert template.issued_count == 12


def test_the_same_bulk_issue_again_changes_nothing(members):
    template = CouponTemplateFactory(total_quantity=12)
    bulk(template, members)

    again = bulk(template, members)

    assert (again.issued, again.already_issued) == (0, 12)
    assert Coupon.objects.count() == 12
    template.refresh_from_db()
    assert template.issued_count == 12


def test_a_bulk_issue_run_again_on_a_grown_set_issues_to_the_new_members_only(members, policy):
    template = CouponTemplateFactory()
    bulk(template, members[:5])

    result = bulk(template, members)

    assert (result.issued, result.already_issued) == (7, 5)
    assert Coupon.objects.count() == 12


def test_a_bulk_issue_that_needs_more_than_is_left_issues_nothing_and_says_how_many_are_left(members):
    template = CouponTemplateFactory(total_quantity=15, name="限量15张")
    bulk(template, members[:5], key="first")

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        bulk(template, members, key="second")

    error = excinfo.value.error_dict["template"][0]
    assert error.code == "coupon_quantity_exhausted"
    assert error.message % error.params == "Only 10 coupons of “限量15张” are left, and this issue needs 12."
    assert Coupon.objects.count() == 5
    template.refresh_from_db()
    assert template.issued_count == 5


def test_exactly_the_quantity_left_is_enough(members):
    template = CouponTemplateFactory(total_quantity=12)

    assert bulk(template, members).issued == 12


def test_members_at_the_per_member_limit_are_skipped_and_counted(members):
    template = CouponTemplateFactory(per_member_limit=1)
    for member in members[:3]:
        coupon_issue(template=template, member=member, source=Coupon.Source.CAMPAIGN, issue_key="earlier")

    result = bulk(template, members)

    assert (result.issued, result.at_limit, result.already_issued) == (9, 3, 0)
    assert Coupon.objects.filter(template=template).count() == 12
    template.refresh_from_db()
    assert template.issued_count == 12


def test_frozen_members_are_skipped_and_counted(chain, members):
    member_set_status(member=members[0], actor=chain.hq_admin, status="frozen", reason="挂失")

    result = bulk(CouponTemplateFactory(), members)

    assert (result.issued, result.frozen) == (11, 1)
    assert not Coupon.objects.filter(member=members[0]).exists()


def test_an_empty_set_issues_nothing(members):
    result = bulk(CouponTemplateFactory(), [])

    assert result.members == 0 and not Coupon.objects.exists()


def test_a_bulk_issue_by_staff_is_audited_once(chain, members):
    template = CouponTemplateFactory()

    bulk(template, members, actor=chain.marketer)

    entry = AuditEntry.objects.get(action="coupon.bulk_issued")
    assert (entry.actor, entry.target_id, entry.data["issued"]) == (chain.marketer, str(template.pk), 12)


def test_store_staff_cannot_issue_in_bulk(chain, members):
    with pytest.raises(PermissionDenied):
        bulk(CouponTemplateFactory(), members, actor=chain.manager_a)

    assert not Coupon.objects.exists()


def test_an_inactive_template_is_refused(members):
    with pytest.raises(ValidationError) as excinfo:
        bulk(CouponTemplateFactory(is_active=False), members)

    assert excinfo.value.error_dict["template"][0].code == "coupon_template_inactive"


def test_a_bulk_issue_takes_a_constant_number_of_queries(policy, django_assert_max_num_queries):
    few = [MemberFactory() for _ in range(3)]
    many = [MemberFactory() for _ in range(40)]
    template = CouponTemplateFactory(per_member_limit=2)

    with django_assert_max_num_queries(20) as small:
        bulk(template, few, key="a")
    with django_assert_max_num_queries(20) as large:
        bulk(template, many, key="b")

    executed = [q for q in large.captured_queries if "INSERT INTO campaigns_bulk_issue_codes" not in q["sql"]]
    assert len(executed) <= len(small.captured_queries)
