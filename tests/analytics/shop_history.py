"""A small shop history for the store, staff, campaign and referral dashboards' tests, made through the
real services (checkout, refunds, top-ups) on a settable clock: import the fixtures by name."""

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from loyalty.services import LineInput, TenderInput, sale_checkout, sale_refund, wallet_top_up
from stores.models import AuditEntry
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory
from tests.loyalty.clock import Clock, local

MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


def rid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 3, 15, 12, 0))


@pytest.fixture
def rules(db):
    """100 points a ¥1 at the till; 1 point a ¥1 earned."""
    return LoyaltySettingsFactory(), EarningRuleFactory(points_per_yuan=Decimal("1.00"))


def join(clock, **kwargs):
    """A member registered through the service now on the test's clock (the registration time's default
    is the real clock, bound when the model was defined)."""
    from members.models import Member
    from tests.factories import MemberFactory

    member = MemberFactory(**kwargs)
    Member.objects.filter(pk=member.pk).update(registered_at=clock.now)
    member.registered_at = clock.now
    return member


def sell(member, amount, *, store, cashier, coupons=(), cash=None, points=0):
    """A sale of one line of ¥`amount`, paid in cash (`cash`, the amount when left out)."""
    cash = Decimal(str(amount if cash is None else cash))
    return sale_checkout(
        request_id=rid(),
        store=store,
        cashier=cashier,
        member=member,
        lines=[LineInput(category="服装", quantity=Decimal("1"), unit_price=Decimal(str(amount)))],
        tenders=[TenderInput("cash", cash)] if cash else [],
        coupon_codes=list(coupons),
        points_to_redeem=points,
    )


def refund(sale, amount, *, actor):
    return sale_refund(request_id=rid(), sale=sale, actor=actor, reason="退货", amount=Decimal(str(amount)))


def top_up(member, amount, *, store, staff):
    return wallet_top_up(
        request_id=rid(), member=member, store=store, staff=staff, tender="cash", amount=Decimal(str(amount))
    )


def read(client, user, slug: str, **params):
    """The dashboard's page as `user` reads it (in English); None: whoever is logged in already."""
    if user is not None:
        client.force_login(user)
    return client.get(reverse("analytics_dashboard", args=[slug]), {**MARCH, **params}, HTTP_ACCEPT_LANGUAGE="en")


def rows_by(table) -> dict:
    """The table's rows by their first cell."""
    return {row[0]: dict(zip([c.key for c in table.columns], row, strict=True)) for row in table.rows}


def total_of(table) -> dict:
    return dict(zip([c.key for c in table.columns], table.total, strict=True))


def exports_are_audited(client, user, slug: str, table: str) -> None:
    """The marketer downloads the table as CSV and XLSX, and each download leaves an audit record."""
    client.force_login(user)
    before = AuditEntry.objects.filter(action="analytics.dashboard_exported").count()
    url = reverse("analytics_dashboard", args=[slug])
    csv = client.get(url, {**MARCH, "format": "csv", "table": table}, HTTP_ACCEPT_LANGUAGE="en")
    assert csv.status_code == 200 and "text/csv" in csv["Content-Type"]
    xlsx = client.get(url, {**MARCH, "format": "xlsx", "table": table}, HTTP_ACCEPT_LANGUAGE="en")
    assert xlsx.status_code == 200 and "spreadsheet" in xlsx["Content-Type"]
    entries = AuditEntry.objects.filter(action="analytics.dashboard_exported").order_by("created_at", "id")
    assert entries.count() == before + 2
    last = entries.last()
    assert last.actor == user and last.data["dashboard"] == slug and last.data["table"] == table


def refused(client, user, slug: str) -> None:
    response = read(client, user, slug)
    assert response.status_code in (302, 403)
    assert "board" not in (response.context or {})
