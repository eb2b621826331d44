"""Reads of the service cards app: a member's cards, what they can use, their service history."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from members.models import Member
from servicecards.models import CardEntry, MemberCard, Service
from stores.models import Store


def member_cards(member: Member) -> QuerySet[MemberCard]:
    """Every card of the member, newest first, with what the card page shows."""
    return (
        MemberCard.objects.filter(member=member)
        .select_related("product", "store")
        .prefetch_related("product__services", "product__stores")
        .order_by("-purchased_at", "-id")
    )


def usable_cards(member: Member, *, store: Store, service: Service | None = None) -> QuerySet[MemberCard]:
    """The member's active, unexpired cards with uses left, usable at `store` (and for `service`)."""
    cards = member_cards(member).filter(status=MemberCard.Status.ACTIVE)
    cards = cards.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    cards = cards.filter(Q(uses_remaining__isnull=True) | Q(uses_remaining__gt=0))
    cards = cards.filter(Q(product__stores__isnull=True) | Q(product__stores=store))
    if service is not None:
        cards = cards.filter(product__services=service)
    return cards.distinct()


def card_entries(card: MemberCard) -> QuerySet[CardEntry]:
    return (
        CardEntry.objects.filter(card=card)
        .select_related("store", "service", "performed_by", "recorded_by", "reverses", "reversed_by")
        .order_by("-created_at", "-id")
    )


def service_history(member: Member) -> QuerySet[CardEntry]:
    """服务记录: the member's card uses (what, when, where, by whom, the staff's note), newest first."""
    return (
        CardEntry.objects.filter(member=member, kind=CardEntry.Kind.USE)
        .select_related("card__product", "store", "service", "performed_by")
        .order_by("-created_at", "-id")
    )
