"""Service cards on the store tablet in real Chromium at 1024×768: selling a card from the member's page and
using it with the member's signature drawn on the pad, in Chinese and in English.

Screenshots go to test-artifacts/screenshots/tablet-cards-*.png."""

from decimal import Decimal

import pytest

from servicecards.models import CardEntry, CardSettings, MemberCard
from tests.browser.test_tablet import log_in_at_till
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory
from tests.factories.servicecards import (
    CardProductFactory,
    HoursCardProductFactory,
    ServiceFactory,
    ServiceStaffFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def salon(chain):
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=Decimal("1.00"))
    wash = ServiceFactory(code="WASH", name="洗护")
    face = ServiceFactory(code="FACE", name="面部护理")
    CardProductFactory(code="WASH10", name="10次洗护卡", uses=Decimal(10), bonus_uses=Decimal(2), services=[wash, face])
    HoursCardProductFactory(code="PT20", name="20课时私教卡", services=[ServiceFactory(code="PT", name="私教课")])
    therapist = ServiceStaffFactory(services=[wash, face])
    therapist.user.first_name, therapist.user.last_name = "丽", "张"
    therapist.user.save()
    therapist.user.staff_profile.stores.add(chain.store_a)
    CardSettings.objects.update_or_create(singleton=True, defaults={"use_confirmation": "signature"})
    return MemberFactory(phone="13812345678", name="王芳", home_store=chain.store_a)


def sign(page):
    box = page.locator("[data-signature-pad] canvas").bounding_box()
    x, y = box["x"] + 60, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(x + step * 30, y + (25 if step % 2 else -25), steps=3)
    page.mouse.up()


@pytest.mark.parametrize("locale,lang", [("zh-CN", "zh"), ("en-US", "en")])
def test_a_cashier_sells_a_card_and_records_a_signed_use(
    live_server, chain, salon, tablet_page, screenshot, locale, lang
):
    page = tablet_page(locale)
    log_in_at_till(page, live_server, "cashier_a")

    page.goto(f"{live_server.url}/tablet/m/{salon.code}/")
    page.wait_for_selector("#member-cards")
    page.locator("#member-cards").scroll_into_view_if_needed()
    screenshot(page, f"tablet-cards-member-empty-{lang}")
    page.click("#sell-card-button")

    page.locator(".choices .choice", has_text="10次洗护卡").click()
    screenshot(page, f"tablet-cards-sell-{lang}")
    page.click("#card-next")
    page.wait_for_selector("#card-quote")
    assert "680.00" in page.inner_text("#card-due")
    screenshot(page, f"tablet-cards-sell-confirm-{lang}")
    page.click("#card-confirm")
    page.wait_for_selector("#card")
    screenshot(page, f"tablet-cards-card-{lang}")
    card = MemberCard.objects.get(member=salon)
    assert card.uses_remaining == 12

    page.click("#use-card")
    page.wait_for_selector("[data-signature-pad]")
    # The service's big button (the page's title "10次洗护卡" also reads 洗护).
    page.locator(".choices .choice", has_text="洗护").first.click()
    sign(page)
    page.fill("textarea[name=note]", "头皮偏干，建议每周一次")
    screenshot(page, f"tablet-cards-use-signed-{lang}")
    assert page.input_value("input[name=signature]").startswith("data:image/png;base64,")
    page.click("#record-use")
    page.wait_for_selector("#use-done")
    screenshot(page, f"tablet-cards-use-done-{lang}")
    assert "11" in page.inner_text("#uses-left")

    entry = CardEntry.objects.get(kind="use")
    assert entry.confirmation == "signature" and entry.performed_by.first_name == "丽"
    assert entry.note == "头皮偏干，建议每周一次"

    page.goto(f"{live_server.url}/tablet/m/{salon.code}/")
    page.locator("#member-cards").scroll_into_view_if_needed()
    screenshot(page, f"tablet-cards-member-{lang}")
