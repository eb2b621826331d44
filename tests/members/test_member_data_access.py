"""A member's right to see their data: the HQ admin downloads one JSON file of everything the product holds
about the member — profile, consent, both ledgers, sales, coupons, messages, who looked at them — audited;
no one else may."""

import json
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from loyalty.models import PointsEntry, WalletEntry
from members.data_access import member_data_file
from stores.models import AuditEntry
from tests.members.rights import PHONE, erase

pytestmark = pytest.mark.django_db


def data_of(member, by) -> dict:
    _name, content = member_data_file(member=member, by=by)
    return json.loads(content)


def test_the_file_holds_the_profile_and_consent(chain, fang_with_history):
    data = data_of(fang_with_history, chain.hq_admin)

    assert data["member"] == fang_with_history.code
    assert data["profile"]["phone"] == PHONE and data["profile"]["name"] == "王芳"
    assert data["profile"]["address"] == "上海市徐汇区漕溪北路1号"
    assert data["profile"]["tags"] == ["王总的朋友"]
    assert data["consent"]["marketing_consent"] is True


def test_the_file_holds_both_ledgers_entry_by_entry_and_they_sum_to_the_balances(chain, fang_with_history):
    data = data_of(fang_with_history, chain.hq_admin)

    assert len(data["points_ledger"]) == PointsEntry.objects.filter(member_id=fang_with_history.pk).count()
    assert (
        sum(entry["points"] for entry in data["points_ledger"])
        == data["balances"]["points_available"] + data["balances"]["points_pending"]
    )
    assert len(data["stored_value_ledger"]) == WalletEntry.objects.filter(member_id=fang_with_history.pk).count()
    assert sum(Decimal(entry["principal"]) for entry in data["stored_value_ledger"]) == Decimal(
        data["balances"]["stored_value_principal"]
    )
    assert {entry["kind"]["value"] for entry in data["stored_value_ledger"]} == {"top_up", "spend"}


def test_the_file_holds_the_sales_with_their_lines_coupons_messages_and_access_log(client, chain, fang_with_history):
    client.force_login(chain.hq_admin)
    client.get(reverse("admin:members_member_360", args=[fang_with_history.pk]))

    data = data_of(fang_with_history, chain.hq_admin)

    assert [sale["subtotal"] for sale in data["sales"]] == ["100.00", "55.00"]
    assert data["sales"][0]["lines"][0]["category"] == "饮品"
    assert len(data["coupons"]) == 1 and len(data["messages"]) == 1
    assert data["top_ups"][0]["amount"] == "500.00"
    assert any(row["staff__username"] == "hq_admin" for row in data["access_log"])


def test_making_the_file_is_audited(chain, fang_with_history):
    data_of(fang_with_history, chain.hq_admin)

    audit = AuditEntry.objects.get(action="member.data_exported")
    assert (audit.actor, audit.target_id) == (chain.hq_admin, str(fang_with_history.pk))
    assert "points_ledger" in audit.data["parts"]


@pytest.mark.parametrize("persona", ["marketer", "manager_a", "cashier_a"])
def test_only_the_hq_admin_may_make_it(chain, fang, persona):
    with pytest.raises(PermissionDenied):
        member_data_file(member=fang, by=getattr(chain, persona))

    assert not AuditEntry.objects.filter(action="member.data_exported").exists()


def test_the_hq_admin_downloads_it_from_the_back_office(client, chain, fang_with_history):
    client.force_login(chain.hq_admin)
    url = reverse("admin:members_member_data", args=[fang_with_history.pk])

    assert client.get(url).status_code == 200
    response = client.post(url)

    assert response.status_code == 200
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="member-{fang_with_history.code}-' + (response["Content-Disposition"].split("-")[-1])
    )
    assert json.loads(response.content)["profile"]["phone"] == PHONE


@pytest.mark.parametrize("persona", ["marketer"])
def test_the_marketer_may_neither_open_nor_download_it(client, chain, fang, persona):
    client.force_login(getattr(chain, persona))
    url = reverse("admin:members_member_data", args=[fang.pk])

    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403


def test_an_erased_members_file_holds_no_personal_data_but_the_ledgers(chain, fang_with_history):
    erase(fang_with_history, chain.hq_admin)

    data = data_of(fang_with_history, chain.hq_admin)

    assert data["profile"]["phone"] is None and data["profile"]["name"] == ""
    assert len(data["sales"]) == 2
    assert "13912345678" not in json.dumps(data)
