"""Coupons in the back office: the template form, issuing to a member, the coupons list, voiding."""

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from campaigns.models import Coupon, CouponTemplate
from campaigns.services.coupons import coupon_issue
from stores.models import AuditEntry
from tests.admin_helpers import admin_search
from tests.campaigns.conftest import line
from tests.factories import MemberFactory
from tests.factories.campaigns import CouponFactory, CouponTemplateFactory

pytestmark = pytest.mark.django_db

ADD = reverse("admin:campaigns_coupontemplate_add")
TEMPLATES = reverse("admin:campaigns_coupontemplate_changelist")
COUPONS = reverse("admin:campaigns_coupon_changelist")
ISSUE = reverse("admin:campaigns_coupon_issue")


def template_form(**fields) -> dict:
    data = {
        "name": "满200减50",
        "kind": "threshold_off",
        "amount": "50",
        "threshold": "200",
        "percent_off": "0",
        "max_discount": "",
        "gift_name": "",
        "gift_value": "0",
        "categories": "",
        "validity": "days",
        "valid_days": "30",
        "valid_from_0": "",
        "valid_from_1": "",
        "valid_until_0": "",
        "valid_until_1": "",
        "total_quantity": "",
        "per_member_limit": "",
        "is_active": "on",
        "change_reason": "",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def hq(client, chain):
    client.force_login(chain.hq_admin)
    return client


@pytest.fixture
def marketer(client, chain):
    client.force_login(chain.marketer)
    return client


def errors(response) -> dict:
    form = response.context["adminform"].form
    return {field: [e.code for e in errs.as_data()] for field, errs in form.errors.items()}


# The template form


def test_hq_creates_a_threshold_coupon_and_the_change_is_audited(marketer, chain):
    response = marketer.post(ADD, template_form(change_reason="618大促"))

    assert response.status_code == 302, errors(response)
    template = CouponTemplate.objects.get()
    assert (template.kind, template.amount, template.threshold, template.valid_days) == (
        "threshold_off",
        Decimal("50.00"),
        Decimal("200.00"),
        30,
    )
    entry = AuditEntry.objects.get(action="loyalty.rule_changed")
    assert (entry.actor, entry.reason, entry.target_id) == (chain.marketer, "618大促", str(template.pk))


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"amount": "0"}, "amount", "amount_required"),
        ({"amount": "50", "threshold": "50"}, "threshold", "threshold_not_above_amount"),
        ({"kind": "amount_off", "threshold": "100"}, "threshold", "threshold_not_allowed"),
        ({"kind": "percent_off", "percent_off": "0"}, "percent_off", "invalid_percent"),
        ({"kind": "percent_off", "percent_off": "120"}, "percent_off", "invalid_percent"),
        ({"kind": "percent_off", "percent_off": "10", "max_discount": "0"}, "max_discount", "invalid_cap"),
        ({"kind": "gift", "gift_name": "拿铁", "gift_value": "32"}, "categories", "category_required"),
        ({"kind": "gift", "gift_value": "32", "categories": "咖啡"}, "gift_name", "gift_required"),
        ({"kind": "gift", "gift_name": "拿铁", "categories": "咖啡"}, "gift_value", "gift_value_required"),
        ({"valid_days": ""}, "valid_days", "required"),
        ({"validity": "dates", "valid_days": ""}, "valid_until", "required"),
        (
            {
                "validity": "dates",
                "valid_from_0": "2026-07-01",
                "valid_from_1": "00:00",
                "valid_until_0": "2026-06-01",
                "valid_until_1": "00:00",
            },
            "valid_until",
            "invalid_range",
        ),
        ({"total_quantity": "0"}, "total_quantity", "invalid"),
    ],
)
def test_the_form_asks_for_what_each_kind_and_validity_need(hq, fields, field, code):
    response = hq.post(ADD, template_form(**fields))

    assert response.status_code == 200
    assert code in errors(response).get(field, []), errors(response)
    assert not CouponTemplate.objects.exists()


def test_a_percent_coupon_keeps_no_stray_amount_and_fixed_dates_no_days(hq):
    response = hq.post(
        ADD,
        template_form(
            kind="percent_off",
            amount="50",
            percent_off="12.5",
            max_discount="30",
            validity="dates",
            valid_days="30",
            valid_until_0="2026-12-31",
            valid_until_1="23:59",
        ),
    )

    assert response.status_code == 302, errors(response)
    template = CouponTemplate.objects.get()
    assert (template.amount, template.percent_off, template.max_discount) == (
        Decimal("0.00"),
        Decimal("12.50"),
        Decimal("30.00"),
    )
    assert template.valid_days is None and template.valid_until is not None


