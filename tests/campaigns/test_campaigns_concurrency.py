"""Two launches of one campaign at once (the beat on two workers, a marketer's click at the same time):
one effect. PostgreSQL only, each launch on its own thread and connection."""

from collections import Counter
from decimal import Decimal

import pytest

from campaigns.models import CampaignMember, Coupon, Message, PointsBoost
from campaigns.services.campaigns import campaign_launch
from loyalty.models import PointsEntry
from stores.models import AuditEntry
from tests.factories import MemberFactory
from tests.factories.campaigns import CampaignFactory, CouponTemplateFactory, MessageTemplateFactory, SegmentFactory
from tests.loyalty.test_concurrency import assert_reconciles, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_two_launches_at_once_have_one_effect(chain, policy):
    members = [MemberFactory(marketing_consent=True) for _ in range(12)]
    campaign = CampaignFactory(
        segment=SegmentFactory(created_by=chain.marketer),
        holdout_percent=Decimal("25.0"),
        coupon_template=CouponTemplateFactory(),
        points=50,
        multiplier=Decimal("2.00"),
        message_template=MessageTemplateFactory(),
    )

    results = race(2, lambda i: campaign_launch(actor=chain.marketer, campaign=campaign))

    assert Counter(getattr(r, "launched", r) for r in results) == {True: 1, False: 1}
    target = CampaignMember.objects.filter(campaign=campaign, group="target").count()
    assert CampaignMember.objects.filter(campaign=campaign).count() == len(members)
    assert Coupon.objects.filter(campaign=campaign).count() == target
    assert PointsBoost.objects.filter(campaign=campaign).count() == target
    assert Message.objects.filter(campaign=campaign).count() == target
    assert PointsEntry.objects.filter(idempotency_key__startswith=f"campaign:{campaign.pk}:").count() == target
    assert AuditEntry.objects.filter(action="campaign.launched").count() == 1
    assert_reconciles()
