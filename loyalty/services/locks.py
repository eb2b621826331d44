"""The one way to lock a member's balances. Always in this order: sale, points account, wallet.

Every balance change holds the member's points account row (and the wallet row when stored value
moves) with SELECT … FOR UPDATE for the rest of its transaction, so concurrent tills, jobs and
refunds on one member queue instead of overspending.
"""

from django.db import transaction

from loyalty.models import MemberStats, PointsAccount, Sale, Wallet
from members.models import Member


def lock_points_account(member: Member | int) -> PointsAccount:
    member_id = member if isinstance(member, int) else member.pk
    PointsAccount.objects.get_or_create(member_id=member_id)
    return PointsAccount.objects.select_for_update().get(pk=member_id)


def lock_wallet(member: Member | int) -> Wallet:
    member_id = member if isinstance(member, int) else member.pk
    Wallet.objects.get_or_create(member_id=member_id)
    return Wallet.objects.select_for_update().get(pk=member_id)


def lock_sale(sale_id: int) -> Sale:
    return Sale.objects.select_for_update().get(pk=sale_id)


def stats_for_update(member: Member | int) -> MemberStats:
    member_id = member if isinstance(member, int) else member.pk
    MemberStats.objects.get_or_create(member_id=member_id)
    return MemberStats.objects.select_for_update().get(pk=member_id)


def in_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("balance locks must be taken inside transaction.atomic()")
