"""A member's erasure, data file and retention know about their service cards."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from loyalty.models import Sale
from loyalty.reconcile import ledger_mismatches
from members.data_access import member_data
from members.erasure import erase_member
from servicecards.models import CardEntry
from servicecards.services.cards import card_refund
from tests.servicecards.conftest import rid


@pytest.fixture
def used_card(sell_card, member, wash_card, wash, use_card):
    card = sell_card(member, wash_card).card
    use_card(card, wash, note="皮肤敏感，避免酸类产品")
    Sale.objects.filter(pk=card.sale_id).update(created_at=timezone.now() - timedelta(days=120))
    return card


def test_erasure_waits_while_the_member_holds_a_card_with_uses_left(used_card, member, chain):
    with pytest.raises(ValidationError) as refused:
        erase_member(member=member, by=chain.hq_admin, reason="会员申请注销")

    assert "service card" in " ".join(refused.value.messages)
    member.refresh_from_db()
    assert not member.is_erased


def test_erasure_after_the_card_is_refunded_wipes_the_service_notes(used_card, member, chain):
    card_refund(request_id=rid(), card=used_card, actor=chain.manager_a, store=chain.store_a, reason="注销前退卡")

    erase_member(member=member, by=chain.hq_admin, reason="会员申请注销")

    assert CardEntry.objects.get(card=used_card, kind="use").note == ""
    assert ledger_mismatches() == []


def test_the_members_data_file_holds_their_cards_and_service_records(used_card, member):
    data = member_data(member)

    assert [card["code"] for card in data["service_cards"]] == [used_card.code]
    assert "皮肤敏感，避免酸类产品" in [entry["note"] for entry in data["service_card_ledger"]]
