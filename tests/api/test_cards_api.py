"""The service-card endpoints: products, selling, a member's cards and history, a card, uses, reversals, refunds."""

from decimal import Decimal

import pytest

from servicecards.models import CardEntry, MemberCard
from tests.api.conftest import assert_error, rid
from tests.factories.servicecards import CardProductFactory, ServiceFactory, ServiceStaffFactory

pytestmark = pytest.mark.django_db

MANAGER = {"username": "manager_a", "password": "correct-horse-battery"}


@pytest.fixture
def wash(db):
    return ServiceFactory(code="WASH", name="洗护")


@pytest.fixture
def wash_card(wash):
    return CardProductFactory(
        code="WASH10", name="10次洗护卡", uses=Decimal(10), bonus_uses=Decimal(2), services=[wash]
    )


def sell(client, member, product="WASH10", store="SH001", **fields):
    payload = {
        "request_id": rid(),
        "store": store,
        "member": member.code,
        "product": product,
        "tenders": [{"kind": "cash", "amount": "680.00"}],
        **fields,
    }
    return client.post("/api/v1/cards/sales/", payload, format="json")


@pytest.fixture
def card_no(chain, as_user, member, wash_card):
    response = sell(as_user(chain.cashier_a), member)
    assert response.status_code == 201, response.content
    return response.json()["card"]["code"]


def use(client, card_no, store="SH001", **fields):
    payload = {"request_id": rid(), "store": store, "service": "WASH", **fields}
    return client.post(f"/api/v1/cards/{card_no}/uses/", payload, format="json")


def test_the_card_products_on_sale_with_their_services(chain, as_user, wash_card):
    body = as_user(chain.cashier_a).get("/api/v1/card-products/").json()

    assert [(p["code"], p["price"], p["uses"], p["bonus_uses"]) for p in body] == [
        ("WASH10", "680.00", "10.00", "2.00")
    ]
    assert body[0]["services"] == [{"code": "WASH", "name": "洗护"}]


def test_selling_a_card_answers_the_card_and_the_sale_and_a_replay_answers_200(chain, as_user, member, wash_card):
    client = as_user(chain.cashier_a)
    payload = {
        "request_id": rid(),
        "store": "SH001",
        "member": member.code,
        "product": "WASH10",
        "tenders": [{"kind": "cash", "amount": "680.00"}],
    }

    first = client.post("/api/v1/cards/sales/", payload, format="json")
    again = client.post("/api/v1/cards/sales/", payload, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    body = first.json()
    assert body["card"]["uses_remaining"] == "12.00" and body["sale"]["total_due"] == "680.00"
    assert again.json()["card"]["code"] == body["card"]["code"]
    assert MemberCard.objects.count() == 1


def test_an_unknown_product_is_404_json(chain, as_user, member, wash_card):
    assert_error(sell(as_user(chain.cashier_a), member, product="NOPE"), 404, "product_not_found")


def test_a_members_cards_and_the_summary_list_them(chain, as_user, member, card_no, django_assert_num_queries):
    client = as_user(chain.cashier_a)

    cards = client.get(f"/api/v1/members/{member.code}/cards/").json()
    summary = client.get(f"/api/v1/members/{member.code}/").json()

    assert [c["code"] for c in cards] == [card_no] and cards[0]["status"] == "active"
    assert summary["cards"][0]["code"] == card_no and summary["cards"][0]["uses_remaining"] == "12.00"
    assert summary["cards"][0]["services"] == [{"code": "WASH", "name": "洗护"}]


def test_a_use_and_its_replay_and_the_card_with_its_entries(chain, as_user, card_no, wash):
    therapist = ServiceStaffFactory(services=[wash])
    therapist.user.staff_profile.stores.add(chain.store_a)
    client = as_user(chain.cashier_a)
    payload = {
        "request_id": rid(),
        "store": "SH001",
        "service": "WASH",
        "uses": "1",
        "performed_by": therapist.user.pk,
        "note": "头皮偏干",
    }

    first = client.post(f"/api/v1/cards/{card_no}/uses/", payload, format="json")
    again = client.post(f"/api/v1/cards/{card_no}/uses/", payload, format="json")

    assert (first.status_code, again.status_code) == (201, 200), first.content
    assert first.json()["uses_remaining"] == "11.00"
    detail = client.get(f"/api/v1/cards/{card_no}/").json()
    assert [e["kind"] for e in detail["entries"]] == ["use", "bonus", "purchase"]
    assert detail["entries"][0]["note"] == "头皮偏干"


def test_the_service_history_newest_first_a_page_at_a_time(chain, as_user, member, card_no):
    client = as_user(chain.cashier_a)
    for note in ("一", "二", "三"):
        assert use(client, card_no, note=note).status_code == 201

    page = client.get(f"/api/v1/members/{member.code}/service-history/?limit=2").json()

    assert page["count"] == 3 and page["next_offset"] == 2
    assert [r["note"] for r in page["results"]] == ["三", "二"]


def test_a_cashier_of_store_b_cannot_use_a_card_limited_to_store_a(chain, as_user, member, wash):
    product = CardProductFactory(code="SHONLY", services=[wash])
    product.stores.set([chain.store_a])
    card_no = sell(as_user(chain.cashier_a), member, product="SHONLY").json()["card"]["code"]

    refused = use(as_user(chain.cashier_b), card_no, store="BJ001")
    elsewhere = use(as_user(chain.cashier_b), card_no, store="SH001")

    assert_error(refused, 400, "card_unusable")
    assert elsewhere.status_code == 403 and elsewhere.json()["code"]
    assert not CardEntry.objects.filter(kind="use").exists()


def test_a_cashier_cannot_reverse_a_use_a_manager_of_its_store_can(chain, as_user, card_no):
    entry_id = use(as_user(chain.cashier_a), card_no).json()["id"]
    payload = {"request_id": rid(), "reason": "记错了"}

    by_cashier = as_user(chain.cashier_a).post(f"/api/v1/cards/uses/{entry_id}/reversal/", payload, format="json")
    by_manager = as_user(chain.manager_a).post(f"/api/v1/cards/uses/{entry_id}/reversal/", payload, format="json")

    assert by_cashier.status_code == 403 and by_cashier.json()["code"]
    assert by_manager.status_code == 201 and by_manager.json()["uses_remaining"] == "12.00"


def test_a_cashier_refunds_a_card_only_with_a_managers_approval(chain, as_user, card_no):
    client = as_user(chain.cashier_a)
    payload = {"request_id": rid(), "store": "SH001", "reason": "搬家"}

    refused = client.post(f"/api/v1/cards/{card_no}/refunds/", payload, format="json")
    approved = client.post(f"/api/v1/cards/{card_no}/refunds/", {**payload, "approver": MANAGER}, format="json")

    assert refused.status_code in (400, 403) and refused.json()["code"]
    assert approved.status_code == 201, approved.content
    assert approved.json()["amount"] == "612.00" and approved.json()["card"] == card_no
    assert MemberCard.objects.get(code=card_no).status == "refunded"


def test_an_unknown_card_and_a_phone_in_the_path_are_4xx_json(chain, as_user):
    client = as_user(chain.cashier_a)

    assert_error(client.get("/api/v1/cards/K00000000000/"), 404, "card_not_found")
    assert_error(client.get("/api/v1/members/13800138000/cards/"), 400, "phone_in_path")
    assert_error(client.get("/api/v1/members/9000000001/service-history/?limit=abc"), 400, "invalid")
