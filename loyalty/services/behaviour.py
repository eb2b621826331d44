"""Points for behaviour: daily sign-in with a streak bonus, a completed profile, reviews and
shares posted by an integration, and referrals (paid on the referred member's first qualifying
purchase, not at registration). Each reward has a unique ledger key, so it is given once."""

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import field_error as _error
from loyalty.models import LoyaltySettings, PointsEntry, ReferralReward, Sale, SignIn
from loyalty.services import points as ledger
from loyalty.services.locks import lock_points_account
from loyalty.services.policy import as_replay
from members.models import Member
from stores.models import Store
from stores.permissions import require_staff_can
from stores.roles import Action

EVENT_KINDS = ("review", "share")


def _active(member: Member) -> None:
    if member.is_frozen:
        raise _error("member", _("This member is frozen."), "member_frozen")


def _require_may_report_behaviour(actor, store: Store | None) -> None:
    # At a till, store staff sign a member in at their store; without a store the caller is an
    # integration (mini-program, shop) reporting chain-wide, which needs a back-office role.
    if store is not None:
        require_staff_can(actor, Action.LOOKUP_MEMBER, store)
    else:
        require_staff_can(actor, Action.EDIT_MEMBERS)


@transaction.atomic
def points_sign_in(*, member: Member, actor, store: Store | None = None, now: datetime | None = None) -> SignIn:
    """Sign in for today (local day). Signing in again the same day returns the first sign-in."""
    _require_may_report_behaviour(actor, store)
    _active(member)
    now = now or timezone.now()
    today = timezone.localdate(now)
    account = lock_points_account(member)
    existing = SignIn.objects.filter(member=member, day=today).first()
    if existing is not None:
        return as_replay(existing)
    policy = LoyaltySettings.current()
    yesterday = SignIn.objects.filter(member=member, day=today - timedelta(days=1)).first()
    streak = yesterday.streak + 1 if yesterday else 1
    points = policy.signin_points
    if policy.signin_streak_days and streak % policy.signin_streak_days == 0:
        points += policy.signin_streak_bonus
    sign_in = SignIn.objects.create(member=member, day=today, streak=streak, points=points)
    if points:
        ledger.credit(
            account,
            points=points,
            kind=PointsEntry.Kind.BEHAVIOUR,
            key=f"signin:{today.isoformat()}",
            ctx=ledger.EntryContext(reason=f"sign-in day {streak}"),
            now=now,
            policy=policy,
            pending=False,
        )
    return sign_in


def profile_is_complete(member: Member) -> bool:
    return bool(
        member.name and member.gender != Member.Gender.UNKNOWN and member.birthday and (member.email or member.address)
    )


def points_reward_completed_profile(member: Member) -> PointsEntry | None:
    """The members app's profile hook: reward the profile the first time it is complete, else nothing."""
    if member.is_frozen or not profile_is_complete(member):
        return None
    if LoyaltySettings.current().profile_completion_points <= 0:
        return None
    return points_profile_completed(member=member)


@transaction.atomic
def points_profile_completed(*, member: Member) -> PointsEntry:
    """Reward a completed profile (name, gender, birthday and an email or address), once."""
    _active(member)
    if not profile_is_complete(member):
        raise _error(
            "member",
            _("The profile is not complete: name, gender, birthday and an email or address are needed."),
            "profile_incomplete",
        )
    account = lock_points_account(member)
    existing = ledger.existing_entry(member.pk, "profile:complete")
    if existing is not None:
        return as_replay(existing)
    policy = LoyaltySettings.current()
    return ledger.credit(
        account,
        points=policy.profile_completion_points,
        kind=PointsEntry.Kind.BEHAVIOUR,
        key="profile:complete",
        ctx=ledger.EntryContext(reason="profile completed"),
        policy=policy,
        pending=False,
    )


@transaction.atomic
def points_behaviour_event(*, member: Member, kind: str, external_id: str, actor) -> PointsEntry:
    """A review or share reported by an integration; the same (kind, external_id) rewards once."""
    _require_may_report_behaviour(actor, None)
    _active(member)
    if kind not in EVENT_KINDS:
        raise _error("kind", _("Unknown event kind."), "invalid_event")
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 60:
        raise _error("external_id", _("Give the event's id (at most 60 characters)."), "invalid_event")
    key = f"event:{kind}:{external_id}"
    account = lock_points_account(member)
    existing = ledger.existing_entry(member.pk, key)
    if existing is not None:
        return as_replay(existing)
    policy = LoyaltySettings.current()
    points = policy.review_points if kind == "review" else policy.share_points
    if points <= 0:
        raise _error("kind", _("This event earns no points."), "invalid_event")
    return ledger.credit(
        account,
        points=points,
        kind=PointsEntry.Kind.BEHAVIOUR,
        key=key,
        ctx=ledger.EntryContext(reason=kind),
        policy=policy,
        pending=False,
    )


def _month_start(now: datetime) -> datetime:
    day = timezone.localdate(now).replace(day=1)
    return timezone.make_aware(datetime.combine(day, time.min))


_referral_hooks: list[Callable[[ReferralReward], None]] = []


def register_referral_rewarded_hook(hook: Callable[[ReferralReward], None]) -> None:
    """For what follows a successful referral (campaigns: an automation for the referrer); runs inside
    the sale's transaction."""
    if hook not in _referral_hooks:
        _referral_hooks.append(hook)


def referral_reward_for_sale(sale: Sale, *, policy: LoyaltySettings, now: datetime) -> ReferralReward | None:
    """Called by checkout, inside the sale's transaction, with the buyer's account locked.

    Both sides are rewarded on the referred member's first purchase of at least the qualifying
    amount, once; the referrer only up to the monthly cap and while active. Referrers registered
    before the members they refer, so taking the referrer's lock after the buyer's cannot form a cycle.
    """
    member = sale.member
    if member is None or member.referrer_id is None:
        return None
    if sale.paid_total < policy.referral_min_purchase:
        return None
    if ReferralReward.objects.filter(referred_id=member.pk).exists():
        return None
    referrer = Member.objects.get(pk=member.referrer_id)
    this_month = ReferralReward.objects.filter(
        referrer_id=referrer.pk, created_at__gte=_month_start(now), referrer_points__gt=0
    ).count()
    referrer_points = (
        policy.referral_referrer_points if not referrer.is_frozen and this_month < policy.referral_monthly_cap else 0
    )
    reward = ReferralReward.objects.create(
        referred=member,
        referrer=referrer,
        sale=sale,
        referrer_points=referrer_points,
        referred_points=policy.referral_referred_points,
    )
    ctx = ledger.EntryContext(store_id=sale.store_id, sale_id=sale.pk, reason="referral")
    if reward.referred_points:
        buyer_account = lock_points_account(member)
        ledger.credit(
            buyer_account,
            points=reward.referred_points,
            kind=PointsEntry.Kind.BEHAVIOUR,
            key="referral:referred",
            ctx=ctx,
            now=now,
            policy=policy,
        )
    if referrer_points:
        referrer_account = lock_points_account(referrer)
        ledger.credit(
            referrer_account,
            points=referrer_points,
            kind=PointsEntry.Kind.BEHAVIOUR,
            key=f"referral:referrer:{member.pk}",
            ctx=ctx,
            now=now,
            policy=policy,
        )
    for hook in _referral_hooks:
        hook(reward)
    return reward


def sign_in_streak(member: Member, *, today: date | None = None) -> int:
    today = today or timezone.localdate()
    latest = SignIn.objects.filter(member=member, day__gte=today - timedelta(days=1)).order_by("-day").first()
    return latest.streak if latest else 0
