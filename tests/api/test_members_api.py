from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from loyalty.models import PointsLot, Tier
from loyalty.services import wallet_top_up
from members.codes import member_qr_payload
from members.models import Member, MemberAccess
from tests.api.conftest import assert_error, rid
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def register(client, **fields):
    payload = {"phone": "139 1234 5678", "name": "李娜", "store": "SH001", **fields}
    return client.post("/api/v1/members/", payload, format="json")


# Registration


def test_a_cashier_registers_a_member_at_their_store_and_gets_the_summary(chain, as_user, policy):
    response = register(as_user(chain.cashier_a), gender="female", birthday="1990-05-17", marketing_consent=True)

    assert response.status_code == 201, response.content
    body = response.json()
    member = Member.objects.get(code=body["code"])
    assert (member.phone, member.name, member.gender) == ("+8613912345678", "李娜", "female")
    assert member.registration_store == chain.store_a and member.registered_by == chain.cashier_a
    assert member.marketing_consent and member.consent_source == "tablet"
    # They typed the number themselves, so they see it in full.
    assert (body["phone"], body["phone_masked"]) == ("+8613912345678", False)
    assert body["status"] == "active"
    assert body["points"] == {"available": 0, "pending": 0, "debt": 0, "expiring_soon": 0, "expiring_at": None}
    assert body["stored_value"] == {"principal": "0.00", "bonus": "0.00", "total": "0.00"}
    assert body["coupons"] == []


def test_a_referrer_may_be_given_by_member_code_or_phone(chain, as_user, member):
    client = as_user(chain.cashier_a)

    by_phone = register(client, referrer="138-0013-8000")
    by_code = register(client, phone="13700001111", name="张伟", referrer=member.code)

    assert by_phone.status_code == by_code.status_code == 201
    assert Member.objects.get(code=by_phone.json()["code"]).referrer == member
    assert Member.objects.get(code=by_code.json()["code"]).referrer == member


def test_an_integration_registers_through_its_channel(chain, as_user, policy):
    response = register(as_user(chain.hq_admin), channel="mini_program", marketing_consent=True)

    member = Member.objects.get(code=response.json()["code"])
    assert (member.registration_channel, member.consent_source) == ("mini_program", "mini_program")


@pytest.mark.parametrize("same_number", ["13800138000", "+86 138 0013 8000"])
def test_a_phone_already_registered_in_any_format_is_refused(chain, as_user, member, snapshot, same_number):
    before = snapshot()

    response = register(as_user(chain.cashier_a), phone=same_number)

    body = assert_error(response, 400, "phone_taken", "phone")
    assert member.code in body["message"]
    before.assert_unchanged()


@pytest.mark.parametrize("phone", ["12345", "010-12345678", "not a phone", "1" * 40])
def test_a_phone_that_is_not_a_mobile_number_is_refused(chain, as_user, policy, snapshot, phone):
    before = snapshot()

    response = register(as_user(chain.cashier_a), phone=phone)

    assert response.status_code == 400
    assert response.json()["code"] in {"phone_invalid", "phone_not_mobile"}
    assert response.json()["field"] == "phone"
    before.assert_unchanged()


def test_an_invalid_phone_is_answered_phone_invalid(chain, as_user, policy, snapshot):
    before = snapshot()

    assert_error(register(as_user(chain.cashier_a), phone="12345"), 400, "phone_invalid", "phone")
    before.assert_unchanged()


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"name": "小王😀"}, "name_invalid_character", "name"),
        ({"name": "Robert'); DROP TABLE members_member;--"}, "name_invalid_character", "name"),
        ({"name": ""}, "blank", "name"),
        ({"birthday": "2999-01-01"}, "birthday_in_future", "birthday"),
        ({"birthday": "17/05/1990"}, "invalid", "birthday"),
        ({"email": "not-an-email"}, "invalid", "email"),
        ({"gender": "robot"}, "invalid_choice", "gender"),
        ({"phone": None}, "null", "phone"),
    ],
)
def test_bad_registration_fields_are_answered_with_the_field_and_change_nothing(
    chain, as_user, policy, snapshot, fields, code, field
):
    before = snapshot()

    assert_error(register(as_user(chain.cashier_a), **fields), 400, code, field)
    before.assert_unchanged()


def test_a_cashier_cannot_register_members_at_another_store(chain, as_user, policy, snapshot):
    before = snapshot()

    assert_error(register(as_user(chain.cashier_b)), 403, "forbidden")
    before.assert_unchanged()


def test_a_marketer_cannot_register_members(chain, as_user, policy, snapshot):
    before = snapshot()

    assert_error(register(as_user(chain.marketer)), 403, "forbidden")
    before.assert_unchanged()


