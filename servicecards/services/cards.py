"""Selling, using and managing members' service cards.

A card's balance (`uses_remaining`, `uses_taken`) changes only here, by a conditional UPDATE under the
card's row lock, beside the CardEntry that says why; reconcile_ledger proves the two agree.

Lock order: the card, then (a refund) the sale, then the member's points account and wallet, as the
refund machinery takes them. No path locks a sale or an account and then a card.
"""

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import field_error as _error
from loyalty.models import Refund, Sale
from loyalty.services.checkout import LineInput, TenderInput, sale_checkout, sale_quote
from loyalty.services.idempotency import payload_hash, replay, validate_request_id
from loyalty.services.policy import add_months, end_of_local_day, money
from loyalty.services.refunds import sale_refund
from members.models import Member
from servicecards.models import CardEntry, CardProduct, CardSettings, MemberCard, Service
from servicecards.services.confirmation import use_code_accepted
from stores.models import StaffProfile, Store
from stores.permissions import require_staff_can
from stores.roles import Action
from stores.services import audit_record

CARD_CATEGORY = "服务卡"
MAX_USES_AT_ONCE = Decimal("100")
MAX_SIGNATURE_CHARS = 300_000


@dataclass(frozen=True)
class CardSale:
    sale: Sale
    card: MemberCard
    replayed: bool = False


@dataclass(frozen=True)
class CardRefundQuote:
    """What a refund of the card pays back now: the paid price pro rata of what is left, less the fee."""

    refundable: Decimal
    fee: Decimal
    amount: Decimal
    uses_refunded: Decimal | None


def lock_card(card: MemberCard | int) -> MemberCard:
    return (
        MemberCard.objects.select_for_update(of=("self",))
        .select_related("product", "member")
        .get(pk=card if isinstance(card, int) else card.pk)
    )


def _new_card_code() -> str:
    return "K" + "".join(secrets.choice("0123456789") for _digit in range(11))


def _expiry(start: datetime, months: int) -> datetime | None:
    if not months:
        return None
    return end_of_local_day(add_months(timezone.localtime(start).date(), months))


# Selling ---------------------------------------------------------------------------------------------


def card_sell(
    *,
    request_id: str,
    store: Store,
    cashier,
    member: Member,
    product: CardProduct,
    tenders: list[TenderInput],
    coupon_code: str = "",
    points_to_redeem: int = 0,
) -> CardSale:
    """Sell `product` to `member` at `store`: a sale of one line (so money, stored value, points and
    coupons work as for any sale, and points are earned by the earning rules), and the card with its
    purchase and bonus entries. The same request id again answers the first sale and its card."""
    if member is None:
        raise _error("member", _("A card is sold to a member."), "member_required")
    if not product.is_active:
        raise _error("product", _("This card is no longer on sale."), "product_inactive")
    line = LineInput(category=CARD_CATEGORY, quantity=Decimal(1), unit_price=product.price, sku=product.code)
    with transaction.atomic():
        sale = sale_checkout(
            request_id=request_id,
            store=store,
            cashier=cashier,
            member=member,
            lines=[line],
            tenders=tenders,
            coupon_code=coupon_code,
            points_to_redeem=points_to_redeem,
        )
        if getattr(sale, "replayed", False):
            card = MemberCard.objects.select_related("product").get(sale=sale)
            return CardSale(sale=sale, card=card, replayed=True)
        sale_line = sale.lines.get()
        now = timezone.now()
        period = product.kind == CardProduct.Kind.PERIOD
        starts_now = product.valid_from == CardProduct.ValidFrom.PURCHASE
        card = MemberCard(
            member=member,
            product=product,
            kind=product.kind,
            store=store,
            sale=sale,
            sale_line=sale_line,
            price_paid=sale_line.net_amount,
            uses_purchased=product.uses,
            uses_bonus=product.bonus_uses,
            uses_remaining=None if period else product.uses + product.bonus_uses,
            cap_per_day=product.cap_per_day,
            cap_per_week=product.cap_per_week,
            validity_months=product.validity_months,
            purchased_at=now,
            activated_at=now if starts_now else None,
            expires_at=_expiry(now, product.validity_months) if starts_now else None,
        )
        for _attempt in range(5):
            card.code = _new_card_code()
            try:
                with transaction.atomic():
                    card.save(force_insert=True)
                break
            except IntegrityError:
                if MemberCard.objects.filter(sale_line=sale_line).exists():
                    raise
                card.pk = None
        else:
            raise RuntimeError("no free card number after 5 tries")
        entries = [CardEntry(kind=CardEntry.Kind.PURCHASE, uses=product.uses)]
        if product.bonus_uses:
            entries.append(CardEntry(kind=CardEntry.Kind.BONUS, uses=product.bonus_uses))
        for entry in entries:
            entry.card = card
            entry.member = member
            entry.store = store
            entry.recorded_by = cashier
        CardEntry.objects.bulk_create(entries)
    return CardSale(sale=sale, card=card)


