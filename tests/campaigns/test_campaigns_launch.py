"""Launching a campaign: the segment drawn once and split by a hash, each action for the target group
only, and a second launch that changes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignMember, Coupon, Message, PointsBoost
from campaigns.services.campaigns import campaign_launch, in_holdout
from loyalty.models import PointsAccount, PointsEntry
from members.models import Member
from stores.models import AuditEntry
from tests.campaigns.conftest import many_members
from tests.factories import MemberFactory
from tests.factories.campaigns import CampaignFactory, CouponTemplateFactory, MessageTemplateFactory, SegmentFactory

pytestmark = pytest.mark.django_db


def groups(campaign) -> dict[int, str]:
    return dict(CampaignMember.objects.filter(campaign=campaign).values_list("member_id", "group"))


def test_a_launch_snapshots_the_segment_and_holds_out_about_its_share_of_1000_members(chain, policy):
    many_members(1000)
    campaign = CampaignFactory(
        segment=SegmentFactory(created_by=chain.marketer), holdout_percent=Decimal("20.0"), points=0, multiplier=2
    )

    result = campaign_launch(actor=chain.marketer, campaign=campaign)

    campaign.refresh_from_db()
    drawn = groups(campaign)
    held_out = sum(1 for g in drawn.values() if g == "holdout")
    assert len(drawn) == 1000
    assert 160 <= held_out <= 240  # 20 % ± 4 points: the hash is fair
    assert (campaign.target_count, campaign.holdout_count) == (1000 - held_out, held_out)
    assert (result.target, result.holdout) == (1000 - held_out, held_out)
    assert campaign.status == Campaign.Status.RUNNING and campaign.launched_at is not None


def test_the_split_is_the_hash_of_campaign_and_member_so_drawing_again_gives_the_same_groups(chain, policy):
    members = list(many_members(200))
    campaign = CampaignFactory(
        segment=SegmentFactory(created_by=chain.marketer), holdout_percent=Decimal("30.0"), points=0, multiplier=2
    )

    campaign_launch(actor=chain.marketer, campaign=campaign)

    expected = {m.pk: "holdout" if in_holdout(campaign.pk, m.pk, Decimal("30.0")) else "target" for m in members}
    assert groups(campaign) == expected


def test_target_members_get_every_action_and_holdout_members_get_nothing(chain, policy):
    many_members(60)
    coupon = CouponTemplateFactory()
    message = MessageTemplateFactory(body="{name}您好，{coupon_name}已到账。")
    campaign = CampaignFactory(
        segment=SegmentFactory(created_by=chain.marketer),
        holdout_percent=Decimal("25.0"),
        coupon_template=coupon,
        points=100,
        multiplier=Decimal("2.00"),
        message_template=message,
    )

    result = campaign_launch(actor=chain.marketer, campaign=campaign)

    drawn = groups(campaign)
    target = {m for m, g in drawn.items() if g == "target"}
    holdout = set(drawn) - target
    assert target and holdout
    assert set(Coupon.objects.filter(campaign=campaign).values_list("member_id", flat=True)) == target
    assert set(PointsBoost.objects.filter(campaign=campaign).values_list("member_id", flat=True)) == target
    assert set(Message.objects.filter(campaign=campaign).values_list("member_id", flat=True)) == target
    awarded = PointsEntry.objects.filter(idempotency_key__startswith=f"campaign:{campaign.pk}:member:")
    assert set(awarded.values_list("member_id", flat=True)) == target
    assert set(awarded.values_list("points", flat=True)) == {100}
    assert not PointsAccount.objects.filter(pk__in=holdout, available__gt=0).exists()
    assert (result.coupons, result.boosts, result.points_awarded) == (len(target), len(target), len(target))
    boost = PointsBoost.objects.filter(campaign=campaign).first()
    assert (boost.multiplier, boost.starts_at, boost.ends_at) == (Decimal("2.00"), campaign.starts_at, campaign.ends_at)


def test_launching_again_changes_nothing(chain, policy):
    many_members(30)
    campaign = CampaignFactory(
        segment=SegmentFactory(created_by=chain.marketer), coupon_template=CouponTemplateFactory(), points=10
    )
    campaign_launch(actor=chain.marketer, campaign=campaign)
    before = (Coupon.objects.count(), PointsEntry.objects.count(), CampaignMember.objects.count())

    again = campaign_launch(actor=chain.marketer, campaign=campaign)

    assert again.launched is False
    assert (Coupon.objects.count(), PointsEntry.objects.count(), CampaignMember.objects.count()) == before
    assert AuditEntry.objects.filter(action="campaign.launched").count() == 1


def test_a_launch_that_died_before_its_points_finishes_them_once_on_the_next_run(chain, policy, monkeypatch):
    many_members(20)
    campaign = CampaignFactory(segment=SegmentFactory(created_by=chain.marketer), points=10, holdout_percent=0)
    from campaigns.services import campaigns as service

    monkeypatch.setattr(service, "campaign_points_award", lambda **kw: 0)
    campaign_launch(actor=chain.marketer, campaign=campaign)
    monkeypatch.undo()
    assert not PointsEntry.objects.exists()

    summary = service.campaigns_run_due()
    service.campaigns_run_due()

    assert summary["points_awarded"] == 20
    assert PointsEntry.objects.filter(points=10).count() == 20


def test_launch_now_before_the_start_moves_the_start_to_now(chain, policy):
    MemberFactory()
    later = timezone.now() + timedelta(days=3)
    campaign = CampaignFactory(segment=SegmentFactory(created_by=chain.marketer), starts_at=later)

    campaign_launch(actor=chain.marketer, campaign=campaign)

    campaign.refresh_from_db()
    assert campaign.starts_at <= timezone.now() < later


def test_frozen_members_are_not_drawn(chain, policy):
    active = MemberFactory()
    frozen = MemberFactory()
    Member.objects.filter(pk=frozen.pk).update(status=Member.Status.FROZEN)
    campaign = CampaignFactory(segment=SegmentFactory(created_by=chain.marketer), holdout_percent=0)

    campaign_launch(actor=chain.marketer, campaign=campaign)

    assert list(groups(campaign)) == [active.pk]


def test_a_launch_is_audited_with_its_counts(chain, policy):
    MemberFactory()
    campaign = CampaignFactory(segment=SegmentFactory(created_by=chain.marketer), holdout_percent=0)

    campaign_launch(actor=chain.marketer, campaign=campaign)

    entry = AuditEntry.objects.get(action="campaign.launched")
    assert (entry.actor, entry.target_id, entry.data["target"], entry.data["holdout"]) == (
        chain.marketer,
        str(campaign.pk),
        1,
        0,
    )
