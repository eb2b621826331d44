"""The demo's salon and gym: cards sold and used through the services, a ledger that reconciles, idempotent."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from loyalty.reconcile import ledger_mismatches
from servicecards.models import Appointment, CardEntry, CardProduct, MemberCard, Room, ServiceStaff, WorkingHours
from stores.models import Store

pytestmark = pytest.mark.django_db


def run_demo(members=100) -> str:
    out = StringIO()
    call_command("demo", members=members, stdout=out, stderr=StringIO())
    return out.getvalue()


def counts() -> dict[str, int]:
    models = (MemberCard, CardEntry, ServiceStaff, WorkingHours, Room, Appointment)
    return {m.__name__: m.objects.count() for m in models}


def test_the_demo_sells_and_uses_cards_at_a_salon_and_a_gym_and_the_ledger_agrees():
    output = run_demo()

    salon, gym = Store.objects.get(code="SH101"), Store.objects.get(code="SZ201")
    assert (salon.name, gym.name) == ("静安美容店", "南山健身房")
    for login in ("manager_mr", "cashier_mr", "manager_js", "cashier_js"):
        assert login in output
    assert set(CardProduct.objects.values_list("kind", flat=True)) == {"count", "hours", "period"}
    wash = CardProduct.objects.get(code="WASH10")
    assert (wash.uses, wash.bonus_uses, wash.price, wash.validity_months) == (10, 2, 680, 12)
    assert ServiceStaff.objects.filter(job="coach").exists() and WorkingHours.objects.exists()
    # Every card came from a sale; its uses carry who performed them and, often, a note.
    cards = MemberCard.objects.all()
    assert cards.count() >= 8 and not cards.filter(sale__isnull=True).exists()
    uses = CardEntry.objects.filter(kind="use")
    assert uses.count() > cards.count()
    assert not uses.filter(performed_by__isnull=True).exists()
    assert any(entry.note for entry in uses)
    assert cards.filter(freezes__gt=0).exists() and cards.filter(status="refunded").exists()
    # The last weeks' visits were booked and are done with their use; the coming week has bookings.
    assert Appointment.objects.filter(status="done", use_entry__isnull=False).exists()
    assert Appointment.objects.filter(status="booked", starts_at__gt=timezone.now()).exists()
    out = StringIO()
    call_command("reconcile_ledger", stdout=out)
    assert "all balanced" in out.getvalue()
    assert ledger_mismatches() == []

    before = counts()
    again = run_demo()

    assert counts() == before
    assert "service cards already loaded" in again
