"""Stored value (储值): a wallet with principal and bonus parts and its own append-only ledger.

Spending splits between principal and bonus by LoyaltySettings.wallet_split; the default,
proportional, keeps the wallet's principal:bonus ratio, so refunds and withdrawals stay fair to
both sides (a member cannot spend the bonus first and then withdraw all the principal).
"""

from collections.abc import Callable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from loyalty.models import LoyaltySettings, RechargePackage, TopUp, Wallet, WalletEntry
from loyalty.services.idempotency import replay, validate_request_id
from loyalty.services.locks import lock_points_account, lock_wallet
from loyalty.services.policy import money
from members.models import Member
from stores.models import Store
from stores.permissions import require_staff_can, require_staff_can_at
from stores.roles import Action
from stores.services import audit_record


def split_spend(wallet: Wallet, amount: Decimal, policy: LoyaltySettings) -> tuple[Decimal, Decimal]:
    """(principal, bonus) parts of spending `amount` from `wallet`."""
    if amount > wallet.balance:
        raise ValidationError(
            {
                "tenders": ValidationError(
                    _("Not enough stored value: ¥%(balance)s available."),
                    code="insufficient_stored_value",
                    params={"balance": wallet.balance},
                )
            }
        )
    if policy.wallet_split == LoyaltySettings.WalletSplit.PRINCIPAL_FIRST:
        principal = min(amount, wallet.principal)
        return principal, amount - principal
    if policy.wallet_split == LoyaltySettings.WalletSplit.BONUS_FIRST:
        bonus = min(amount, wallet.bonus)
        return amount - bonus, bonus
    bonus = money(amount * wallet.bonus / wallet.balance) if wallet.balance else Decimal("0.00")
    bonus = min(bonus, wallet.bonus)
    principal = amount - bonus
    if principal > wallet.principal:
        principal, bonus = wallet.principal, amount - wallet.principal
    return principal, bonus


def wallet_move(
    wallet: Wallet,
    *,
    kind: str,
    principal: Decimal,
    bonus: Decimal,
    key: str,
    store_id: int | None = None,
    staff_id: int | None = None,
    sale_id: int | None = None,
    refund_id: int | None = None,
    topup_id: int | None = None,
    reason: str = "",
) -> WalletEntry:
    """Append one wallet entry and move the cached balances with it (the wallet row is locked)."""
    entry = WalletEntry.objects.create(
        member_id=wallet.pk,
        kind=kind,
        principal=principal,
        bonus=bonus,
        idempotency_key=key,
        store_id=store_id,
        staff_id=staff_id,
        sale_id=sale_id,
        refund_id=refund_id,
        topup_id=topup_id,
        reason=reason,
    )
    wallet.principal += principal
    wallet.bonus += bonus
    wallet.save(update_fields=["principal", "bonus", "updated_at"])
    return entry


_after_topup_hooks: list[Callable[[TopUp], None]] = []


def register_after_topup_hook(hook: Callable[[TopUp], None]) -> None:
    """For what follows a top-up (campaigns: an automation's thank-you); runs inside its transaction."""
    if hook not in _after_topup_hooks:
        _after_topup_hooks.append(hook)


def wallet_top_up(
    *,
    request_id: str,
    member: Member,
    store: Store,
    staff,
    tender: str,
    package: RechargePackage | None = None,
    amount: Decimal | None = None,
) -> TopUp:
    """Top up a wallet with a package (充500送50) or a plain amount; the same request_id again
    returns the first top-up, and a different top-up under a used request_id is refused."""
    from loyalty.services.checkout import MAX_MONEY  # checkout imports this module

    validate_request_id(request_id)
    require_staff_can(staff, Action.TOP_UP, store)
    request = {"member": member, "store": store, "tender": tender, "package": package, "amount": amount}
    existing = TopUp.objects.filter(request_id=request_id).select_related("store").first()
    if existing is not None:
        return _same_topup_or_conflict(existing, staff=staff, **request)
    if member.is_frozen:
        raise ValidationError({"member": ValidationError(_("This member is frozen."), code="member_frozen")})
    if tender not in TopUp.Tender.values:
        raise ValidationError({"tender": ValidationError(_("Unknown tender."), code="invalid_tender")})
    if package is not None:
        if not package.is_active:
            raise ValidationError(
                {"package": ValidationError(_("This package is no longer sold."), code="package_inactive")}
            )
        paid, bonus = package.pay_amount, package.bonus_amount
    elif amount is not None:
        paid, bonus = money(amount), Decimal("0.00")
        if paid <= 0:
            raise ValidationError({"amount": ValidationError(_("Enter an amount above zero."), code="invalid_amount")})
        if paid > MAX_MONEY:
            raise ValidationError({"amount": ValidationError(_("This amount is too large."), code="invalid_amount")})
    else:
        raise ValidationError({"amount": ValidationError(_("Choose a package or enter an amount."), code="required")})
    try:
        with transaction.atomic():
            topup = TopUp.objects.create(
                request_id=request_id,
                member=member,
                store=store,
                staff=staff,
                package=package,
                amount=paid,
                bonus=bonus,
                tender=tender,
            )
            lock_points_account(member)
            wallet = lock_wallet(member)
            wallet_move(
                wallet,
                kind=WalletEntry.Kind.TOP_UP,
                principal=paid,
                bonus=bonus,
                key=f"topup:{topup.pk}",
                store_id=store.pk,
                staff_id=staff.pk,
                topup_id=topup.pk,
            )
            for hook in _after_topup_hooks:
                hook(topup)
    except IntegrityError:
        existing = TopUp.objects.filter(request_id=request_id).select_related("store").first()
        if existing is None:
            raise
        return _same_topup_or_conflict(existing, staff=staff, **request)
    return topup