def card_sale_refund_guard(sale: Sale) -> str:
    """Registered with loyalty's refunds: a card is refunded with its uses, through card_refund."""
    if (
        sale.lines.filter(category=CARD_CATEGORY).exclude(sku="").exists()
        and MemberCard.objects.filter(sale=sale).exists()
    ):
        return _("This sale sold a service card: refund the card from the member's cards.")
    return ""


# Using -----------------------------------------------------------------------------------------------


def card_is_usable(
    card: MemberCard, *, store: Store, service: Service | None = None, at: datetime | None = None
) -> str:
    """Why `card` cannot be used at `store` for `service` now, or "" when it can."""
    at = at or timezone.now()
    if card.status == MemberCard.Status.REFUNDED:
        return _("This card was refunded.")
    if card.status == MemberCard.Status.FROZEN:
        return _("This card is frozen.")
    if card.member.is_frozen:
        return _("This member's account is frozen.")
    if card.expires_at is not None and card.expires_at <= at:
        return _("This card expired after %(day)s.") % {"day": card.valid_until.isoformat()}
    if card.uses_remaining is not None and card.uses_remaining <= 0:
        return _("No uses are left on this card.")
    product = card.product
    store_ids = [s.pk for s in product.stores.all()]
    if store_ids and store.pk not in store_ids:
        return _("This card cannot be used at this store.")
    if service is not None and service.pk not in {s.pk for s in product.services.all()}:
        return _("This card does not cover %(service)s.") % {"service": service.name}
    return ""


def _check_uses(card: MemberCard, uses) -> Decimal:
    if not isinstance(uses, Decimal):
        try:
            uses = Decimal(str(uses))
        except ArithmeticError:
            raise _error("uses", _("Give the number of uses, e.g. 1 or 1.5."), "invalid_uses") from None
    if not uses.is_finite() or uses <= 0 or uses > MAX_USES_AT_ONCE or uses != uses.quantize(Decimal("0.01")):
        raise _error("uses", _("Uses are above zero, at most 100, in hundredths."), "invalid_uses")
    if card.kind in (CardProduct.Kind.COUNT, CardProduct.Kind.PERIOD) and uses != uses.to_integral_value():
        raise _error("uses", _("This card is used in whole uses."), "invalid_uses")
    return uses


def _check_confirmation(card: MemberCard, *, confirmation: str, code: str, signature: str) -> str:
    asked = CardSettings.current().use_confirmation
    if asked == CardSettings.Confirmation.NONE:
        return ""
    accepts = {
        CardSettings.Confirmation.CODE: {"code"},
        CardSettings.Confirmation.SIGNATURE: {"signature"},
        CardSettings.Confirmation.EITHER: {"code", "signature"},
    }[asked]
    if confirmation not in accepts:
        raise _error("confirmation", _("The member must confirm this use."), "confirmation_required")
    if confirmation == "signature":
        if not isinstance(signature, str) or not signature.startswith("data:image/png;base64,"):
            raise _error("signature", _("The member's signature is missing."), "signature_required")
        if len(signature) > MAX_SIGNATURE_CHARS:
            raise _error("signature", _("The signature is too large."), "signature_too_large")
        return "signature"
    if not use_code_accepted(card=card, code=code):
        raise _error("confirmation_code", _("The code is wrong or has expired."), "code_invalid")
    return "code"


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _check_caps(card: MemberCard, uses: Decimal, now: datetime) -> None:
    if card.cap_per_day is None and card.cap_per_week is None:
        return
    today = timezone.localtime(now).date()
    taken = CardEntry.objects.filter(card=card, kind__in=["use", "reversal", "no_show"])
    for cap, since, message in (
        (card.cap_per_day, today, _("This card allows %(cap)s use(s) a day.")),
        (card.cap_per_week, _week_start(today), _("This card allows %(cap)s use(s) a week.")),
    ):
        if cap is None:
            continue
        start = end_of_local_day(since - timedelta(days=1))
        used = -(taken.filter(created_at__gte=start).aggregate(total=Sum("uses"))["total"] or 0)
        if used + uses > cap:
            raise _error("uses", message % {"cap": cap}, "cap_reached")


