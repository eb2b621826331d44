"""HQ's service-card pages: configuration changes are audited; members' cards are read, never written."""

from decimal import Decimal

import pytest
from django.urls import reverse

from servicecards.models import CardProduct, MemberCard
from stores.models import AuditEntry
from tests.factories import MemberFactory
from tests.factories.servicecards import CardProductFactory, ServiceFactory, member_card

pytestmark = pytest.mark.django_db


def test_a_card_product_made_in_the_back_office_is_audited_with_its_reason(client, chain):
    client.force_login(chain.hq_admin)
    wash = ServiceFactory(code="WASH")

    response = client.post(
        reverse("admin:servicecards_cardproduct_add"),
        {
            "code": "WASH10",
            "name": "10次洗护卡",
            "kind": "count",
            "services": [wash.pk],
            "uses": "10",
            "bonus_uses": "2",
            "price": "680",
            "validity_months": "12",
            "valid_from": "purchase",
            "is_active": "on",
            "change_reason": "新品上架",
        },
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    product = CardProduct.objects.get(code="WASH10")
    entry = AuditEntry.objects.get(action="loyalty.rule_changed")
    assert (entry.reason, entry.data["created"]) == ("新品上架", True)
    assert product.total_uses == Decimal("12")


def test_hq_finds_a_card_by_its_number_and_cannot_add_or_change_one(client, chain):
    member = MemberFactory(name="王芳")
    card = member_card(member, CardProductFactory(), chain.store_a)
    other = member_card(MemberFactory(name="李娜"), CardProductFactory(code="OTHER"), chain.store_a)
    client.force_login(chain.hq_admin)
    url = reverse("admin:servicecards_membercard_changelist")

    found = client.post(url, {"q": card.code}, follow=True)

    shown = list(found.context["cl"].result_list)
    assert shown == [card] and other not in shown
    assert reverse("admin:members_member_360", args=[member.pk]) in found.content.decode()
    assert client.get(reverse("admin:servicecards_membercard_add")).status_code == 403
    change = reverse("admin:servicecards_membercard_change", args=[card.pk])
    client.post(change, {"status": "refunded"})
    assert MemberCard.objects.get(pk=card.pk).status == MemberCard.Status.ACTIVE


def test_the_marketer_reads_cards_but_store_staff_do_not_reach_the_back_office(client, chain):
    member_card(MemberFactory(), CardProductFactory(), chain.store_a)
    url = reverse("admin:servicecards_cardentry_changelist")

    client.force_login(chain.marketer)
    assert client.get(url).status_code == 200
    client.force_login(chain.manager_a)
    assert client.get(url).status_code == 302