def _same_topup_or_conflict(
    topup: TopUp, *, staff, member: Member, store: Store, tender: str, package: RechargePackage | None, amount
) -> TopUp:
    same = (
        topup.member_id == member.pk
        and topup.store_id == store.pk
        and topup.tender == tender
        and topup.package_id == (package.pk if package is not None else None)
        and (package is not None or amount is None or topup.amount == money(amount))
    )
    return replay(
        topup,
        same=same,
        actor=staff,
        action=Action.TOP_UP,
        store=topup.store,
        message=_("This request id was used for another top-up."),
    )


def _existing_payout(key: str, *, member: Member, store: Store | None, reason: str, actor) -> WalletEntry | None:
    # Unique across members (wallet_withdraw_request_once), so this finds a request id used for anyone.
    entry = (
        WalletEntry.objects.filter(kind=WalletEntry.Kind.WITHDRAW, idempotency_key=key).select_related("store").first()
    )
    if entry is None:
        return None
    same = entry.member_id == member.pk and entry.store_id == (store.pk if store else None) and entry.reason == reason
    return replay(
        entry,
        same=same,
        actor=actor,
        action=Action.APPROVE_REFUND,
        store=entry.store,
        message=_("This request id was already used for a different payout."),
    )


def wallet_refund_principal(
    *, member: Member, actor, store: Store | None, reason: str, request_id: str
) -> WalletEntry | None:
    """Pay the member back their remaining principal; the bonus is forfeited. Audited. Store staff do it at
    their store; HQ may do it without one. The same request again returns the first payout."""
    validate_request_id(request_id)
    # Paying stored value back out is a refund: it needs the same right as approving a sale's refund.
    require_staff_can_at(actor, Action.APPROVE_REFUND, store)
    key = f"withdraw:{request_id}"
    reason = (reason or "").strip()
    request = dict(member=member, store=store, reason=reason[:255], actor=actor)
    existing = _existing_payout(key, **request)
    if existing is not None:
        return existing
    if member.is_frozen:
        raise ValidationError({"member": ValidationError(_("This member is frozen."), code="member_frozen")})
    if not reason:
        raise ValidationError({"reason": ValidationError(_("Give a reason."), code="reason_required")})
    try:
        with transaction.atomic():
            return _pay_out(key=key, **request)
    except IntegrityError:
        existing = _existing_payout(key, **request)
        if existing is None:
            raise
        return existing


def _pay_out(*, key: str, member: Member, store: Store | None, reason: str, actor) -> WalletEntry:
    lock_points_account(member)
    wallet = lock_wallet(member)
    existing = _existing_payout(key, member=member, store=store, reason=reason, actor=actor)
    if existing is not None:
        return existing
    if wallet.principal == 0 and wallet.bonus == 0:
        raise ValidationError({"member": ValidationError(_("The wallet is empty."), code="wallet_empty")})
    principal, bonus = wallet.principal, wallet.bonus
    entry = wallet_move(
        wallet,
        kind=WalletEntry.Kind.WITHDRAW,
        principal=-principal,
        bonus=-bonus,
        key=key,
        store_id=store.pk if store else None,
        staff_id=actor.pk,
        reason=reason,
    )
    audit_record(
        actor=actor,
        action="wallet.principal_refunded",
        target=member,
        store=store,
        reason=reason,
        data={"principal": str(principal), "bonus_forfeited": str(bonus)},
    )
    return entry


def wallet_settle_on_erasure(*, member: Member, actor, policy: str | None, reason: str) -> dict:
    """Empty the wallet of a member being erased (members.erasure calls it inside the erasure's transaction).

    `pay_back`: the principal is paid back and the bonus forfeited, as a principal refund is (a WITHDRAW
    entry); `forfeit`: both recorded as forfeited (a FORFEIT entry), which the member agreed to. `None` (the
    retention rule) refuses a wallet that is not empty: money is for a person to hand over. Unlike a
    principal refund it takes a frozen member: erasure is how a frozen member leaves.
    """
    wallet = lock_wallet(member)
    if wallet.principal == 0 and wallet.bonus == 0:
        return {}
    if policy is None:
        raise ValidationError(
            {
                "stored_value": ValidationError(
                    _("The member still has ¥%(balance)s of stored value: settle it first."),
                    code="stored_value_to_settle",
                    params={"balance": wallet.balance},
                )
            }
        )
    principal, bonus = wallet.principal, wallet.bonus
    kind = WalletEntry.Kind.WITHDRAW if policy == "pay_back" else WalletEntry.Kind.FORFEIT
    entry = wallet_move(
        wallet,
        kind=kind,
        principal=-principal,
        bonus=-bonus,
        # Unique across members for payouts (wallet_withdraw_request_once): the member's id makes it so.
        key=f"erasure:{member.pk}",
        staff_id=actor.pk if actor is not None else None,
        reason=reason[:255],
    )
    facts = {"stored_value": policy, "principal": str(principal), "bonus": str(bonus), "wallet_entry": entry.pk}
    audit_record(actor=actor, action=f"wallet.{kind}_on_erasure", target=member, reason=reason, data=facts)
    return facts
