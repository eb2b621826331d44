"""Service cards' part of a member's data file (members.data_access): cards, their ledger with the service
records (notes included: they are about the member), and appointments."""

from members.data_access import _labelled, register_member_data, rows
from members.models import Member
from servicecards.models import Appointment, CardEntry, MemberCard


def _cards(member: Member) -> list[dict]:
    cards = rows(
        MemberCard.objects.filter(member=member).order_by("purchased_at", "id"),
        [
            "code",
            "product__name",
            "kind",
            "status",
            "store__code",
            "price_paid",
            "uses_purchased",
            "uses_bonus",
            "uses_remaining",
            "uses_taken",
            "purchased_at",
            "expires_at",
            "refunded_at",
        ],
    )
    return _labelled(MemberCard, cards, "status")


def _card_ledger(member: Member) -> list[dict]:
    entries = rows(
        CardEntry.objects.filter(member=member).order_by("created_at", "id"),
        [
            "id",
            "created_at",
            "card__code",
            "kind",
            "uses",
            "store__code",
            "service__name",
            "confirmation",
            "note",
            "reason",
        ],
    )
    return _labelled(CardEntry, entries, "kind")


def _appointments(member: Member) -> list[dict]:
    items = rows(
        Appointment.objects.filter(member=member).order_by("starts_at", "id"),
        ["id", "starts_at", "ends_at", "store__code", "service__name", "status", "channel", "note"],
    )
    return _labelled(Appointment, items, "status")


def register() -> None:
    register_member_data("service_cards", _cards)
    register_member_data("service_card_ledger", _card_ledger)
    register_member_data("appointments", _appointments)
