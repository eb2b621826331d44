"""Erasure (注销): a member's personal data wiped for good on request, their ledgers and sales kept for the
accounts with an anonymous member, what they hold settled first; refused while a sale may still be refunded
or waits for review; idempotent; audited; HQ admin only."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from campaigns.models import Coupon, Message
from loyalty.models import PointsEntry, Sale, Wallet, WalletEntry
from loyalty.reconcile import ledger_mismatches
from members.erasure import StoredValuePolicy, erase_member
from members.models import NAME_PREFIX_INDEXES, PHONE_INDEXES, Member
from members.selectors import member_by_reference, member_lookup, member_search_filter
from members.services import member_register
from stores.models import AuditEntry
from tests.members.rights import PHONE, D, buy, erase

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _in_english():
    """Messages are read in English here; the chain's default language is Chinese."""
    with translation.override("en"):
        yield


def test_erasure_wipes_every_personal_field_and_keeps_the_member_row(chain, fang_with_history):
    outcome = erase(fang_with_history, chain.hq_admin)

    member = Member.objects.get(pk=fang_with_history.pk)
    assert outcome.erased
    assert member.status == Member.Status.ERASED and member.erased_at is not None
    assert (member.phone, member.name, member.email, member.address, member.birthday, member.notes) == (
        None,
        "",
        "",
        "",
        None,
        "",
    )
    assert not member.marketing_consent and member.consent_at is None
    assert list(member.tags.all()) == []
    assert member.code == fang_with_history.code
    assert str(member) == f"Erased member ({member.code})"


def test_erasure_leaves_no_blind_index_nor_clear_birthday_to_find_the_member_by(chain, fang_with_history):
    Member.objects.filter(pk=fang_with_history.pk).update(birthday=date(1990, 5, 17), birth_month=5, birth_day=17)
    before = Member.objects.get(pk=fang_with_history.pk)
    name, phone = before.name, before.phone
    assert Member.objects.filter(member_search_filter(phone.removeprefix("+86")[:7])).exists()

    erase(fang_with_history, chain.hq_admin)

    row = Member.objects.values(
        *NAME_PREFIX_INDEXES, "name_whole_index", *PHONE_INDEXES, "phone", "birth_month", "birth_day"
    ).get(pk=fang_with_history.pk)
    assert set(row.values()) == {None}
    assert not Member.objects.filter(member_search_filter(name)).exists()
    assert not Member.objects.filter(member_search_filter(phone)).exists()
    assert not Member.objects.filter(member_search_filter(phone.removeprefix("+86")[:7])).exists()


def test_the_ledgers_and_sales_stay_with_the_anonymous_member_and_still_sum(chain, fang_with_history):
    points_before = PointsEntry.objects.filter(member_id=fang_with_history.pk).count()

    erase(fang_with_history, chain.hq_admin)

    assert Sale.objects.filter(member_id=fang_with_history.pk).count() == 2
    assert PointsEntry.objects.filter(member_id=fang_with_history.pk).count() == points_before
    assert ledger_mismatches() == []


def test_stored_value_is_paid_back_through_the_wallet_ledger_by_default(chain, fang_with_history):
    erase(fang_with_history, chain.hq_admin)

    wallet = Wallet.objects.get(pk=fang_with_history.pk)
    assert (wallet.principal, wallet.bonus) == (D("0.00"), D("0.00"))
    payout = WalletEntry.objects.get(member_id=fang_with_history.pk, kind=WalletEntry.Kind.WITHDRAW)
    # 充500送50, then ¥55 spent in proportion: 50 principal, 5 bonus.
    assert (payout.principal, payout.bonus) == (D("-450.00"), D("-45.00"))
    assert ledger_mismatches() == []


def test_stored_value_may_be_recorded_as_forfeited_instead(chain, fang_with_history):
    erase(fang_with_history, chain.hq_admin, stored_value=StoredValuePolicy.FORFEIT)

    forfeit = WalletEntry.objects.get(member_id=fang_with_history.pk, kind=WalletEntry.Kind.FORFEIT)
    assert (forfeit.principal, forfeit.bonus) == (D("-450.00"), D("-45.00"))
    assert not WalletEntry.objects.filter(member_id=fang_with_history.pk, kind=WalletEntry.Kind.WITHDRAW).exists()
    assert ledger_mismatches() == []