def test_a_gift_coupon_and_its_categories_and_channels(hq, chain):
    response = hq.post(
        ADD,
        template_form(
            kind="gift",
            gift_name="拿铁一杯",
            gift_value="32",
            categories="咖啡，茶饮",
            channels=["store"],
            stores=[chain.store_a.pk],
            on_registration="on",
        ),
    )

    assert response.status_code == 302, errors(response)
    template = CouponTemplate.objects.get()
    assert (template.categories, template.channels, list(template.stores.all())) == (
        ["咖啡", "茶饮"],
        ["store"],
        [chain.store_a],
    )
    assert template.on_registration


def test_the_terms_stay_as_issued_once_coupons_exist(hq, member):
    template = CouponTemplateFactory()
    CouponFactory(template=template, member=member)
    change = reverse("admin:campaigns_coupontemplate_change", args=[template.pk])

    response = hq.post(change, template_form(name="改名了", amount="80", threshold="100", total_quantity="500"))

    assert response.status_code == 302, errors(response)
    template.refresh_from_db()
    assert (template.name, template.amount, template.threshold, template.total_quantity) == (
        "改名了",
        Decimal("50.00"),
        Decimal("200.00"),
        500,
    )


def test_saving_a_template_never_overwrites_coupons_issued_meanwhile(hq, member, other_member):
    template = CouponTemplateFactory()
    change = reverse("admin:campaigns_coupontemplate_change", args=[template.pk])
    hq.get(change)
    coupon_issue(template=template, member=member, source="campaign", issue_key="meanwhile")
    coupon_issue(template=template, member=other_member, source="campaign", issue_key="meanwhile")

    response = hq.post(change, template_form(name="满200减50（改）"))

    assert response.status_code == 302, errors(response)
    template.refresh_from_db()
    assert (template.name, template.issued_count) == ("满200减50（改）", 2)


def test_the_total_cannot_go_below_what_was_issued(hq, member, other_member):
    template = CouponTemplateFactory()
    for m in (member, other_member):
        coupon_issue(template=template, member=m, source="campaign", issue_key="x")

    response = hq.post(
        reverse("admin:campaigns_coupontemplate_change", args=[template.pk]), template_form(total_quantity="1")
    )

    assert "below_issued" in errors(response)["total_quantity"]


def test_the_template_pages_render_with_the_kind_script(hq, member):
    template = CouponTemplateFactory()
    CouponFactory(template=template, member=member)

    listing = hq.get(TEMPLATES)
    page = hq.get(reverse("admin:campaigns_coupontemplate_change", args=[template.pk]))

    assert listing.status_code == 200 and "¥50 off from ¥200" in listing.content.decode()
    body = page.content.decode()
    assert page.status_code == 200 and "byKind" in body and f"?template={template.pk}" in body


# Issuing to a member


def test_hq_issues_a_coupon_to_a_member_by_phone(marketer, chain, member):
    template = CouponTemplateFactory(name="补偿券")
    form = marketer.get(ISSUE, {"template": template.pk})
    request_id = form.context["form"].initial["request_id"]

    response = marketer.post(
        ISSUE, {"template": template.pk, "member": "138 0013 8000", "request_id": request_id}, follow=True
    )

    coupon = Coupon.objects.get()
    assert (coupon.member, coupon.template, coupon.source, coupon.issued_by) == (
        member,
        template,
        "manual",
        chain.marketer,
    )
    assert coupon.code in response.content.decode()
    again = marketer.post(ISSUE, {"template": template.pk, "member": member.code, "request_id": request_id})
    assert again.status_code == 302 and Coupon.objects.count() == 1