def _check_performer(performed_by, *, store: Store, service: Service):
    if performed_by is None:
        return None
    staff = getattr(performed_by, "service_staff", None)
    if staff is None or not performed_by.is_active:
        raise _error("performed_by", _("Choose a member of service staff."), "invalid_staff")
    if not StaffProfile.objects.filter(user=performed_by, stores=store).exists():
        raise _error("performed_by", _("This member of staff does not work at this store."), "invalid_staff")
    if not staff.services.filter(pk=service.pk).exists():
        raise _error("performed_by", _("This member of staff does not perform this service."), "invalid_staff")
    return performed_by


def card_use(
    *,
    request_id: str,
    card: MemberCard,
    store: Store,
    actor,
    service: Service,
    uses: Decimal = Decimal(1),
    performed_by=None,
    note: str = "",
    confirmation: str = "",
    confirmation_code: str = "",
    signature: str = "",
) -> CardEntry:
    """Record a use of `card` at `store`: `uses` of `service`, performed by `performed_by`, with the
    staff's `note` (the service record). Two tablets can never take the last use twice."""
    validate_request_id(request_id)
    require_staff_can(actor, Action.USE_SERVICE_CARD, store)
    note = (note or "").strip()
    digest = payload_hash(
        card=card.pk,
        store=store.pk,
        service=service.pk,
        uses=str(uses),
        performed_by=performed_by.pk if performed_by else None,
        note=note,
    )
    existing = CardEntry.objects.filter(request_id=request_id).first()
    if existing is not None:
        return replay(
            existing,
            same=existing.payload_hash == digest,
            actor=actor,
            action=Action.USE_SERVICE_CARD,
            store=existing.store,
        )
    uses = _check_uses(card, uses)
    if len(note) > 2000:
        raise _error("note", _("A note has at most 2,000 characters."), "max_length")
    performed_by = _check_performer(performed_by, store=store, service=service)
    try:
        with transaction.atomic():
            card = lock_card(card)
            refusal = card_is_usable(card, store=store, service=service)
            if refusal:
                raise _error("card", refusal, "card_unusable")
            if card.uses_remaining is not None and card.uses_remaining < uses:
                raise _error(
                    "uses",
                    _("Only %(left)s use(s) are left on this card.") % {"left": card.uses_remaining.normalize()},
                    "not_enough_uses",
                )
            now = timezone.now()
            _check_caps(card, uses, now)
            how = _check_confirmation(card, confirmation=confirmation, code=confirmation_code, signature=signature)
            changes = {"uses_taken": F("uses_taken") + uses, "last_used_at": now}
            condition = Q(pk=card.pk, status=MemberCard.Status.ACTIVE)
            if card.uses_remaining is not None:
                changes["uses_remaining"] = F("uses_remaining") - uses
                condition &= Q(uses_remaining__gte=uses)
            if card.activated_at is None:
                changes["activated_at"] = now
                changes["expires_at"] = _expiry(now, card.validity_months)
            # The lock already serialises uses of this card; the condition is the database's own word that
            # the last use is never taken twice, whatever path writes next.
            if MemberCard.objects.filter(condition).update(**changes) != 1:
                raise _error("uses", _("No uses are left on this card."), "not_enough_uses")
            return CardEntry.objects.create(
                card=card,
                member=card.member,
                kind=CardEntry.Kind.USE,
                uses=-uses,
                request_id=request_id,
                payload_hash=digest,
                store=store,
                recorded_by=actor,
                performed_by=performed_by or actor,
                service=service,
                confirmation=how,
                note=note,
                signature=signature if how == "signature" else "",
            )
    except IntegrityError:
        existing = CardEntry.objects.filter(request_id=request_id).first()
        if existing is None:
            raise
        return replay(
            existing,
            same=existing.payload_hash == digest,
            actor=actor,
            action=Action.USE_SERVICE_CARD,
            store=existing.store,
        )


