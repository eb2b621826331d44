"""Two tills' offline queues racing for a member's last points (PostgreSQL only, like test_concurrency)."""

from decimal import Decimal

import pytest

from loyalty.models import PointsAccount, Sale
from loyalty.services import LineInput, TenderInput, points_adjust, sale_checkout
from tests.loyalty.conftest import rid
from tests.loyalty.test_concurrency import assert_reconciles, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_two_offline_sales_racing_for_the_last_points_one_gets_them_the_other_is_flagged(chain, member, policy):
    # Given 500 points, and no earning rule: the points spent are the only movement
    points_adjust(request_id=rid(), member=member, points=500, reason="开户赠送", actor=chain.hq_admin)
    stores = [(chain.store_a, chain.cashier_a), (chain.store_a, chain.manager_a)]

    # When both tills send a ¥20 sale paid with 500 points (¥5) and ¥15 cash from their offline queues
    def send(i: int) -> Sale:
        store, cashier = stores[i]
        return sale_checkout(
            request_id=f"offline-till{i}-{rid()}",
            store=store,
            cashier=cashier,
            member=member,
            lines=[LineInput("饮品", Decimal("1"), Decimal("20.00"))],
            tenders=[TenderInput("cash", Decimal("15.00"))],
            points_to_redeem=500,
            offline=True,
        )

    results = race(2, send)
    # Then both are recorded: one with the points, the other without them, flagged, ¥5 not collected
    assert all(isinstance(sale, Sale) for sale in results), results
    with_points = [sale for sale in results if sale.points_redeemed == 500]
    flagged = [sale for sale in results if sale.review_state == Sale.ReviewState.PENDING]
    assert len(with_points) == 1 and len(flagged) == 1
    assert flagged[0].review_reasons == ["points_unavailable", "amount_differs"]
    assert flagged[0].unsettled_amount == Decimal("5.00")
    assert PointsAccount.objects.get(pk=member.pk).available == 0
    assert_reconciles()