def test_coupons_are_voided_and_messages_not_yet_sent_are_stopped_and_wiped(chain, fang_with_history):
    erase(fang_with_history, chain.hq_admin)

    coupons = Coupon.objects.filter(member_id=fang_with_history.pk)
    assert set(coupons.values_list("status", flat=True)) == {Coupon.Status.VOID}
    message = Message.objects.get(member_id=fang_with_history.pk)
    assert message.status == Message.Status.FAILED
    assert (message.recipient, message.body) == ("", "")


def test_the_member_can_no_longer_be_found_by_phone_or_code(chain, fang_with_history):
    erase(fang_with_history, chain.hq_admin)

    assert list(member_lookup(text="13912345678")) == []
    assert member_by_reference("13912345678") is None
    assert member_by_reference(fang_with_history.code) is None


def test_registering_the_same_phone_again_gives_a_new_member(chain, fang_with_history):
    erase(fang_with_history, chain.hq_admin)

    again = member_register(phone="13912345678", name="王芳", store=chain.store_a)

    assert again.pk != fang_with_history.pk and again.code != fang_with_history.code
    assert again.phone == PHONE
    assert Sale.objects.filter(member=again).count() == 0


def test_erasing_twice_changes_nothing_the_second_time(chain, fang_with_history):
    erase(fang_with_history, chain.hq_admin)
    audits = AuditEntry.objects.count()
    entries = WalletEntry.objects.count()

    outcome = erase(fang_with_history, chain.hq_admin)

    assert not outcome.erased
    assert (AuditEntry.objects.count(), WalletEntry.objects.count()) == (audits, entries)


def test_erasure_is_audited_with_its_reason_and_what_was_settled(chain, fang_with_history):
    erase(fang_with_history, chain.hq_admin)

    audit = AuditEntry.objects.get(action="member.erased")
    assert (audit.actor, audit.target_id) == (chain.hq_admin, str(fang_with_history.pk))
    assert audit.reason == "会员书面申请注销 2026-12-01"
    assert audit.data["coupons_voided"] == 1 and audit.data["stored_value"] == "pay_back"
    assert "13912345678" not in str(audit.data)


def test_a_phone_change_kept_in_the_audit_trail_is_wiped_too(chain, fang_with_history):
    from members.services import member_update

    member_update(member=fang_with_history, actor=chain.hq_admin, phone="13700001111")

    erase(fang_with_history, chain.hq_admin)

    assert "13700001111" not in str(list(AuditEntry.objects.values_list("data", flat=True)))


def test_erasure_is_refused_while_a_sale_can_still_be_refunded(chain, fang):
    buy(chain, fang)

    with pytest.raises(ValidationError) as refused:
        erase(fang, chain.hq_admin)

    assert refused.value.error_dict["member"][0].code == "erasure_blocked"
    assert "can still be refunded" in refused.value.messages[0]
    assert Member.objects.get(pk=fang.pk).phone == PHONE
    assert not AuditEntry.objects.filter(action="member.erased").exists()


def test_erasure_is_refused_while_an_offline_sale_waits_for_review(chain, fang, clock):
    clock.advance(days=-40)
    sale = buy(chain, fang)
    clock.advance(days=40)
    Sale.objects.filter(pk=sale.pk).update(review_state="pending", review_reasons=["amount_differs"])

    with pytest.raises(ValidationError) as refused:
        erase(fang, chain.hq_admin)

    assert "review" in refused.value.messages[0]
    assert not Member.objects.get(pk=fang.pk).is_erased


def test_erasure_needs_a_reason(chain, fang):
    with pytest.raises(ValidationError) as refused:
        erase_member(member=fang, by=chain.hq_admin, reason="  ")

    assert refused.value.error_dict["reason"][0].code == "reason_required"


@pytest.mark.parametrize("persona", ["marketer", "manager_a", "cashier_a"])
def test_only_the_hq_admin_may_erase(chain, fang, persona):
    with pytest.raises(PermissionDenied):
        erase(fang, getattr(chain, persona))

    assert not Member.objects.get(pk=fang.pk).is_erased


