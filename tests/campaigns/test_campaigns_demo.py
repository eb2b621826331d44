import pytest

from campaigns.demo import DEMO_CAMPAIGN, demo_campaigns
from campaigns.models import Campaign
from campaigns.selectors.effect import campaign_effect
from stores.demo import DemoContext, DemoOptions
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_the_demo_campaign_is_finished_with_a_holdout_group_and_loaded_once(chain, policy):
    for _i in range(30):
        MemberFactory()
    ctx = DemoContext(options=DemoOptions(), rng=None, progress=None, staff={"marketer": chain.marketer})

    demo_campaigns(ctx)
    demo_campaigns(ctx)

    campaign = Campaign.objects.get(name=DEMO_CAMPAIGN)
    assert campaign.status == Campaign.Status.FINISHED
    assert campaign.target_count + campaign.holdout_count == 30 and campaign.holdout_count > 0
    effect = campaign_effect(campaign)
    assert effect.measured and effect.points_awarded == 50 * campaign.target_count
    assert ctx.summary[-1] == "1 finished campaign (already there)"
