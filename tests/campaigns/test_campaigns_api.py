"""GET /api/v1/campaigns/{id}/effect/: the effect page's figures for integrations, 4xx with a code."""

from decimal import Decimal

import pytest

from campaigns.services.campaigns import campaign_launch
from tests.api.conftest import assert_error
from tests.factories import MemberFactory
from tests.factories.campaigns import CampaignFactory, SegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def launched(chain, policy):
    for _i in range(4):
        MemberFactory()
    campaign = CampaignFactory(segment=SegmentFactory(created_by=chain.marketer), holdout_percent=Decimal("50.0"))
    campaign_launch(actor=chain.marketer, campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def test_the_effect_answers_the_figures_in_constant_queries(chain, as_user, launched, django_assert_num_queries):
    client = as_user(chain.marketer)

    # the role's groups, the campaign, its effect (5: the campaign has no multiplier, so no boost sum)
    with django_assert_num_queries(7):
        response = client.get(f"/api/v1/campaigns/{launched.pk}/effect/")

    assert response.status_code == 200
    body = response.json()
    assert (body["campaign"], body["status"], body["reached"]) == (launched.pk, "running", launched.target_count)
    assert body["target"]["members"] == launched.target_count and body["holdout"]["members"] == launched.holdout_count
    assert body["points_awarded"] == 100 * launched.target_count


def test_an_unknown_campaign_is_a_404_with_a_code(chain, as_user):
    response = as_user(chain.marketer).get("/api/v1/campaigns/999/effect/")

    assert_error(response, 404, "campaign_not_found")


def test_store_staff_are_refused(chain, as_user, launched):
    response = as_user(chain.cashier_a).get(f"/api/v1/campaigns/{launched.pk}/effect/")

    assert_error(response, 403, "forbidden")
