"""sale_checkout: lines → tier discount → one coupon → points → tenders, then points earned.

The same request_id again returns the first sale (and a different payload under a used request id
is refused), so a till can resend after a timeout or from its offline queue without double effect.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import field_error as _error
from loyalty.models import (
    LoyaltySettings,
    MemberDailySpend,
    MemberStats,
    PointsAccount,
    PointsEntry,
    Sale,
    SaleLine,
    SaleTender,
    Wallet,
    WalletEntry,
)
from loyalty.services import points as ledger
from loyalty.services.behaviour import referral_reward_for_sale
from loyalty.services.earning import EarnLine, points_boosts, points_for_sale, rule_for
from loyalty.services.idempotency import payload_hash, replay, validate_request_id
from loyalty.services.locks import lock_points_account, lock_wallet, stats_for_update
from loyalty.services.policy import max_redeemable_points, money, points_value
from loyalty.services.tiers import all_tiers, tier_upgrade_after_sale
from loyalty.services.wallet import split_spend, wallet_move
from members.models import Member
from stores.models import Store
from stores.permissions import require_staff_can
from stores.roles import Action
from stores.services import audit_record

MAX_LINES = 200
MAX_COUPONS = 5
MAX_MONEY = Decimal("9999999.99")


@dataclass(frozen=True)
class LineInput:
    category: str
    quantity: Decimal
    unit_price: Decimal
    sku: str = ""


@dataclass(frozen=True)
class TenderInput:
    kind: str
    amount: Decimal


class CouponApplier(Protocol):
    """The campaigns app plugs coupons into checkout through this (loyalty must not import it)."""

    def discount(
        self,
        *,
        codes: list[str],
        member: Member | None,
        store: Store,
        channel: str,
        lines: list[LineInput],
        line_dues: list[Decimal],
        now: datetime,
    ) -> list[Decimal]:
        """What the coupons take off each line (`line_dues`: each line's amount after the tier discount),
        one amount per line; ValidationError if a coupon does not apply."""

    def redeem(self, *, codes: list[str], sale: Sale, line_discounts: list[Decimal]) -> None:
        """Claim the coupons for `sale`, atomically; ValidationError if someone else used one first."""

    def release(self, *, sale: Sale) -> None:
        """Give the coupons back after `sale` was refunded in full, while they are still valid."""


_coupon_appliers: list[CouponApplier] = []


def register_coupon_applier(applier: CouponApplier) -> None:
    _coupon_appliers[:] = [applier]


def coupon_applier() -> CouponApplier | None:
    return _coupon_appliers[0] if _coupon_appliers else None


def _allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `total` over `weights` in proportion, to the cent, the rounding left on the largest."""
    weight_sum = sum(weights, Decimal(0))
    if not weight_sum or not total:
        return [Decimal("0.00")] * len(weights)
    parts = [money(total * w / weight_sum) for w in weights]
    parts[max(range(len(weights)), key=lambda i: weights[i])] += total - sum(parts, Decimal(0))
    return parts


def _validate_lines(lines: list[LineInput]) -> list[Decimal]:
    if not lines:
        raise _error("lines", _("A sale needs at least one line."), "lines_required")
    if len(lines) > MAX_LINES:
        raise _error("lines", _("A sale has at most %(max)d lines."), "too_many_lines", max=MAX_LINES)
    amounts = []
    for line in lines:
        if not line.category or len(line.category) > 64 or len(line.sku) > 64:
            raise _error("lines", _("Each line needs a category (at most 64 characters)."), "invalid_line")
        if line.quantity <= 0 or line.quantity > 100000:
            raise _error("lines", _("Quantities must be above zero."), "invalid_quantity")
        if line.unit_price < 0 or line.unit_price > MAX_MONEY:
            raise _error("lines", _("Prices cannot be negative."), "invalid_price")
        amounts.append(money(line.quantity * line.unit_price))
    if sum(amounts, Decimal(0)) <= 0:
        raise _error("lines", _("The sale's total must be above zero."), "invalid_amount")
    if sum(amounts, Decimal(0)) > MAX_MONEY:
        raise _error("lines", _("The sale's total is too large."), "invalid_amount")
    return amounts


def _validate_tenders(tenders: list[TenderInput]) -> dict[str, Decimal]:
    by_kind: dict[str, Decimal] = {}
    for tender in tenders:
        if tender.kind not in SaleTender.Kind.values:
            raise _error("tenders", _("Unknown tender “%(kind)s”."), "invalid_tender", kind=str(tender.kind)[:32])
        if tender.amount <= 0 or tender.amount != money(tender.amount):
            raise _error("tenders", _("Tender amounts must be above zero, in cents."), "invalid_amount")
        if tender.kind in by_kind:
            raise _error("tenders", _("Each tender may appear once."), "duplicate_tender")
        by_kind[tender.kind] = tender.amount
    return by_kind


def _coupon_codes(code: str, codes: list[str] | None) -> list[str]:
    """The sale's coupon codes, trimmed, each once, in the order given."""
    given = [code] if code else []
    if codes:
        given += list(codes)
    result: list[str] = []
    for value in given:
        text = value.strip() if isinstance(value, str) else ""
        if not text or len(text) > 64:
            raise _error("coupon", _("A coupon code is 1–64 characters."), "coupon_invalid")
        if text not in result:
            result.append(text)
    if len(result) > MAX_COUPONS:
        raise _error("coupon", _("At most %(max)d coupons on one sale."), "coupon_invalid", max=MAX_COUPONS)
    return result


def _known_children(sale: Sale, **children: list) -> None:
    """The answer shows the lines and tenders just written: hand them to sale.lines.all() and
    sale.tenders.all() as if prefetched (what prefetch_related does), instead of reading them back."""
    cache = {}
    for name, rows in children.items():
        queryset = getattr(sale, name).get_queryset()
        queryset._result_cache = rows
        queryset._prefetch_done = True
        cache[name] = queryset
    sale._prefetched_objects_cache = cache


def _existing_sale(request_id: str, digest: str, cashier) -> Sale | None:
    sale = Sale.objects.filter(request_id=request_id).select_related("store").first()
    if sale is None:
        return None
    return replay(
        sale,
        same=sale.payload_hash == digest,
        actor=cashier,
        action=Action.SELL,
        store=sale.store,
        message=_("This request id was already used for a different sale."),
    )


def sale_checkout(
    *,
    request_id: str,
    store: Store,
    cashier,
    member: Member | None,
    lines: list[LineInput],
    tenders: list[TenderInput],
    coupon_code: str = "",
    coupon_codes: list[str] | None = None,
    points_to_redeem: int = 0,
    client_time: datetime | None = None,
    channel: str = Sale.Channel.STORE,
    offline: bool = False,
) -> Sale:
    """`coupon_code` for one coupon, `coupon_codes` for several (each must allow stacking).

    `offline`: the till queued the sale while its network was down and the customer has left with the
    goods, so what changed meanwhile never refuses it: points, coupons or stored value that can no
    longer be used are left out, the tenders are taken as paid, and the sale is flagged for review."""
    validate_request_id(request_id)
    codes = _coupon_codes(coupon_code, coupon_codes)
    digest = payload_hash(
        store=store.pk,
        member=member.pk if member else None,
        lines=[asdict(line) for line in lines],
        tenders=[asdict(t) for t in tenders],
        # One coupon hashes as before, so a till resending a sale from before several were allowed matches.
        coupon=codes[0] if len(codes) == 1 else codes if codes else "",
        points=points_to_redeem,
        **({"channel": channel} if channel != Sale.Channel.STORE else {}),
        # Not `offline`: a till whose request timed out queues it and sends it again with offline set;
        # if the first one got through, the resend must be its replay, not a conflict.
    )
    require_staff_can(cashier, Action.SELL, store)
    existing = _existing_sale(request_id, digest, cashier)
    if existing is not None:
        return existing
    amounts = _validate_lines(lines)
    by_kind = _validate_tenders(tenders)
    if not isinstance(points_to_redeem, int) or points_to_redeem < 0:
        raise _error("points", _("Points to redeem cannot be negative."), "invalid_points")
    if member is None and (points_to_redeem or SaleTender.Kind.STORED_VALUE in by_kind):
        raise _error("member", _("Points and stored value need a member."), "member_required")
    if member is not None and member.is_frozen:
        raise _error("member", _("This member is frozen and cannot be sold to."), "member_frozen")
    if channel not in Sale.Channel.values:
        raise _error("channel", _("Unknown channel “%(channel)s”."), "invalid_channel", channel=str(channel)[:16])
    if codes and coupon_applier() is None:
        raise _error("coupon", _("Coupons are not available."), "coupon_invalid")
    arguments = dict(
        request_id=request_id,
        digest=digest,
        store=store,
        cashier=cashier,
        member=member,
        lines=lines,
        amounts=amounts,
        by_kind=by_kind,
        codes=codes,
        points_to_redeem=points_to_redeem,
        client_time=client_time,
        channel=channel,
        offline=offline,
    )
    try:
        with transaction.atomic():
            if not (offline and codes):
                return _checkout(**arguments)
            try:
                with transaction.atomic():
                    return _checkout(**arguments)
            except _CouponLost:
                # Another sale claimed the coupon after it was priced: the same sale again, without it.
                arguments.update(codes=[], extra_reasons=[Sale.ReviewReason.COUPON_UNAVAILABLE])
                return _checkout(**arguments)
    except IntegrityError:
        # Two tills sent the same request at once: the other one's sale is the answer.
        existing = _existing_sale(request_id, digest, cashier)
        if existing is None:
            raise
        return existing


@dataclass(frozen=True)
class Pricing:
    """What a sale costs before its tenders: one computation for checkout, offline sales and the quote."""

    subtotal: Decimal
    tier: object
    tier_discount: Decimal
    line_dues: list[Decimal]
    coupon_parts: list[Decimal]
    coupon_discount: Decimal
    codes: list[str]
    max_points: int
    points_to_redeem: int
    points_value: Decimal
    total_due: Decimal
    reasons: list[str]

    @property
    def nets(self) -> list[Decimal]:
        return [due - part for due, part in zip(self.line_dues, self.coupon_parts, strict=True)]


def _price(
    *,
    store: Store,
    member: Member | None,
    lines: list[LineInput],
    amounts: list[Decimal],
    codes: list[str],
    points_to_redeem: int,
    channel: str,
    available: int,
    tier_id: int | None,
    tiers: list,
    policy: LoyaltySettings,
    now: datetime,
    offline: bool = False,
) -> Pricing:
    """Lines → tier discount → coupons → points. Offline, what can no longer be used is dropped whole
    (with its reason) instead of refused: the customer has already left with the goods."""
    reasons: list[str] = []
    subtotal = sum(amounts, Decimal(0))
    tier = next((t for t in tiers if t.pk == tier_id), None) if tier_id is not None else None
    tier_discount = money(subtotal * tier.discount_percent / 100) if tier and tier.discount_percent else Decimal("0.00")
    tier_parts = _allocate(tier_discount, amounts)
    line_dues = [amount - part for amount, part in zip(amounts, tier_parts, strict=True)]
    due = subtotal - tier_discount
    coupon_parts = [Decimal("0.00")] * len(lines)
    applier = coupon_applier()
    if codes and applier is not None:
        try:
            discounts = applier.discount(
                codes=codes, member=member, store=store, channel=channel, lines=lines, line_dues=line_dues, now=now
            )
        except ValidationError:
            if not offline:
                raise
            codes, discounts = [], coupon_parts
            reasons.append(Sale.ReviewReason.COUPON_UNAVAILABLE)
        coupon_parts = [min(d, money(part)) for d, part in zip(line_dues, discounts, strict=True)]
    coupon_discount = sum(coupon_parts, Decimal("0.00"))
    due -= coupon_discount

    max_points = max_redeemable_points(due=due, available=available, policy=policy) if member is not None else 0
    points_paid = Decimal("0.00")
    if points_to_redeem:
        if points_to_redeem % policy.redeem_step:
            raise _error("points", _("Redeem points in steps of %(step)d."), "invalid_points", step=policy.redeem_step)
        if offline and points_to_redeem > max_points:
            reasons.append(Sale.ReviewReason.POINTS_UNAVAILABLE)
            points_to_redeem = 0
        elif points_to_redeem > available:
            raise _error(
                "points",
                _("Not enough points: %(available)d available, %(wanted)d asked."),
                "insufficient_points",
                available=available,
                wanted=points_to_redeem,
            )
        elif points_to_redeem > max_points:
            raise _error(
                "points",
                _("Points may pay at most %(share)s%% of this sale."),
                "points_cap_exceeded",
                share=int(policy.redeem_max_share * 100),
            )
        points_paid = points_value(points_to_redeem, policy)
    return Pricing(
        subtotal=subtotal,
        tier=tier,
        tier_discount=tier_discount,
        line_dues=line_dues,
        coupon_parts=coupon_parts,
        coupon_discount=coupon_discount,
        codes=codes,
        max_points=max_points,
        points_to_redeem=points_to_redeem,
        points_value=points_paid,
        total_due=due - points_paid,
        reasons=reasons,
    )


def _earned(*, member: Member, store: Store, lines, pricing: Pricing, money_paid: Decimal, daily, now: datetime):
    today = timezone.localdate(now)
    return points_for_sale(
        rule=rule_for(store_id=store.pk, day=today),
        lines=[EarnLine(line.category, line.sku, net) for line, net in zip(lines, pricing.nets, strict=True)],
        money_paid=money_paid,
        day=today,
        birth_month=member.birth_month,
        tier=pricing.tier,
        earned_today=daily.points_earned if daily else 0,
        boosts=points_boosts(member=member, at=now),
    )


class _CouponLost(Exception):
    """Offline: the coupon was taken by another sale between pricing and claiming it."""


def _checkout(
    *,
    request_id,
    digest,
    store,
    cashier,
    member,
    lines,
    amounts,
    by_kind,
    codes,
    points_to_redeem,
    client_time,
    channel,
    offline=False,
    extra_reasons=(),
) -> Sale:
    now = timezone.now()
    policy = LoyaltySettings.current()
    account = wallet = stats = None
    if member is not None:
        # A duplicate of this request waits here on the lock; when it goes on, its insert of the
        # sale hits the unique request id and sale_checkout answers with the first sale.
        account = lock_points_account(member)
        if SaleTender.Kind.STORED_VALUE in by_kind:
            wallet = lock_wallet(member)
        stats = stats_for_update(member)

    tiers = all_tiers() if member is not None else []
    pricing = _price(
        store=store,
        member=member,
        lines=lines,
        amounts=amounts,
        codes=codes,
        points_to_redeem=points_to_redeem,
        channel=channel,
        available=account.available if account is not None else 0,
        tier_id=stats.tier_id if stats is not None else None,
        tiers=tiers,
        policy=policy,
        now=now,
        offline=offline,
    )
    reasons = [*extra_reasons, *pricing.reasons]
    asked = {"points": points_to_redeem, "coupons": codes, "stored_value": str(by_kind.get("stored_value", "0.00"))}
    codes, points_to_redeem = pricing.codes, pricing.points_to_redeem
    subtotal, tier_discount, coupon_discount = pricing.subtotal, pricing.tier_discount, pricing.coupon_discount
    coupon_parts, points_paid = pricing.coupon_parts, pricing.points_value
    applier = coupon_applier()
    by_kind = dict(by_kind)
    if offline and wallet is not None and by_kind[SaleTender.Kind.STORED_VALUE] > wallet.balance:
        del by_kind[SaleTender.Kind.STORED_VALUE]
        reasons.append(Sale.ReviewReason.STORED_VALUE_UNAVAILABLE)
    total_due = pricing.total_due
    tendered = sum(by_kind.values(), Decimal("0.00"))
    unsettled = Decimal("0.00")
    if tendered != total_due:
        if not offline:
            raise _error(
                "tenders",
                _("The tenders add up to ¥%(tendered)s but ¥%(due)s is due."),
                "tenders_mismatch",
                tendered=tendered,
                due=total_due,
            )
        # What was tendered is what the store has; the rest is for the manager to settle.
        unsettled, total_due = total_due - tendered, tendered
        reasons.append(Sale.ReviewReason.AMOUNT_DIFFERS)
    paid_principal = paid_bonus = Decimal("0.00")
    if SaleTender.Kind.STORED_VALUE in by_kind:
        paid_principal, paid_bonus = split_spend(wallet, by_kind[SaleTender.Kind.STORED_VALUE], policy)
    paid_money = total_due - paid_principal - paid_bonus

    nets = pricing.nets
    today = timezone.localdate(now)
    daily = earned = None
    if member is not None:
        daily = MemberDailySpend.objects.filter(member=member, day=today).first()
        money_paid = paid_money + (paid_principal if policy.wallet_earns_points else Decimal("0.00"))
        earned = _earned(
            member=member, store=store, lines=lines, pricing=pricing, money_paid=money_paid, daily=daily, now=now
        )

    sale = Sale.objects.create(
        request_id=request_id,
        payload_hash=digest,
        store=store,
        cashier=cashier,
        member=member,
        subtotal=subtotal,
        tier_discount=tier_discount,
        coupon_discount=coupon_discount,
        coupon_code=",".join(codes),
        points_redeemed=points_to_redeem,
        channel=channel,
        points_value=points_paid,
        total_due=total_due,
        paid_money=paid_money,
        paid_principal=paid_principal,
        paid_bonus=paid_bonus,
        points_earned=earned.points if earned else 0,
        points_eligible_amount=earned.eligible_amount if earned else Decimal("0.00"),
        unsettled_amount=unsettled,
        review_reasons=list(dict.fromkeys(reasons)),
        review_state=Sale.ReviewState.PENDING if reasons else Sale.ReviewState.NONE,
        client_time=client_time,
    )
    sale_lines = SaleLine.objects.bulk_create(
        [
            SaleLine(
                sale=sale,
                line_no=i,
                category=line.category,
                sku=line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=amount,
                net_amount=net,
            )
            for i, (line, amount, net) in enumerate(zip(lines, amounts, nets, strict=True), start=1)
        ]
    )
    sale_tenders = SaleTender.objects.bulk_create(
        [SaleTender(sale=sale, kind=kind, amount=amount) for kind, amount in by_kind.items()]
    )
    _known_children(sale, lines=sale_lines, tenders=sale_tenders)
    if codes and applier is not None:
        try:
            applier.redeem(codes=codes, sale=sale, line_discounts=coupon_parts)
        except ValidationError:
            if offline:
                raise _CouponLost from None
            raise
    if reasons:
        audit_record(
            actor=cashier,
            action="sale.offline_flagged",
            target=sale,
            store=store,
            data={
                "reasons": sale.review_reasons,
                "asked": asked,
                "points_redeemed": points_to_redeem,
                "coupons": codes,
                "total_due": str(total_due),
                "unsettled": str(unsettled),
            },
        )
    if member is None:
        return sale

    ctx = ledger.EntryContext(store_id=store.pk, staff_id=cashier.pk, sale_id=sale.pk)
    if points_to_redeem:
        ledger.debit(
            account,
            points=points_to_redeem,
            kind=PointsEntry.Kind.REDEEM,
            key=f"sale:{sale.pk}:redeem",
            ctx=ctx,
            now=now,
        )
    if paid_principal or paid_bonus:
        wallet_move(
            wallet,
            kind=WalletEntry.Kind.SPEND,
            principal=-paid_principal,
            bonus=-paid_bonus,
            key=f"sale:{sale.pk}:spend",
            store_id=store.pk,
            staff_id=cashier.pk,
            sale_id=sale.pk,
        )

    if earned.points:
        ledger.credit(
            account,
            points=earned.points,
            kind=PointsEntry.Kind.EARN,
            key=f"sale:{sale.pk}:earn",
            ctx=ctx,
            now=now,
            policy=policy,
        )

    if daily is None:
        MemberDailySpend.objects.create(
            member=member, day=today, spend=total_due, visits=1, points_earned=earned.points
        )
    else:
        MemberDailySpend.objects.filter(pk=daily.pk).update(
            spend=F("spend") + total_due, visits=F("visits") + 1, points_earned=F("points_earned") + earned.points
        )
    stats.purchase_count += 1
    stats.total_spend += total_due
    stats.first_purchase_at = stats.first_purchase_at or now
    stats.last_purchase_at = now
    stats.save(update_fields=["purchase_count", "total_spend", "first_purchase_at", "last_purchase_at"])
    tier_upgrade_after_sale(stats, sale=sale, now=now, tiers=tiers)
    referral_reward_for_sale(sale, policy=policy, now=now)
    for hook in _after_sale_hooks:
        hook(sale)
    return sale


_after_sale_hooks: list[Callable[[Sale], None]] = []


def register_after_sale_hook(hook: Callable[[Sale], None]) -> None:
    """For rewards that follow a purchase (referral bonus on the first one); runs inside the sale's transaction."""
    if hook not in _after_sale_hooks:
        _after_sale_hooks.append(hook)


@dataclass(frozen=True)
class SaleQuote:
    subtotal: Decimal
    tier_discount: Decimal
    coupon_discount: Decimal
    points_to_redeem: int
    points_value: Decimal
    max_points: int
    total_due: Decimal
    points_earned: int
    stored_value_available: Decimal
    redeem_points_per_yuan: int
    redeem_step: int


def sale_quote(
    *,
    store: Store,
    cashier,
    member: Member | None,
    lines: list[LineInput],
    coupon_codes: list[str] | None = None,
    points_to_redeem: int = 0,
    stored_value: Decimal = Decimal("0.00"),
    channel: str = Sale.Channel.STORE,
) -> SaleQuote:
    """What checkout would charge and award, without writing or locking anything. `points_earned`
    supposes `stored_value` (at most what is due) comes from the wallet and the rest is paid with money."""
    require_staff_can(cashier, Action.SELL, store)
    codes = _coupon_codes("", coupon_codes)
    amounts = _validate_lines(lines)
    if not isinstance(points_to_redeem, int) or points_to_redeem < 0:
        raise _error("points", _("Points to redeem cannot be negative."), "invalid_points")
    if member is None and (points_to_redeem or stored_value):
        raise _error("member", _("Points and stored value need a member."), "member_required")
    if stored_value < 0 or stored_value != money(stored_value):
        raise _error("stored_value", _("Tender amounts must be above zero, in cents."), "invalid_amount")
    if channel not in Sale.Channel.values:
        raise _error("channel", _("Unknown channel “%(channel)s”."), "invalid_channel", channel=str(channel)[:16])
    if codes and coupon_applier() is None:
        raise _error("coupon", _("Coupons are not available."), "coupon_invalid")
    now = timezone.now()
    policy = LoyaltySettings.current()
    account = stats = wallet = daily = None
    if member is not None:
        account = PointsAccount.objects.filter(pk=member.pk).first()
        stats = MemberStats.objects.filter(pk=member.pk).first()
        wallet = Wallet.objects.filter(pk=member.pk).first()
        daily = MemberDailySpend.objects.filter(member=member, day=timezone.localdate(now)).first()
    pricing = _price(
        store=store,
        member=member,
        lines=lines,
        amounts=amounts,
        codes=codes,
        points_to_redeem=points_to_redeem,
        channel=channel,
        available=account.available if account is not None else 0,
        tier_id=stats.tier_id if stats is not None else None,
        tiers=all_tiers() if member is not None else [],
        policy=policy,
        now=now,
    )
    money_paid = pricing.total_due
    if stored_value and member is not None:
        # Checkout's own split of a wallet payment: bonus (and principal, where the settings say so) earns nothing.
        principal, bonus = split_spend(wallet or Wallet(member=member), min(stored_value, pricing.total_due), policy)
        money_paid -= bonus + (Decimal("0.00") if policy.wallet_earns_points else principal)
    earned = (
        _earned(member=member, store=store, lines=lines, pricing=pricing, money_paid=money_paid, daily=daily, now=now)
        if member is not None
        else None
    )
    return SaleQuote(
        subtotal=pricing.subtotal,
        tier_discount=pricing.tier_discount,
        coupon_discount=pricing.coupon_discount,
        points_to_redeem=pricing.points_to_redeem,
        points_value=pricing.points_value,
        max_points=pricing.max_points,
        total_due=pricing.total_due,
        points_earned=earned.points if earned else 0,
        stored_value_available=wallet.balance if wallet is not None else Decimal("0.00"),
        redeem_points_per_yuan=policy.redeem_points_per_yuan,
        redeem_step=policy.redeem_step,
    )
