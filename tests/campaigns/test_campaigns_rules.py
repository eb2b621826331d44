"""Bad input to campaigns: a clear message and nothing written; schedule, cancel, the beat task, the
points boost checkout reads, and who may do what."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from campaigns.models import Campaign, CampaignMember, PointsBoost
from campaigns.services.campaigns import (
    CampaignFields,
    campaign_cancel,
    campaign_create,
    campaign_launch,
    campaign_schedule,
    campaigns_run_due,
)
from campaigns.tasks import run_due_campaigns
from stores.models import AuditEntry
from tests.campaigns.conftest import line
from tests.factories import MemberFactory
from tests.factories.campaigns import CampaignFactory, CouponTemplateFactory, SegmentFactory

pytestmark = pytest.mark.django_db


def fields(given_segment, /, **overrides) -> CampaignFields:
    now = timezone.now()
    values = {
        "name": "会员日回馈",
        "segment": given_segment,
        "starts_at": now + timedelta(days=1),
        "ends_at": now + timedelta(days=8),
        "holdout_percent": Decimal("10.0"),
        "points": 100,
    }
    return CampaignFields(**{**values, **overrides})


def codes(error: ValidationError) -> dict[str, list[str]]:
    return {name: [e.code for e in errors] for name, errors in error.error_dict.items()}


@pytest.fixture
def segment(chain):
    return SegmentFactory(created_by=chain.marketer)


def test_a_campaign_is_created_as_an_audited_draft(chain, segment):
    campaign = campaign_create(actor=chain.marketer, fields=fields(segment))

    assert campaign.status == Campaign.Status.DRAFT
    assert AuditEntry.objects.filter(action="campaign.created", target_id=str(campaign.pk)).exists()


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"points": 0}, "coupon_template", "no_action"),
        ({"segment": None}, "segment", "segment_required"),
        ({"name": "  "}, "name", "name_required"),
        ({"holdout_percent": Decimal("50.5")}, "holdout_percent", "holdout_out_of_range"),
        ({"holdout_percent": Decimal("-1")}, "holdout_percent", "holdout_out_of_range"),
        ({"multiplier": Decimal("0.5")}, "multiplier", "multiplier_below_one"),
    ],
)
def test_bad_fields_are_refused_with_a_message_and_nothing_written(chain, segment, overrides, field, code):
    with pytest.raises(ValidationError) as refused:
        campaign_create(actor=chain.marketer, fields=fields(segment, **overrides))

    assert code in codes(refused.value)[field]
    assert not Campaign.objects.exists() and not AuditEntry.objects.filter(action="campaign.created").exists()


def test_a_campaign_that_ends_before_it_starts_is_refused(chain, segment):
    now = timezone.now()
    with pytest.raises(ValidationError) as refused:
        campaign_create(actor=chain.marketer, fields=fields(segment, starts_at=now, ends_at=now - timedelta(hours=1)))

    assert codes(refused.value) == {"ends_at": ["dates_unordered"]}


def test_an_overlapping_multiplier_for_the_same_segment_is_refused_with_the_other_campaign_named(chain, segment):
    first = campaign_create(actor=chain.marketer, fields=fields(segment, multiplier=Decimal("2.00")))
    MemberFactory()
    campaign_schedule(actor=chain.marketer, campaign=first)
    later = fields(segment, multiplier=Decimal("3.00"))
    later.starts_at += timedelta(days=3)
    later.ends_at += timedelta(days=3)

    with pytest.raises(ValidationError) as refused:
        campaign_create(actor=chain.marketer, fields=later)

    assert codes(refused.value) == {"multiplier": ["multiplier_overlap"]}
    assert first.name in refused.value.error_dict["multiplier"][0].message
    assert Campaign.objects.count() == 1


def test_a_multiplier_after_the_other_one_ends_is_fine(chain, segment):
    first = campaign_create(actor=chain.marketer, fields=fields(segment, multiplier=Decimal("2.00")))
    MemberFactory()
    campaign_schedule(actor=chain.marketer, campaign=first)
    after = fields(segment, multiplier=Decimal("2.00"))
    after.starts_at, after.ends_at = first.ends_at, first.ends_at + timedelta(days=2)

    assert campaign_create(actor=chain.marketer, fields=after).pk


def test_a_campaign_with_no_target_cannot_be_scheduled_or_launched(chain, segment):
    campaign = campaign_create(actor=chain.marketer, fields=fields(segment))

    with pytest.raises(ValidationError) as on_schedule:
        campaign_schedule(actor=chain.marketer, campaign=campaign)
    with pytest.raises(ValidationError) as on_launch:
        campaign_launch(actor=chain.marketer, campaign=campaign)

    assert codes(on_schedule.value) == codes(on_launch.value) == {"segment": ["campaign_no_target"]}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and campaign.launched_at is None
    assert not CampaignMember.objects.exists()


def test_a_coupon_quantity_too_small_for_the_target_group_refuses_the_whole_launch(chain, segment, policy):
    for _i in range(3):
        MemberFactory()
    template = CouponTemplateFactory(total_quantity=1)
    campaign = campaign_create(
        actor=chain.marketer, fields=fields(segment, coupon_template=template, holdout_percent=0)
    )

    with pytest.raises(ValidationError):
        campaign_launch(actor=chain.marketer, campaign=campaign)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and not CampaignMember.objects.exists()


def test_store_staff_may_not_create_or_launch_campaigns(chain, segment):
    campaign = CampaignFactory(segment=segment)
    for person in (chain.manager_a, chain.cashier_a):
        with pytest.raises(PermissionDenied):
            campaign_create(actor=person, fields=fields(segment))
        with pytest.raises(PermissionDenied):
            campaign_launch(actor=person, campaign=campaign)


def test_cancelling_a_running_campaign_ends_its_boosts_now_and_is_audited(chain, segment, policy):
    MemberFactory()
    campaign = CampaignFactory(segment=segment, multiplier=Decimal("2.00"), points=0, holdout_percent=0)
    campaign_launch(actor=chain.marketer, campaign=campaign)

    campaign_cancel(actor=chain.marketer, campaign=campaign, reason="库存不足")

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED
    assert not PointsBoost.objects.filter(campaign=campaign, ends_at__gt=timezone.now()).exists()
    assert AuditEntry.objects.get(action="campaign.cancelled").reason == "库存不足"


def test_the_beat_launches_due_campaigns_and_finishes_ended_ones_once(chain, segment, policy):
    MemberFactory()
    now = timezone.now()
    due = CampaignFactory(segment=segment, status=Campaign.Status.SCHEDULED, starts_at=now - timedelta(minutes=3))
    future = CampaignFactory(segment=segment, status=Campaign.Status.SCHEDULED, starts_at=now + timedelta(days=1))
    ended = CampaignFactory(
        segment=segment,
        status=Campaign.Status.RUNNING,
        launched_at=now - timedelta(days=9),
        starts_at=now - timedelta(days=9),
        ends_at=now - timedelta(minutes=1),
        points=0,
    )

    first = run_due_campaigns()
    second = campaigns_run_due()

    assert (first["launched"], first["finished"]) == (1, 1)
    assert (second["launched"], second["finished"]) == (0, 0)
    statuses = dict(Campaign.objects.values_list("pk", "status"))
    assert statuses == {due.pk: "running", future.pk: "scheduled", ended.pk: "finished"}


def test_the_beat_schedule_exists():
    task = PeriodicTask.objects.get(task="campaigns.tasks.run_due_campaigns")

    assert (task.enabled, task.interval.every, task.interval.period) == (True, 5, "minutes")


def test_a_target_member_earns_the_campaign_multiplier_at_checkout_once_when_boosts_overlap(chain, segment, checkout):
    member = MemberFactory()
    other = CampaignFactory(segment=SegmentFactory(created_by=chain.marketer), multiplier=Decimal("3.00"), points=0)
    PointsBoost.objects.create(
        member=member, multiplier=Decimal("2.00"), starts_at=other.starts_at, ends_at=other.ends_at, campaign=other
    )
    mine = CampaignFactory(segment=segment, multiplier=Decimal("3.00"), points=0, holdout_percent=0)
    campaign_launch(actor=chain.marketer, campaign=mine)

    sale = checkout(member, [line("服装", 100)], cash=100)

    assert sale.points_earned == 300  # ×3 once, not ×2 × ×3