def test_registering_at_an_unknown_store_is_answered_404(chain, as_user, policy, snapshot):
    before = snapshot()

    assert_error(register(as_user(chain.cashier_a), store="XX999"), 404, "store_not_found", "store")
    before.assert_unchanged()


def test_an_unknown_referrer_is_answered_404(chain, as_user, policy, snapshot):
    before = snapshot()

    assert_error(register(as_user(chain.cashier_a), referrer="13999999999"), 404, "member_not_found", "referrer")
    before.assert_unchanged()


# Lookup


def lookup(client, q, **params):
    return client.post("/api/v1/members/lookup/", {"q": q, **params}, format="json")


def test_a_lookup_by_phone_in_the_address_is_refused_without_searching(chain, as_user, member):
    response = as_user(chain.cashier_a).get("/api/v1/members/lookup/", {"q": "13800138000"})

    assert_error(response, 405, "lookup_by_post", "q")
    assert "POST" in response.json()["message"]
    assert not MemberAccess.objects.exists()


@pytest.mark.parametrize("how", ["code", "qr"])
def test_a_lookup_by_member_code_or_qr_may_still_be_asked_with_get(chain, as_user, member, how):
    q = {"code": member.code, "qr": member.qr_payload()}[how]

    [found] = as_user(chain.cashier_a).get("/api/v1/members/lookup/", {"q": q}).json()

    assert found["code"] == member.code


def test_a_cashier_who_types_the_full_phone_sees_it_in_full(chain, as_user, member):
    response = lookup(as_user(chain.cashier_a), "138 0013 8000")

    assert response.status_code == 200
    [found] = response.json()
    assert (found["code"], found["phone"], found["phone_masked"]) == (member.code, "+8613800138000", False)


@pytest.mark.parametrize("how", ["code", "qr", "prefix"])
def test_a_cashier_who_did_not_type_the_phone_sees_it_masked(chain, as_user, member, how):
    q = {"code": member.code, "qr": member.qr_payload(), "prefix": "1380013"}[how]

    response = lookup(as_user(chain.cashier_a), q, store="SH001")

    [found] = response.json()
    assert (found["code"], found["phone"], found["phone_masked"]) == (member.code, "138****8000", True)


def test_the_hq_admin_sees_full_phones_whatever_they_typed(chain, as_user, member):
    [found] = lookup(as_user(chain.hq_admin), member.code).json()

    assert found["phone"] == "+8613800138000"


def test_a_lookup_answers_at_most_twenty_members(chain, as_user, policy):
    for _ in range(25):
        MemberFactory()

    response = lookup(as_user(chain.cashier_a), "138")

    assert len(response.json()) == 20


def test_an_expired_qr_code_asks_for_a_fresh_one(chain, as_user, member):
    old = member_qr_payload(member.code, at=timezone.now() - timedelta(minutes=30))

    assert_error(lookup(as_user(chain.cashier_a), old), 400, "qr_expired", "q")


def test_a_forged_qr_code_is_refused(chain, as_user, member):
    forged = member.qr_payload()[:-1] + ("0" if member.qr_payload()[-1] != "0" else "1")

    assert_error(lookup(as_user(chain.cashier_a), forged), 400, "qr_invalid", "q")


def test_nothing_found_is_an_empty_list(chain, as_user, policy):
    assert lookup(as_user(chain.cashier_a), "13999999999").json() == []


def test_a_lookup_needs_something_to_look_for(chain, as_user):
    assert_error(as_user(chain.cashier_a).post("/api/v1/members/lookup/", {}, format="json"), 400, "required", "q")


def test_a_cashier_cannot_look_up_at_another_store(chain, as_user, member):
    assert_error(lookup(as_user(chain.cashier_b), member.code, store="SH001"), 403, "forbidden")


def test_a_marketer_does_not_use_the_till_lookup(chain, as_user, member):
    assert_error(lookup(as_user(chain.marketer), member.code), 403, "forbidden")


def test_a_lookup_at_an_unknown_store_is_answered_404(chain, as_user, member):
    assert_error(lookup(as_user(chain.cashier_a), member.code, store="XX999"), 404, "store_not_found", "store")


# Summary


@pytest.fixture
def regular(chain, member, sell, tiers):
    """王芳: 1,200 spent (金卡 at 1,000, no tier above), 500 + 50 of stored value, 300 points expiring soon."""
    sell(member.code, "300.00")
    PointsLot.objects.filter(member_id=member.pk).update(expires_at=timezone.now() + timedelta(days=10))
    sell(member.code, "900.00")
    wallet_top_up(
        request_id=rid(), member=member, store=chain.store_a, staff=chain.cashier_a, tender="cash", amount=Decimal(500)
    )
    return member


def summary(client, reference):
    return client.get(f"/api/v1/members/{reference}/")


