"""The one way to lock a member's balances. Always in this order: staff member, sale, points account, wallet.

Every balance change holds the member's points account row (and the wallet row when stored value
moves) with SELECT … FOR UPDATE for the rest of its transaction, so concurrent tills, jobs and
refunds on one member queue instead of overspending.

A store manager's manual adjustments hold the manager's staff row first (their daily cap counts
adjustments of every member, so it cannot be a member's lock), before any member's lock: a manager's
adjustments queue among themselves, and no one holds a member's lock while waiting for a staff row.
"""

from django.db import IntegrityError, transaction

from loyalty.models import MemberStats, PointsAccount, Sale, Wallet
from members.models import Member
from stores.models import StaffProfile


def _lock_or_create(model, member_id: int):
    """One SELECT … FOR UPDATE when the row exists (the common case at a till); otherwise create it in a
    savepoint (a concurrent creator wins harmlessly) and lock what is there."""
    row = model.objects.select_for_update().filter(pk=member_id).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            model.objects.create(member_id=member_id)
    except IntegrityError:
        pass
    return model.objects.select_for_update().get(pk=member_id)


def lock_points_account(member: Member | int) -> PointsAccount:
    return _lock_or_create(PointsAccount, member if isinstance(member, int) else member.pk)


def lock_wallet(member: Member | int) -> Wallet:
    return _lock_or_create(Wallet, member if isinstance(member, int) else member.pk)


def lock_staff(user) -> StaffProfile | None:
    """The staff member's row, for limits that count what they did across members (the adjustment cap).
    None for someone without a staff profile (superusers, integrations): nothing of theirs is capped."""
    return StaffProfile.objects.select_for_update().filter(user_id=user.pk).first()


def lock_sale(sale_id: int) -> Sale:
    return Sale.objects.select_for_update().get(pk=sale_id)


def stats_for_update(member: Member | int) -> MemberStats:
    return _lock_or_create(MemberStats, member if isinstance(member, int) else member.pk)


def in_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("balance locks must be taken inside transaction.atomic()")
