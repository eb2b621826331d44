import datetime
import itertools
from decimal import Decimal

import factory
from django.utils import timezone

from servicecards.models import (
    Appointment,
    CardEntry,
    CardProduct,
    MemberCard,
    Room,
    Service,
    ServiceStaff,
    WorkingHours,
)


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = "洗护"
    duration_minutes = 60
    price = Decimal("88.00")


class CardProductFactory(factory.django.DjangoModelFactory):
    """10 次洗护卡 ¥680, valid 12 months from purchase, 买10送2 when given bonus_uses=2."""

    class Meta:
        model = CardProduct
        django_get_or_create = ["code"]
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"CARD{n:03d}")
    name = "10次洗护卡"
    kind = CardProduct.Kind.COUNT
    uses = Decimal("10")
    bonus_uses = Decimal("0")
    price = Decimal("680.00")
    validity_months = 12

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if create:
            self.services.set(extracted if extracted is not None else [ServiceFactory()])


class HoursCardProductFactory(CardProductFactory):
    name = "20课时私教卡"
    kind = CardProduct.Kind.HOURS
    uses = Decimal("20")
    price = Decimal("6000.00")


class PeriodCardProductFactory(CardProductFactory):
    name = "健身月卡"
    kind = CardProduct.Kind.PERIOD
    uses = Decimal("0")
    cap_per_day = 1
    price = Decimal("399.00")
    validity_months = 1


class ServiceStaffFactory(factory.django.DjangoModelFactory):
    """A therapist at `store` (a StaffFactory cashier there) who performs `services`."""

    class Meta:
        model = ServiceStaff
        skip_postgeneration_save = True

    job = ServiceStaff.Job.THERAPIST

    @factory.lazy_attribute
    def user(self):
        from tests.factories import StaffFactory

        return StaffFactory(role="cashier")

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if create and extracted:
            self.services.set(extracted)


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    name = factory.Sequence(lambda n: f"{n + 1}号房")


class WorkingHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkingHours


_card_numbers = itertools.count(1)


def member_card(
    member,
    product: CardProduct,
    store,
    *,
    uses_remaining: Decimal | None = None,
    uses_taken: Decimal | None = None,
    price_paid: Decimal | None = None,
    purchased_at: datetime.datetime | None = None,
    expires_at: datetime.datetime | None = None,
    status: str = MemberCard.Status.ACTIVE,
    recorded_by=None,
    service: Service | None = None,
) -> MemberCard:
    """A member's card made straight in the database, as card_sell would leave it: the product's terms,
    a purchase entry (and a bonus entry) and, when `uses_remaining` is below what was bought, one use
    entry taking the difference (at `store`, of `service` or the product's first service), so
    reconcile_ledger holds. `expires_at` defaults to the product's validity from `purchased_at`."""
    from tests.factories import StaffFactory

    purchased_at = purchased_at or timezone.now()
    period = product.kind == CardProduct.Kind.PERIOD
    total = product.uses + product.bonus_uses
    remaining = None if period else (total if uses_remaining is None else Decimal(uses_remaining))
    taken = Decimal(uses_taken) if uses_taken is not None else (Decimal(0) if period else total - remaining)
    if expires_at is None and product.validity_months:
        expires_at = purchased_at + datetime.timedelta(days=30 * product.validity_months)
    now = timezone.now()
    card = MemberCard.objects.create(
        code=f"SC{next(_card_numbers):08d}",
        member=member,
        product=product,
        kind=product.kind,
        store=store,
        price_paid=product.price if price_paid is None else Decimal(price_paid),
        uses_purchased=product.uses,
        uses_bonus=product.bonus_uses,
        uses_remaining=remaining,
        uses_taken=taken,
        cap_per_day=product.cap_per_day,
        cap_per_week=product.cap_per_week,
        validity_months=product.validity_months,
        status=status,
        purchased_at=purchased_at,
        activated_at=purchased_at,
        expires_at=expires_at,
        frozen_at=now if status == MemberCard.Status.FROZEN else None,
        refunded_at=now if status == MemberCard.Status.REFUNDED else None,
        last_used_at=purchased_at if taken else None,
    )
    recorded_by = recorded_by or StaffFactory(role="cashier", stores=[store])
    entries = [CardEntry(kind=CardEntry.Kind.PURCHASE, uses=product.uses)]
    if product.bonus_uses:
        entries.append(CardEntry(kind=CardEntry.Kind.BONUS, uses=product.bonus_uses))
    if taken:
        entries.append(CardEntry(kind=CardEntry.Kind.USE, uses=-taken, service=service or product.services.first()))
    for entry in entries:
        entry.card, entry.member, entry.store, entry.recorded_by = card, member, store, recorded_by
    made = CardEntry.objects.bulk_create(entries)
    CardEntry.objects.filter(pk__in=[e.pk for e in made if e.pk]).update(created_at=purchased_at)
    if any(e.pk is None for e in made):  # SQLite before RETURNING: set the times by card
        CardEntry.objects.filter(card=card, kind__in=["purchase", "bonus"]).update(created_at=purchased_at)
    return card


def card_use_entry(
    card: MemberCard,
    *,
    at: datetime.datetime,
    uses: Decimal = Decimal(1),
    service=None,
    performed_by=None,
    store=None,
    recorded_by=None,
) -> CardEntry:
    """One more use of `card` at `at`, its cached figures kept equal to the ledger."""
    from tests.factories import StaffFactory

    store = store or card.store
    entry = CardEntry.objects.create(
        card=card,
        member=card.member,
        kind=CardEntry.Kind.USE,
        uses=-Decimal(uses),
        store=store,
        recorded_by=recorded_by or performed_by or StaffFactory(role="cashier", stores=[store]),
        performed_by=performed_by,
        service=service or card.product.services.first(),
    )
    CardEntry.objects.filter(pk=entry.pk).update(created_at=at)
    card.uses_taken += Decimal(uses)
    if card.uses_remaining is not None:
        card.uses_remaining -= Decimal(uses)
    card.last_used_at = at
    card.save(update_fields=["uses_taken", "uses_remaining", "last_used_at"])
    entry.refresh_from_db()
    return entry


def _anyone():
    from tests.factories import StaffFactory

    return StaffFactory(role="cashier")


class AppointmentFactory(factory.django.DjangoModelFactory):
    """An appointment row written directly (no service, no checks): for the database's own refusals."""

    class Meta:
        model = Appointment

    request_id = factory.Sequence(lambda n: f"appointment-{n:06d}")
    status = Appointment.Status.BOOKED
    ends_at = factory.LazyAttribute(lambda a: a.starts_at + datetime.timedelta(minutes=a.service.duration_minutes))
    booked_by = factory.LazyFunction(_anyone)