def test_the_summary_shows_tier_progress_points_expiring_and_stored_value(chain, as_user, regular, tiers):
    response = summary(as_user(chain.cashier_a), regular.code)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["code"] == regular.code and body["name"] == "王芳"
    assert body["tier"] == {"code": "GOLD", "name": "金卡", "discount_percent": "0.00"}
    assert body["tier_progress"] == {"next_tier": None, "value": "1200.00", "missing": "0.00"}
    assert body["points"]["available"] == 1200
    assert body["points"]["expiring_soon"] == 300
    assert body["points"]["expiring_at"] is not None
    assert body["stored_value"] == {"principal": "500.00", "bonus": "0.00", "total": "500.00"}
    assert body["coupons"] == []


def test_the_summary_says_whether_the_members_tier_ships_free_for_online_channels(chain, as_user, regular, tiers):
    _normal, gold = tiers
    Tier.objects.filter(pk=gold.pk).update(free_shipping=True)
    newcomer = MemberFactory(phone="13900139000", name="李娜")  # in the entry tier, which does not
    client = as_user(chain.cashier_a)

    assert summary(client, regular.code).json()["free_shipping"] is True
    assert summary(client, newcomer.code).json()["free_shipping"] is False
    Tier.objects.update(free_shipping=False)
    assert summary(client, regular.code).json()["free_shipping"] is False


def test_the_summary_says_how_much_is_missing_to_the_next_tier(chain, as_user, member, sell, tiers):
    sell(member.code, "250.00")

    body = summary(as_user(chain.cashier_a), member.code).json()

    assert body["tier"] == {"code": "NORMAL", "name": "普卡", "discount_percent": "0.00"}
    assert body["tier_progress"] == {
        "next_tier": {"code": "GOLD", "name": "金卡"},
        "value": "250.00",
        "missing": "750.00",
    }


def test_a_member_who_has_not_bought_yet_is_in_the_entry_tier(chain, as_user, member, tiers):
    body = summary(as_user(chain.cashier_a), member.code).json()

    assert body["tier"] == {"code": "NORMAL", "name": "普卡", "discount_percent": "0.00"}
    assert body["tier_progress"] == {
        "next_tier": {"code": "GOLD", "name": "金卡"},
        "value": "0.00",
        "missing": "1000.00",
    }


@pytest.mark.parametrize("phone", ["13800138000", "+8613800138000", "138 0013 8000"])
def test_a_summary_asked_by_phone_is_refused_and_says_to_look_the_phone_up_by_post(chain, as_user, member, phone):
    response = summary(as_user(chain.cashier_a), phone)

    assert_error(response, 400, "phone_in_path", None)
    assert "POST /api/v1/members/lookup/" in response.json()["message"]
    assert not MemberAccess.objects.exists()


@pytest.mark.parametrize(("persona", "phone"), [("hq_admin", "+8613800138000"), ("marketer", "138****8000")])
def test_hq_reads_the_summary_with_the_phone_their_role_allows(chain, as_user, member, persona, phone):
    body = summary(as_user(getattr(chain, persona)), member.code).json()

    assert body["phone"] == phone


def test_an_unknown_member_is_answered_404(chain, as_user, policy):
    assert_error(summary(as_user(chain.cashier_a), "9000000000"), 404, "member_not_found", None)


def test_a_garbage_member_reference_is_answered_404(chain, as_user, policy):
    assert_error(summary(as_user(chain.cashier_a), "%00%27%3B--"), 404, "member_not_found")


def test_staff_without_a_role_cannot_read_summaries(as_user, member):
    nobody = User.objects.create_user("nobody", password="x" * 12)

    assert_error(summary(as_user(nobody), member.code), 403, "forbidden")


# The summary's queries: the user's roles and stores (2), the member (1), points (2), stored value (1),
# tier and progress (4: stats with tier, tiers, tier policy, qualifying spend), usable coupons with their
# templates (1), the member access log (1 INSERT). The same for one member or for the twenty of a lookup,
# whatever their history.
SUMMARY_QUERIES = 13  # with the service cards in play (one query without any)


def test_a_summary_costs_a_fixed_number_of_queries(chain, api, regular, django_assert_num_queries):
    api.force_authenticate(User.objects.get(pk=chain.cashier_a.pk))

    with django_assert_num_queries(SUMMARY_QUERIES):
        response = summary(api, regular.code)

    assert response.status_code == 200


def test_a_lookup_of_twenty_members_costs_what_one_summary_costs(chain, api, regular, sell, django_assert_num_queries):
    for _ in range(25):
        other = MemberFactory()
        sell(other.code, "20.00")
    api.force_authenticate(User.objects.get(pk=chain.cashier_a.pk))

    with django_assert_num_queries(SUMMARY_QUERIES):
        response = lookup(api, "138")

    assert len(response.json()) == 20
