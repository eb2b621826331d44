"""Coupons through the REST API: every refusal of POST /sales/ as a 400 with its code, issuing with
POST /coupons/, and the usable coupons of the member summary."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from campaigns.models import Coupon
from campaigns.services.coupons import coupon_void
from loyalty.models import MemberStats
from loyalty.services import TenderInput, sale_checkout
from stores.models import AuditEntry
from tests.api.conftest import assert_error, ledger_counts, rid, sale_payload
from tests.campaigns.conftest import line
from tests.factories import MemberFactory
from tests.factories.campaigns import (
    AmountOffTemplateFactory,
    CouponFactory,
    CouponTemplateFactory,
    GiftTemplateFactory,
    PercentOffTemplateFactory,
)
from tests.loyalty.clock import Clock, local

pytestmark = pytest.mark.django_db

User = get_user_model()


def post_sale(client, member, amount="250.00", **overrides):
    return client.post("/api/v1/sales/", sale_payload(member=member, amount=amount, **overrides), format="json")


def test_a_sale_with_a_coupon_answers_the_discount_and_the_lines_net_amounts(chain, as_user, member, base_rule):
    coupon = CouponFactory(member=member)

    response = post_sale(
        as_user(chain.cashier_a), member.code, coupon_code=coupon.code, tenders=[{"kind": "cash", "amount": "200.00"}]
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["coupon_code"], body["coupon_discount"], body["total_due"]) == (coupon.code, "50.00", "200.00")
    assert body["lines"][0]["net_amount"] == "200.00"
    assert body["points_earned"] == 200


def _scenario(name, chain, member, other, tiers):
    """A coupon that does not apply to a ¥250 cash sale of 饮品 at store A, and why."""
    if name == "coupon_not_found":
        return {"coupon_code": "7K3M-Q9XD-2HVA"}
    if name == "coupon_not_yours":
        return {"coupon_code": CouponFactory(member=other).code}
    if name == "coupon_no_member":
        return {"member": None, "coupon_code": CouponFactory(member=member).code}
    if name == "coupon_used":
        coupon = CouponFactory(member=member)
        sale_checkout(
            request_id=rid(),
            store=chain.store_a,
            cashier=chain.cashier_a,
            member=member,
            lines=[line("饮品", 250)],
            tenders=[TenderInput("cash", Decimal("200.00"))],
            coupon_code=coupon.code,
        )
        return {"coupon_code": coupon.code}
    if name == "coupon_void":
        coupon = CouponFactory(member=member)
        coupon_void(coupon=coupon, actor=chain.hq_admin, reason="发错")
        return {"coupon_code": coupon.code}
    if name == "coupon_expired":
        template = CouponTemplateFactory(valid_days=None, valid_until=local(2030, 1, 1))
        coupon = CouponFactory(member=member, template=template)
        Coupon.objects.filter(pk=coupon.pk).update(valid_from=local(2020, 1, 1), valid_until=local(2020, 2, 1))
        return {"coupon_code": coupon.code}
    if name == "coupon_not_yet_valid":
        template = CouponTemplateFactory(valid_days=None, valid_from=local(2099, 1, 1), valid_until=local(2099, 2, 1))
        return {"coupon_code": CouponFactory(member=member, template=template).code}
    if name == "coupon_wrong_store":
        return {
            "coupon_code": CouponFactory(member=member, template=CouponTemplateFactory(stores=[chain.store_b])).code
        }
    if name == "coupon_wrong_tier":
        MemberStats.objects.update_or_create(member=member, defaults={"tier": tiers["normal"]})
        return {"coupon_code": CouponFactory(member=member, template=CouponTemplateFactory(tiers=[tiers["gold"]])).code}
    if name == "coupon_wrong_channel":
        return {"coupon_code": CouponFactory(member=member, template=CouponTemplateFactory(channels=["online"])).code}
    if name == "coupon_below_threshold":
        return {
            "coupon_code": CouponFactory(member=member, template=CouponTemplateFactory(threshold=Decimal("300"))).code
        }
    if name == "coupon_no_eligible_lines":
        return {"coupon_code": CouponFactory(member=member, template=GiftTemplateFactory()).code}
    if name == "coupon_not_stackable":
        stacks = CouponFactory(member=member, template=AmountOffTemplateFactory(stackable=True))
        alone = CouponFactory(member=member, template=PercentOffTemplateFactory())
        return {"coupon_codes": [stacks.code, alone.code]}
    raise AssertionError(name)


REFUSALS = [
    "coupon_not_found",
    "coupon_not_yours",
    "coupon_no_member",
    "coupon_used",
    "coupon_void",
    "coupon_expired",
    "coupon_not_yet_valid",
    "coupon_wrong_store",
    "coupon_wrong_tier",
    "coupon_wrong_channel",
    "coupon_below_threshold",
    "coupon_no_eligible_lines",
    "coupon_not_stackable",
]


@pytest.mark.parametrize("code", REFUSALS)
def test_a_coupon_that_does_not_apply_is_refused_with_its_code_and_nothing_is_written(
    chain, as_user, member, policy, base_rule, tiers, code
):
    other = MemberFactory(phone="13900139000")
    overrides = _scenario(code, chain, member, other, tiers)
    coupons_before = list(Coupon.objects.order_by("pk").values_list("pk", "status", "sale_id"))
    before = ledger_counts()
    overrides.setdefault("member", member.code)

    response = as_user(chain.cashier_a).post(
        "/api/v1/sales/",
        sale_payload(amount="250.00", tenders=[{"kind": "cash", "amount": "200.00"}], **overrides),
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    body = assert_error(response, 400, code, "coupon_code")
    assert "coupon" in body["message"].lower()
    assert ledger_counts() == before
    assert list(Coupon.objects.order_by("pk").values_list("pk", "status", "sale_id")) == coupons_before


def test_the_refusal_speaks_the_callers_language(chain, as_user, member, policy):
    response = post_sale(
        as_user(chain.cashier_a), member.code, coupon_code="7K3M-Q9XD-2HVA", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    assert response.json()["code"] == "coupon_not_found"


# POST /api/v1/coupons/


def issue(client, **payload):
    return client.post("/api/v1/coupons/", payload, format="json")


def test_hq_issues_a_coupon_to_a_member_by_phone(chain, as_user, member, monkeypatch):
    Clock(monkeypatch, local(2026, 6, 1, 9, 0))
    template = CouponTemplateFactory(name="满200减50", valid_days=7)
    request_id = rid()

    response = issue(as_user(chain.marketer), request_id=request_id, template=template.pk, member="138 0013 8000")

    assert response.status_code == 201, response.content
    body = response.json()
    coupon = Coupon.objects.get()
    assert body["code"] == coupon.code and body["member"] == member.code
    assert (body["name"], body["kind"], body["amount"], body["threshold"], body["percent_off"]) == (
        "满200减50",
        "threshold_off",
        "50.00",
        "200.00",
        None,
    )
    assert (body["status"], body["source"]) == ("issued", "manual")
    assert body["valid_until"] == "2026-06-09T00:00:00+08:00"
    assert AuditEntry.objects.filter(action="coupon.issued", actor=chain.marketer).count() == 1


def test_the_same_request_again_answers_the_first_coupon_with_200(chain, as_user, member):
    template, request_id = CouponTemplateFactory(), rid()
    client = as_user(chain.hq_admin)
    first = issue(client, request_id=request_id, template=template.pk, member=member.code)

    again = issue(client, request_id=request_id, template=template.pk, member=member.code)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Coupon.objects.count() == 1


def test_a_request_id_reused_for_another_member_is_a_conflict(chain, as_user, member):
    template, request_id = CouponTemplateFactory(), rid()
    client = as_user(chain.hq_admin)
    issue(client, request_id=request_id, template=template.pk, member=member.code)
    other = MemberFactory()

    response = issue(client, request_id=request_id, template=template.pk, member=other.code)

    assert_error(response, 409, "request_id_reused", "request_id")
    assert Coupon.objects.count() == 1


def test_a_cashier_may_not_issue_coupons(chain, as_user, member):
    response = issue(
        as_user(chain.cashier_a), request_id=rid(), template=CouponTemplateFactory().pk, member=member.code
    )

    assert_error(response, 403, "forbidden")
    assert not Coupon.objects.exists()


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"template": 999999}, 404, "template_not_found", "template"),
        ({"member": "13999999999"}, 404, "member_not_found", "member"),
        ({"template": "x"}, 400, "invalid", "template"),
        ({"request_id": "short"}, 400, "invalid_request_id", "request_id"),
    ],
)
def test_bad_issue_requests_are_refused(chain, as_user, member, payload, status, code, field):
    base = {"request_id": rid(), "template": CouponTemplateFactory().pk, "member": member.code}

    response = issue(as_user(chain.hq_admin), **{**base, **payload})

    assert_error(response, status, code, field)
    assert not Coupon.objects.exists()


def test_an_exhausted_template_is_a_400_with_its_code(chain, as_user, member):
    template = CouponTemplateFactory(total_quantity=1)
    client = as_user(chain.hq_admin)
    issue(client, request_id=rid(), template=template.pk, member=member.code)

    response = issue(client, request_id=rid(), template=template.pk, member=MemberFactory().code)

    assert_error(response, 400, "coupon_quantity_exhausted", "template")


# The member summary's coupons


def summary(client, reference):
    return client.get(f"/api/v1/members/{reference}/")


def test_the_summary_lists_the_coupons_usable_now_soonest_expiring_first(chain, as_user, member, tiers):
    later = CouponFactory(member=member, template=CouponTemplateFactory(valid_days=30, name="满200减50"))
    sooner = CouponFactory(
        member=member, template=PercentOffTemplateFactory(valid_days=3, name="9折券", max_discount=Decimal("30"))
    )
    used = CouponFactory(member=member)
    Coupon.objects.filter(pk=used.pk).update(status="void")
    CouponFactory(member=MemberFactory())

    body = summary(as_user(chain.cashier_a), member.code).json()

    assert [c["code"] for c in body["coupons"]] == [sooner.code, later.code]
    first = body["coupons"][0]
    assert {k: first[k] for k in ("name", "kind", "amount", "percent_off", "max_discount", "threshold")} == {
        "name": "9折券",
        "kind": "percent_off",
        "amount": None,
        "percent_off": "10.00",
        "max_discount": "30.00",
        "threshold": None,
    }
    assert first["valid_until"] and first["stackable"] is False


def test_a_lookup_shows_each_members_own_coupons(chain, as_user, policy):
    members = [MemberFactory(phone=f"1380000{i:04d}") for i in range(3)]
    coupons = {m.pk: CouponFactory(member=m).code for m in members}

    body = as_user(chain.cashier_a).post("/api/v1/members/lookup/", {"q": "1380000"}, format="json").json()

    assert {row["code"]: [c["code"] for c in row["coupons"]] for row in body} == {
        m.code: [coupons[m.pk]] for m in members
    }


def test_the_summary_shows_at_most_twenty_coupons(chain, as_user, member):
    template = AmountOffTemplateFactory()
    for i in range(25):
        CouponFactory(member=member, template=template, issue_key=f"many:{i}")

    assert len(summary(as_user(chain.cashier_a), member.code).json()["coupons"]) == 20


def test_the_summarys_coupons_cost_one_query_whatever_their_number(chain, api, member, django_assert_max_num_queries):
    def queries() -> list[str]:
        api.force_authenticate(User.objects.get(pk=chain.cashier_a.pk))
        with django_assert_max_num_queries(20) as captured:
            assert summary(api, member.code).status_code == 200
        return [q["sql"] for q in captured.captured_queries]

    without = queries()
    for i in range(5):
        CouponFactory(member=member, issue_key=f"q:{i}")
    with_five = queries()

    assert len(with_five) == len(without)
    assert sum("campaigns_coupon" in sql for sql in with_five) == 1


def test_a_member_registered_through_the_api_sees_the_registration_gift_in_the_answer(chain, as_user, policy):
    CouponTemplateFactory(on_registration=True, name="新人礼 满200减50")

    response = as_user(chain.cashier_a).post(
        "/api/v1/members/", {"phone": "13912345678", "name": "李娜", "store": "SH001"}, format="json"
    )

    assert response.status_code == 201, response.content
    [gift] = response.json()["coupons"]
    assert gift["name"] == "新人礼 满200减50" and gift["code"] == Coupon.objects.get().code
