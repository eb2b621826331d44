"""The points mall in the back office: items (stock changed by what is added) and orders (hand over, cancel)."""

import pytest
from django.urls import reverse

from campaigns.models import MallItem, MallOrder
from campaigns.services.mall import mall_order_place
from loyalty.models import PointsAccount
from stores.models import AuditEntry
from tests.admin_helpers import admin_search
from tests.campaigns.conftest import rid
from tests.factories.campaigns import AmountOffTemplateFactory, MallItemFactory

pytestmark = pytest.mark.django_db

ADD = reverse("admin:campaigns_mallitem_add")
ORDERS = reverse("admin:campaigns_mallorder_changelist")


def item_form(**fields) -> dict:
    data = {
        "name": "保温杯",
        "kind": "gift",
        "description": "",
        "points_price": "1000",
        "coupon_template": "",
        "stock": "10",
        "per_member_limit": "",
        "cost": "25.00",
        "is_active": "on",
        "change_reason": "",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def errors(response) -> dict:
    return {f: [e.code for e in errs.as_data()] for f, errs in response.context["adminform"].form.errors.items()}


@pytest.fixture
def hq(client, chain):
    client.force_login(chain.hq_admin)
    return client


@pytest.fixture
def rich(member, give_points):
    give_points(member, 5000)
    return member


def test_hq_adds_a_gift_with_its_stock(hq, tiers):
    response = hq.post(ADD, item_form(tiers=[tiers["gold"].pk], per_member_limit="2"))

    assert response.status_code == 302, errors(response)
    item = MallItem.objects.get()
    assert (item.kind, item.stock, item.per_member_limit, list(item.tiers.all())) == ("gift", 10, 2, [tiers["gold"]])
    assert AuditEntry.objects.filter(action="loyalty.rule_changed").count() == 1


def test_a_coupon_item_needs_its_coupon_and_a_gift_has_none(hq):
    template = AmountOffTemplateFactory()

    without = hq.post(ADD, item_form(kind="coupon", stock=""))
    with_one = hq.post(ADD, item_form(kind="gift", coupon_template=template.pk))

    assert "required" in errors(without)["coupon_template"]
    assert "invalid" in errors(with_one)["coupon_template"]
    assert not MallItem.objects.exists()


def test_stock_added_in_the_form_keeps_the_orders_placed_meanwhile(hq, chain, rich):
    item = MallItemFactory(stock=10)
    change = reverse("admin:campaigns_mallitem_change", args=[item.pk])
    hq.get(change)
    mall_order_place(request_id=rid(), member=rich, item=item, store=chain.store_a, actor=chain.cashier_a)

    response = hq.post(change, item_form(name=item.name, stock="10", stock_change="5", change_reason="到货"))

    assert response.status_code == 302, errors(response)
    item.refresh_from_db()
    assert item.stock == 14
    assert AuditEntry.objects.get(action="mall.restocked").data == {"change": 5, "stock": 14}


def test_more_stock_than_there_is_cannot_be_taken_away(hq):
    item = MallItemFactory(stock=3)

    response = hq.post(
        reverse("admin:campaigns_mallitem_change", args=[item.pk]), item_form(name=item.name, stock_change="-4")
    )

    assert "invalid_stock" in errors(response)["stock_change"]
    item.refresh_from_db()
    assert item.stock == 3


def test_the_item_pages_render(hq):
    item = MallItemFactory()

    assert hq.get(reverse("admin:campaigns_mallitem_changelist")).status_code == 200
    assert hq.get(reverse("admin:campaigns_mallitem_change", args=[item.pk])).status_code == 200
    assert hq.get(ADD).status_code == 200


@pytest.fixture
def orders(chain, rich):
    item = MallItemFactory(points_price=1000)
    return [
        mall_order_place(request_id=rid(), member=rich, item=item, store=chain.store_a, actor=chain.cashier_a)
        for _ in range(2)
    ]


def test_the_hq_admin_hands_gifts_over_from_the_list(hq, chain, orders):
    response = hq.post(ORDERS, {"action": "hand_over", "_selected_action": [orders[0].pk]}, follow=True)

    assert response.status_code == 200
    statuses = dict(MallOrder.objects.values_list("pk", "status"))
    assert statuses == {orders[0].pk: "handed_over", orders[1].pk: "placed"}
    assert MallOrder.objects.get(pk=orders[0].pk).handed_over_by == chain.hq_admin


def test_the_marketer_cannot_hand_over_but_can_cancel_with_a_reason(client, chain, orders, rich):
    client.force_login(chain.marketer)
    page = client.get(ORDERS)
    actions = [value for value, _label in page.context["action_form"].fields["action"].choices]

    done = client.post(
        ORDERS,
        {"action": "cancel_orders", "_selected_action": [orders[1].pk], "apply": "1", "reason": "会员不要了"},
        follow=True,
    )

    assert "hand_over" not in actions and "cancel_orders" in actions
    assert done.status_code == 200
    assert MallOrder.objects.get(pk=orders[1].pk).status == "cancelled"
    assert PointsAccount.objects.get(pk=rich.pk).available == 4000


def test_the_orders_list_searches_by_member_and_renders(hq, orders, member):
    response = admin_search(hq, ORDERS, member.code)

    assert response.status_code == 200
    assert {o.pk for o in response.context["cl"].result_list} == {o.pk for o in orders}
    assert hq.get(reverse("admin:campaigns_mallorder_change", args=[orders[0].pk])).status_code == 200