def card_use_reverse(*, request_id: str, entry: CardEntry, actor, reason: str) -> CardEntry:
    """Undo a use recorded by mistake: a manager of the use's store, the same day, with a reason."""
    validate_request_id(request_id)
    require_staff_can(actor, Action.MANAGE_SERVICE_CARDS, entry.store)
    digest = payload_hash(entry=entry.pk, reason=reason)
    existing = CardEntry.objects.filter(request_id=request_id).first()
    if existing is not None:
        return replay(
            existing,
            same=existing.payload_hash == digest,
            actor=actor,
            action=Action.MANAGE_SERVICE_CARDS,
            store=existing.store,
        )
    if entry.kind != CardEntry.Kind.USE:
        raise _error("entry", _("Only a use can be reversed."), "not_a_use")
    if not reason or not reason.strip():
        raise _error("reason", _("Give a reason."), "reason_required")
    if timezone.localtime(entry.created_at).date() != timezone.localdate():
        raise _error("entry", _("A use can only be reversed on the day it was recorded."), "reversal_too_late")
    uses = -entry.uses
    try:
        with transaction.atomic():
            card = lock_card(entry.card_id)
            if card.status == MemberCard.Status.REFUNDED:
                raise _error("entry", _("This card was refunded."), "card_unusable")
            if CardEntry.objects.filter(reverses=entry).exists():
                raise _error("entry", _("This use was already reversed."), "already_reversed")
            changes = {"uses_taken": F("uses_taken") - uses}
            if card.uses_remaining is not None:
                changes["uses_remaining"] = F("uses_remaining") + uses
            MemberCard.objects.filter(pk=card.pk).update(**changes)
            reversal = CardEntry.objects.create(
                card=card,
                member=entry.member,
                kind=CardEntry.Kind.REVERSAL,
                uses=uses,
                request_id=request_id,
                payload_hash=digest,
                store=entry.store,
                recorded_by=actor,
                service=entry.service,
                reverses=entry,
                reason=reason.strip()[:255],
            )
            audit_record(
                actor=actor,
                action="service_card.use_reversed",
                target=card,
                store=entry.store,
                reason=reason.strip(),
                data={"entry": entry.pk, "uses": str(uses)},
            )
            return reversal
    except IntegrityError:
        existing = CardEntry.objects.filter(request_id=request_id).first()
        if existing is None:
            raise _error("entry", _("This use was already reversed."), "already_reversed") from None
        return replay(
            existing,
            same=existing.payload_hash == digest,
            actor=actor,
            action=Action.MANAGE_SERVICE_CARDS,
            store=existing.store,
        )


def card_charge_no_show(*, card: MemberCard, store: Store, actor, key: str, uses: Decimal) -> CardEntry | None:
    """Take what a missed appointment costs by the chain's rule (at most what is left), once per `key`."""
    existing = CardEntry.objects.filter(request_id=key).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        card = lock_card(card)
        if card.status == MemberCard.Status.REFUNDED or uses <= 0:
            return None
        take = uses if card.uses_remaining is None else min(uses, card.uses_remaining)
        if take <= 0:
            return None
        changes = {"uses_taken": F("uses_taken") + take}
        if card.uses_remaining is not None:
            changes["uses_remaining"] = F("uses_remaining") - take
        MemberCard.objects.filter(pk=card.pk).update(**changes)
        return CardEntry.objects.create(
            card=card,
            member=card.member,
            kind=CardEntry.Kind.NO_SHOW,
            uses=-take,
            request_id=key,
            store=store,
            recorded_by=actor,
            reason=_("Missed appointment"),
        )


# Managing --------------------------------------------------------------------------------------------


def _manager_at(actor, store: Store, card: MemberCard) -> None:
    require_staff_can(actor, Action.MANAGE_SERVICE_CARDS, store)
    store_ids = [s.pk for s in card.product.stores.all()]
    if store_ids and store.pk not in store_ids and card.store_id != store.pk:
        raise _error("card", _("This card cannot be used at this store."), "card_elsewhere")


def _reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise _error("reason", _("Give a reason."), "reason_required")
    return reason.strip()[:255]