def test_an_erased_member_can_no_longer_buy_or_be_edited(chain, fang):
    erase(fang, chain.hq_admin)
    fang.refresh_from_db()

    with pytest.raises(ValidationError):
        buy(chain, fang)
    from members.services import member_update

    with pytest.raises(ValidationError):
        member_update(member=fang, actor=chain.hq_admin, name="李娜")


# --- the back office -------------------------------------------------------------------------------------


def test_the_erase_page_shows_the_stored_value_to_settle_and_erases_on_confirmation(client, chain, fang_with_history):
    client.force_login(chain.hq_admin)
    url = reverse("admin:members_member_erase", args=[fang_with_history.pk])

    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "¥450.00" in page.content.decode() and "¥45.00" in page.content.decode()

    unconfirmed = client.post(url, {"reason": "书面申请", "stored_value": "pay_back"})
    assert unconfirmed.status_code == 200 and not Member.objects.get(pk=fang_with_history.pk).is_erased

    done = client.post(url, {"reason": "书面申请", "stored_value": "pay_back", "confirm": "on"})
    assert done.status_code == 302
    assert Member.objects.get(pk=fang_with_history.pk).is_erased
    assert client.get(reverse("admin:members_member_360", args=[fang_with_history.pk])).status_code == 200
    assert client.get(reverse("admin:members_member_change", args=[fang_with_history.pk])).status_code == 200


def test_the_erase_page_says_why_a_member_must_wait(client, chain, fang):
    buy(chain, fang)
    client.force_login(chain.hq_admin)

    page = client.get(reverse("admin:members_member_erase", args=[fang.pk]), HTTP_ACCEPT_LANGUAGE="en")

    assert "can still be refunded" in page.content.decode()
    assert 'name="confirm"' not in page.content.decode()


def test_the_marketer_may_not_open_the_erase_page_nor_see_its_link(client, chain, fang):
    client.force_login(chain.marketer)

    assert client.get(reverse("admin:members_member_erase", args=[fang.pk])).status_code == 403
    page = client.get(reverse("admin:members_member_360", args=[fang.pk]))
    assert reverse("admin:members_member_erase", args=[fang.pk]) not in page.content.decode()


def test_the_members_list_copes_with_an_erased_member(client, chain, fang):
    erase(fang, chain.hq_admin)
    client.force_login(chain.hq_admin)

    assert client.get(reverse("admin:members_member_changelist")).status_code == 200
    client.force_login(chain.marketer)
    assert client.get(reverse("admin:members_member_changelist")).status_code == 200


def test_an_old_erasure_keeps_its_time(chain, fang, clock):
    erase(fang, chain.hq_admin)
    erased_at = Member.objects.get(pk=fang.pk).erased_at
    clock.advance(days=3)

    erase(fang, chain.hq_admin)

    assert Member.objects.get(pk=fang.pk).erased_at == erased_at
    assert erased_at <= timezone.now() - timedelta(days=3)


def test_the_tablet_card_and_the_api_summary_find_no_erased_member_and_the_export_copes(at_till, chain, fang):
    from members.exports import member_export_prepare

    erase(fang, chain.hq_admin)
    client = at_till(chain.manager_a, chain.store_a)

    # An erased member is no one to serve: the till and the API do not find the code.
    assert client.get(reverse("tablet:member", args=[fang.code])).status_code == 404
    assert client.get(f"/api/v1/members/{fang.code}/").status_code == 404
    client.force_login(chain.hq_admin)
    export = member_export_prepare(
        actor=chain.hq_admin, queryset=Member.objects.all(), columns=["phone", "name"], fmt="csv"
    )
    content = b"".join(export.csv_chunks()).decode("utf-8-sig")
    assert fang.code not in content or "王芳" not in content
    assert "13912345678" not in content


def test_a_message_drafted_for_an_erased_member_has_no_phone_to_show(chain, fang):
    from campaigns.messaging.variables import MemberRow, variable_values

    erase(fang, chain.hq_admin)
    fang.refresh_from_db()

    values = variable_values([MemberRow.of(fang)], ["phone_last4", "name"])

    assert values[fang.pk]["phone_last4"] == ""