def test_an_unknown_member_is_told_on_the_form(hq):
    template = CouponTemplateFactory()

    response = hq.post(
        ISSUE,
        {"template": template.pk, "member": "13999999999", "request_id": "req-00000001"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert response.context["form"].errors["member"] == ["No member has this member code or phone number."]
    assert not Coupon.objects.exists()


def test_a_refusal_of_the_service_is_shown_on_the_form(hq, member):
    template = CouponTemplateFactory(total_quantity=1)
    coupon_issue(template=template, member=MemberFactory(), source="campaign", issue_key="x")

    response = hq.post(ISSUE, {"template": template.pk, "member": member.code, "request_id": "req-00000002"})

    assert response.status_code == 200
    assert [e.code for e in response.context["form"].errors.as_data()["template"]] == ["coupon_quantity_exhausted"]


def test_staff_who_may_not_manage_campaigns_cannot_open_the_issue_page(client, policy):
    from tests.factories import StaffFactory

    clerk = StaffFactory(username="clerk", role="hq_marketer")
    clerk.groups.clear()
    clerk.is_staff = True
    clerk.save()
    client.force_login(clerk)

    assert client.get(ISSUE).status_code == 403


# The coupons list


@pytest.fixture
def coupons(member, other_member):
    template = CouponTemplateFactory(name="满200减50")
    return [CouponFactory(template=template, member=m) for m in (member, other_member)]


def test_the_marketer_sees_masked_phones_and_the_hq_admin_full_ones(client, chain, coupons):
    client.force_login(chain.marketer)
    masked = client.get(COUPONS).content.decode()
    client.force_login(chain.hq_admin)
    full = client.get(COUPONS).content.decode()

    assert "138****8000" in masked and "13800138000" not in masked
    assert "13800138000" in full


@pytest.mark.parametrize("typed", ["code", "code lower", "phone", "member code"])
def test_the_list_finds_a_coupon_by_code_or_its_member(hq, coupons, member, typed):
    coupon = coupons[0]
    term = {
        "code": coupon.code,
        "code lower": coupon.code.lower().replace("-", ""),
        "phone": "138 0013 8000",
        "member code": member.code,
    }[typed]

    response = admin_search(hq, COUPONS, term)

    assert [c.pk for c in response.context["cl"].result_list] == [coupon.pk]


def test_the_list_filters_usable_and_expired_coupons(hq, coupons):
    Coupon.objects.filter(pk=coupons[1].pk).update(valid_from="2020-01-01T00:00Z", valid_until="2020-02-01T00:00Z")

    usable = hq.get(COUPONS, {"state": "usable"}).context["cl"].result_list
    expired = hq.get(COUPONS, {"state": "expired"}).context["cl"].result_list

    assert [c.pk for c in usable] == [coupons[0].pk]
    assert [c.pk for c in expired] == [coupons[1].pk]


def test_the_coupons_list_costs_the_same_queries_for_more_coupons(hq, coupons, policy, django_assert_max_num_queries):
    def count() -> int:
        ContentType.objects.clear_cache()
        with django_assert_max_num_queries(30) as captured:
            assert hq.get(COUPONS).status_code == 200
        return len(captured.captured_queries)

    few = count()
    template = CouponTemplateFactory(name="另一张")
    for _ in range(10):
        CouponFactory(template=template, member=MemberFactory())

    assert count() == few


# Voiding from the list


def test_voiding_asks_for_a_reason_then_voids_and_audits(marketer, chain, coupons):
    selected = {"action": "void_coupons", "_selected_action": [coupons[0].pk]}

    asked = marketer.post(COUPONS, selected)
    done = marketer.post(COUPONS, {**selected, "apply": "1", "reason": "重复发放"}, follow=True)

    assert asked.status_code == 200 and coupons[0].code in asked.content.decode()
    assert done.status_code == 200
    coupons[0].refresh_from_db()
    assert coupons[0].status == "void"
    assert AuditEntry.objects.get(action="coupon.voided").reason == "重复发放"


def test_voiding_without_a_reason_asks_again(marketer, coupons):
    response = marketer.post(
        COUPONS, {"action": "void_coupons", "_selected_action": [coupons[0].pk], "apply": "1", "reason": " "}
    )

    assert response.status_code == 200 and "reason" in response.context["form"].errors
    coupons[0].refresh_from_db()
    assert coupons[0].status == "issued"


def test_a_used_coupon_is_reported_and_the_others_voided(marketer, coupons, member, checkout):
    checkout(member, [line("饮品", 250)], coupons=[coupons[0].code], cash="200.00")

    response = marketer.post(
        COUPONS,
        {"action": "void_coupons", "_selected_action": [c.pk for c in coupons], "apply": "1", "reason": "活动取消"},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )

    shown = [str(m) for m in response.context["messages"]]
    assert any("used on a sale" in m for m in shown), shown
    assert list(Coupon.objects.order_by("pk").values_list("status", flat=True)) == ["used", "void"]