@transaction.atomic
def card_freeze(*, card: MemberCard, actor, store: Store, reason: str) -> MemberCard:
    """Pause the card (a member travelling, an injury): its expiry moves on by the days it stays frozen,
    within the chain's limits of freezes and frozen days per card."""
    reason = _reason(reason)
    card = lock_card(card)
    _manager_at(actor, store, card)
    policy = CardSettings.current()
    if card.status != MemberCard.Status.ACTIVE:
        raise _error("card", _("Only an active card can be frozen."), "card_not_active")
    if card.expires_at is not None and card.expires_at <= timezone.now():
        raise _error("card", _("This card has expired."), "card_expired")
    if card.freezes >= policy.freeze_max_times:
        raise _error(
            "card", _("This card was already frozen %(times)s times.") % {"times": card.freezes}, "freeze_limit"
        )
    if card.frozen_days >= policy.freeze_max_days:
        raise _error("card", _("This card has used all its frozen days."), "freeze_limit")
    now = timezone.now()
    MemberCard.objects.filter(pk=card.pk, status=MemberCard.Status.ACTIVE).update(
        status=MemberCard.Status.FROZEN, frozen_at=now, freeze_reason=reason, freezes=F("freezes") + 1
    )
    audit_record(actor=actor, action="service_card.frozen", target=card, store=store, reason=reason)
    card.refresh_from_db()
    return card


@transaction.atomic
def card_unfreeze(*, card: MemberCard, actor, store: Store) -> MemberCard:
    """Use the card again; its expiry moves by the days it was frozen (at most the days the chain allows)."""
    card = lock_card(card)
    _manager_at(actor, store, card)
    if card.status != MemberCard.Status.FROZEN:
        raise _error("card", _("This card is not frozen."), "card_not_frozen")
    policy = CardSettings.current()
    days = (timezone.localdate() - timezone.localtime(card.frozen_at).date()).days
    days = max(0, min(days, policy.freeze_max_days - card.frozen_days))
    changes = {"status": MemberCard.Status.ACTIVE, "frozen_at": None, "frozen_days": F("frozen_days") + days}
    if card.expires_at is not None:
        changes["expires_at"] = card.expires_at + timedelta(days=days)
    MemberCard.objects.filter(pk=card.pk, status=MemberCard.Status.FROZEN).update(**changes)
    audit_record(actor=actor, action="service_card.unfrozen", target=card, store=store, data={"days": days})
    card.refresh_from_db()
    return card


@transaction.atomic
def card_extend(*, card: MemberCard, actor, store: Store, until: date, reason: str) -> MemberCard:
    """Move the card's expiry to the end of `until` (a goodwill gesture, a closed store)."""
    reason = _reason(reason)
    card = lock_card(card)
    _manager_at(actor, store, card)
    if card.status == MemberCard.Status.REFUNDED:
        raise _error("card", _("This card was refunded."), "card_unusable")
    if not isinstance(until, date) or until <= timezone.localdate():
        raise _error("until", _("Choose a day after today."), "invalid_date")
    new_expiry = end_of_local_day(until)
    if card.expires_at is not None and new_expiry <= card.expires_at:
        raise _error("until", _("The card already runs until then."), "invalid_date")
    before = card.expires_at
    MemberCard.objects.filter(pk=card.pk).update(
        expires_at=new_expiry, activated_at=card.activated_at or timezone.now()
    )
    audit_record(
        actor=actor,
        action="service_card.extended",
        target=card,
        store=store,
        reason=reason,
        data={"from": before.isoformat() if before else None, "to": new_expiry.isoformat()},
    )
    card.refresh_from_db()
    return card


@transaction.atomic
def card_transfer(*, card: MemberCard, actor, store: Store, to_member: Member, reason: str) -> MemberCard:
    """Give the card, with what is left on it, to another member (where the product allows it)."""
    reason = _reason(reason)
    card = lock_card(card)
    _manager_at(actor, store, card)
    if not card.product.transferable:
        raise _error("card", _("This card cannot be transferred."), "not_transferable")
    if card.status != MemberCard.Status.ACTIVE:
        raise _error("card", _("Only an active card can be transferred."), "card_not_active")
    if to_member is None or to_member.pk == card.member_id:
        raise _error("to_member", _("Choose another member."), "invalid_member")
    if to_member.is_frozen:
        raise _error("to_member", _("This member's account is frozen."), "member_frozen")
    from_member = card.member
    MemberCard.objects.filter(pk=card.pk).update(member=to_member)
    audit_record(
        actor=actor,
        action="service_card.transferred",
        target=card,
        store=store,
        reason=reason,
        data={"from": from_member.code, "to": to_member.code},
    )
    card.refresh_from_db()
    return card


# Refunding -------------------------------------------------------------------------------------------


