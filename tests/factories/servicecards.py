from datetime import timedelta
from decimal import Decimal

import factory

from servicecards.models import Appointment, CardProduct, Room, Service, ServiceStaff, WorkingHours


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


def member_card(member, *, product=None, store, uses=None, **fields):
    """A member's card as a sale would leave it (the card and its purchase entry), written with the ORM so
    tests need not wait for servicecards.services.cards."""
    from django.utils import timezone

    from servicecards.models import CardEntry, MemberCard

    recorded_by = fields.pop("recorded_by", None) or _anyone()
    product = product or CardProductFactory()
    total = product.total_uses if uses is None else Decimal(uses)
    card = MemberCard.objects.create(
        code=fields.pop("code", None) or f"C{MemberCard.objects.count() + 1:09d}",
        member=member,
        product=product,
        kind=product.kind,
        store=store,
        price_paid=product.price,
        uses_purchased=total,
        uses_remaining=None if product.kind == CardProduct.Kind.PERIOD else total,
        validity_months=product.validity_months,
        purchased_at=timezone.now(),
        **fields,
    )
    CardEntry.objects.create(
        card=card,
        member=member,
        kind=CardEntry.Kind.PURCHASE,
        uses=total,
        store=store,
        recorded_by=recorded_by,
    )
    return card


def _anyone():
    from tests.factories import StaffFactory

    return StaffFactory(role="cashier")


class AppointmentFactory(factory.django.DjangoModelFactory):
    """An appointment row written directly (no service, no checks): for the database's own refusals."""

    class Meta:
        model = Appointment

    request_id = factory.Sequence(lambda n: f"appointment-{n:06d}")
    status = Appointment.Status.BOOKED
    ends_at = factory.LazyAttribute(lambda a: a.starts_at + timedelta(minutes=a.service.duration_minutes))
    booked_by = factory.LazyFunction(_anyone)
