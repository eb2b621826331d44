"""The tablet offers refunds only where the server allows them (issue 16 item 3): within the refund window
and at the sale's store. Screenshots go to test-artifacts/screenshots/tablet-refund-window-*.png."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import Refund, Sale
from loyalty.services import LineInput, TenderInput, sale_checkout
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


def _sale(chain, member, request_id: str, amount: str, days_ago: int) -> Sale:
    sale = sale_checkout(
        request_id=request_id,
        store=chain.store_a,
        cashier=chain.cashier_a,
        member=member,
        lines=[LineInput(category="饮品", quantity=Decimal("1"), unit_price=Decimal(amount))],
        tenders=[TenderInput("cash", Decimal(amount))],
    )
    Sale.objects.filter(pk=sale.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return sale


def test_a_sale_past_the_refund_window_has_no_refund_at_the_till(live_server, chain, tablet_page, screenshot):
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=Decimal("1.00"))
    member = MemberFactory(phone="13812345678", name="王芳", home_store=chain.store_a)
    old = _sale(chain, member, "window-old-0001", "88.00", days_ago=9)
    recent = _sale(chain, member, "window-new-0001", "36.00", days_ago=2)
    page = tablet_page("zh-CN")
    page.goto(f"{live_server.url}/tablet/")
    page.fill("input[name=username]", "manager_a")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/tablet/")

    page.goto(f"{live_server.url}/tablet/sales/")
    screenshot(page, "tablet-refund-window-sales-zh")
    assert "最近 7 天的销售" in page.inner_text("h1")
    listed = page.inner_text("table.list")
    assert str(recent.pk) in listed and "¥88.00" not in listed

    page.goto(f"{live_server.url}/tablet/sales/{old.pk}/")
    page.wait_for_selector("#receipt")
    assert page.locator("#refund-button").count() == 0

    page.goto(f"{live_server.url}/tablet/sales/{old.pk}/refund/")
    screenshot(page, "tablet-refund-window-refused-zh")
    assert "超过 7 天的销售只能由总部退款。" in page.inner_text("main")
    assert not Refund.objects.exists()