def card_refund_quote(card: MemberCard, *, policy: CardSettings | None = None) -> CardRefundQuote:
    """The paid price pro rata of the purchased uses still unused (bonus uses are given up first: they were
    a gift for using the card), or of the validity left for a period card, less the chain's fee."""
    policy = policy or CardSettings.current()
    if card.uses_remaining is not None:
        unused = max(Decimal(0), min(card.uses_remaining, card.uses_purchased))
        share = unused / card.uses_purchased if card.uses_purchased else Decimal(0)
    elif card.activated_at is None or card.expires_at is None:
        unused, share = None, Decimal(1)
    else:
        total = (card.expires_at - card.activated_at).total_seconds()
        left = max(0.0, (card.expires_at - timezone.now()).total_seconds())
        unused, share = None, Decimal(str(left / total)) if total > 0 else Decimal(0)
    refundable = money(card.price_paid * share)
    fee = money(refundable * policy.refund_fee_percent / 100)
    return CardRefundQuote(refundable=refundable, fee=fee, amount=refundable - fee, uses_refunded=unused)


def card_refund(*, request_id: str, card: MemberCard, actor, store: Store, reason: str, approver=None) -> Refund:
    """Refund the card through the sale refund machinery (money, stored value and points go back as for any
    refund, at the sale's store, with its approvals and window) and close it: its uses left are taken."""
    policy = CardSettings.current()
    if not policy.refunds_allowed:
        raise _error("card", _("This chain does not refund cards."), "refunds_not_allowed")
    if card.sale_id is None:
        raise _error("card", _("This card was not sold through a sale and cannot be refunded here."), "no_sale")
    with transaction.atomic():
        card = lock_card(card)
        sale = card.sale
        if card.status == MemberCard.Status.REFUNDED:
            refund = Refund.objects.filter(request_id=request_id, sale=sale).first()
            if refund is not None:
                return sale_refund(
                    request_id=request_id,
                    sale=sale,
                    actor=actor,
                    reason=reason,
                    amount=refund.amount,
                    approver=approver,
                    store=store,
                    guarded=True,
                )
            raise _error("card", _("This card was already refunded."), "already_refunded")
        quote = card_refund_quote(card, policy=policy)
        if quote.amount <= 0:
            raise _error("card", _("Nothing is left to refund on this card."), "nothing_to_refund")
        refund = sale_refund(
            request_id=request_id,
            sale=sale,
            actor=actor,
            reason=reason,
            amount=quote.amount,
            approver=approver,
            store=store,
            guarded=True,
        )
        now = timezone.now()
        changes = {"status": MemberCard.Status.REFUNDED, "refunded_at": now, "frozen_at": None}
        if card.uses_remaining:
            changes["uses_remaining"] = Decimal(0)
            CardEntry.objects.create(
                card=card,
                member=card.member,
                kind=CardEntry.Kind.REFUND,
                uses=-card.uses_remaining,
                store=store,
                recorded_by=actor,
                reason=reason.strip()[:255],
            )
        MemberCard.objects.filter(pk=card.pk).update(**changes)
        audit_record(
            actor=actor,
            action="service_card.refunded",
            target=card,
            store=store,
            reason=reason.strip(),
            data={
                "refund": refund.pk,
                "refundable": str(quote.refundable),
                "fee": str(quote.fee),
                "amount": str(quote.amount),
                "uses": str(card.uses_remaining) if card.uses_remaining is not None else None,
            },
        )
        return refund


def card_sale_quote(
    *,
    store: Store,
    cashier,
    member: Member,
    product: CardProduct,
    coupon_code: str = "",
    points_to_redeem: int = 0,
    stored_value: Decimal = Decimal("0.00"),
):
    """What selling `product` to `member` would charge (the sale's line as card_sell rings it up), so a till
    can show the amount due and split the tenders before confirming. Writes nothing."""
    if member is None:
        raise _error("member", _("A card is sold to a member."), "member_required")
    if not product.is_active:
        raise _error("product", _("This card is no longer on sale."), "product_inactive")
    line = LineInput(category=CARD_CATEGORY, quantity=Decimal(1), unit_price=product.price, sku=product.code)
    return sale_quote(
        store=store,
        cashier=cashier,
        member=member,
        lines=[line],
        coupon_codes=[coupon_code] if coupon_code else [],
        points_to_redeem=points_to_redeem,
        stored_value=stored_value,
    )
