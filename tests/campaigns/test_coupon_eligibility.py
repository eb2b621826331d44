"""Coupons go to members who can use them (issue 15, item 9): a campaign's page counts who of its audience
can use the coupon, the launch issues to them only unless the marketer ticks "issue to everyone anyway",
and the holdout group is drawn among those who can. The rule is checkout's (campaigns.eligibility)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from campaigns.eligibility import CouponConditions, members_who_can_use
from campaigns.models import CampaignMember, Coupon
from campaigns.selectors.coupons import coupon_audience
from campaigns.services.campaigns import (
    campaign_coupon_audience,
    campaign_launch,
    campaign_schedule,
    campaign_update,
    fields_of,
)
from loyalty.models import MemberStats
from members.models import Member
from stores.models import AuditEntry
from tests.campaigns.conftest import line, many_members
from tests.factories import StoreFactory
from tests.factories.campaigns import CampaignFactory, CouponTemplateFactory, SegmentFactory
from tests.factories.loyalty import TierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def silver_and_gold(db):
    return (
        TierFactory(code="SILVER", name="银卡", rank=1, threshold=Decimal("1000.00")),
        TierFactory(code="GOLD", name="金卡", rank=2, threshold=Decimal("5000.00")),
    )


def with_tiers(members, tiers: list) -> list[Member]:
    members = list(members.order_by("pk"))
    MemberStats.objects.bulk_create(
        [MemberStats(member=m, tier=t) for m, t in zip(members, tiers, strict=True) if t is not None]
    )
    return members


@pytest.fixture
def nineteen_silver_one_gold(chain, silver_and_gold):
    silver, gold = silver_and_gold
    return with_tiers(many_members(20), [silver] * 19 + [gold])


@pytest.fixture
def gold_only(silver_and_gold):
    return CouponTemplateFactory(name="金卡专享满200减50", tiers=[silver_and_gold[1]])


def coupon_campaign(chain, template, **kwargs):
    kwargs.setdefault("holdout_percent", Decimal("0.0"))
    return CampaignFactory(
        segment=SegmentFactory(created_by=chain.marketer), coupon_template=template, points=0, **kwargs
    )


def test_a_gold_only_coupon_for_19_silver_and_1_gold_members_is_issued_to_the_gold_member_only(
    chain, policy, nineteen_silver_one_gold, gold_only
):
    gold_member = nineteen_silver_one_gold[-1]
    campaign = coupon_campaign(chain, gold_only)

    audience = campaign_coupon_audience(campaign)
    result = campaign_launch(actor=chain.marketer, campaign=campaign)

    assert (audience.total, audience.usable, audience.excluded_by_tier) == (20, 1, [("银卡", 19)])
    assert audience.describe() == "1 of 20 members in the audience can use this coupon (19 excluded: 银卡 19)."
    assert list(Coupon.objects.filter(template=gold_only).values_list("member_id", flat=True)) == [gold_member.pk]
    assert result.coupons == 1 and result.excluded == 19
    assert list(CampaignMember.objects.filter(campaign=campaign).values_list("member_id", flat=True)) == [
        gold_member.pk
    ]
    campaign.refresh_from_db()
    assert (campaign.target_count, campaign.excluded_count) == (1, 19)
    launched = AuditEntry.objects.get(action="campaign.launched")
    assert launched.data["cannot_use_coupon"] == 19 and launched.data["coupon_to_everyone"] is False
    assert launched.data["cannot_use_by_tier"] == {"银卡": 19}


def test_the_campaign_page_says_how_many_of_the_audience_can_use_the_coupon_before_launch(
    client, chain, policy, nineteen_silver_one_gold, gold_only
):
    campaign = coupon_campaign(chain, gold_only)
    client.force_login(chain.marketer)

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]), HTTP_ACCEPT_LANGUAGE="en")

    text = page.content.decode()
    assert "1 of 20 members in the audience can use this coupon (19 excluded: 银卡 19)." in text
    assert "issue the coupon to everyone anyway" in text


def test_the_marketer_may_issue_to_everyone_anyway_and_the_choice_is_audited(
    chain, policy, nineteen_silver_one_gold, gold_only
):
    campaign = coupon_campaign(chain, gold_only)
    fields = fields_of(campaign)
    fields.coupon_to_everyone = True
    campaign_update(actor=chain.marketer, campaign=campaign, fields=fields)

    result = campaign_launch(actor=chain.marketer, campaign=campaign)

    assert result.coupons == 20 and result.excluded == 0
    assert AuditEntry.objects.get(action="campaign.updated").data["coupon_to_everyone"] is True
    launched = AuditEntry.objects.get(action="campaign.launched")
    assert launched.data["coupon_to_everyone"] is True and launched.data["cannot_use_coupon"] == 19


def test_the_holdout_group_is_drawn_among_members_who_can_use_the_coupon(chain, policy, silver_and_gold):
    silver, gold = silver_and_gold
    members = with_tiers(many_members(200), [silver, gold] * 100)
    golds = {m.pk for m in members[1::2]}
    campaign = coupon_campaign(chain, CouponTemplateFactory(tiers=[gold]), holdout_percent=Decimal("50.0"))

    campaign_launch(actor=chain.marketer, campaign=campaign)

    drawn = dict(CampaignMember.objects.filter(campaign=campaign).values_list("member_id", "group"))
    assert set(drawn) == golds  # no silver member in either group
    held = {pk for pk, group in drawn.items() if group == "holdout"}
    assert 30 <= len(held) <= 70
    assert set(Coupon.objects.filter(campaign=campaign).values_list("member_id", flat=True)) == golds - held


def test_a_campaign_whose_coupon_nobody_in_the_segment_can_use_is_refused_with_the_reason(
    chain, policy, silver_and_gold, gold_only
):
    with_tiers(many_members(5), [silver_and_gold[0]] * 5)
    campaign = coupon_campaign(chain, gold_only)

    for attempt in (campaign_schedule, campaign_launch):
        with pytest.raises(ValidationError) as refused:
            attempt(actor=chain.marketer, campaign=campaign)
        assert refused.value.error_dict["coupon_template"][0].code == "campaign_coupon_unusable"
        assert "银卡 5" in refused.value.messages[0]
    assert not Coupon.objects.exists() and not CampaignMember.objects.exists()


def test_members_without_a_tier_cannot_use_a_tier_coupon_and_are_counted_as_such(chain, silver_and_gold, gold_only):
    with_tiers(many_members(3), [None, None, silver_and_gold[1]])

    audience = coupon_audience(gold_only, Member.objects.all())

    assert (audience.usable, audience.excluded_by_tier) == (1, [("", 2)])
    assert "no tier 2" in audience.describe()


def test_store_and_channel_limits_exclude_nobody_since_every_member_may_shop_anywhere(chain, silver_and_gold):
    with_tiers(many_members(4), [silver_and_gold[0], None, None, silver_and_gold[1]])
    at_one_store = CouponTemplateFactory(stores=[chain.store_a], channels=["online"])

    assert coupon_audience(at_one_store, Member.objects.all()).usable == 4


def test_a_coupon_whose_stores_are_all_closed_can_be_used_by_nobody(chain):
    many_members(3)
    closed = StoreFactory(code="GZ001", is_active=False)
    template = CouponTemplateFactory(stores=[closed])

    audience = coupon_audience(template, Member.objects.all())

    assert (audience.usable, audience.excluded) == (0, 3)
    assert "None of the stores" in audience.describe()
    assert not members_who_can_use(template, Member.objects.all()).exists()


def test_the_audience_filter_and_checkout_apply_one_rule(chain, policy, base_rule, checkout, silver_and_gold):
    """Whoever the audience filter keeps, checkout accepts the coupon from, and whoever it leaves out,
    checkout refuses for their tier: both read CouponConditions."""
    silver, gold = silver_and_gold
    members = with_tiers(many_members(3), [silver, gold, None])
    template = CouponTemplateFactory(tiers=[gold])
    conditions = CouponConditions.of(template)
    kept = set(members_who_can_use(template, Member.objects.all()).values_list("pk", flat=True))
    for member in members:
        coupon = Coupon.objects.create(
            template=template,
            code=f"T{member.pk:010d}",
            member=member,
            source=Coupon.Source.MANUAL,
            issue_key=f"test:{member.pk}",
            valid_from=template.created_at,
            valid_until=template.created_at.replace(year=template.created_at.year + 1),
        )
        tier_id = MemberStats.objects.filter(member=member).values_list("tier_id", flat=True).first()
        assert conditions.allows_tier(tier_id) == (member.pk in kept)
        try:
            checkout(member, [line("饮品", 250)], coupons=[coupon.code], cash=200)
            accepted = True
        except ValidationError as error:
            assert error.error_dict["coupon"][0].code == "coupon_wrong_tier"
            accepted = False
        assert accepted == (member.pk in kept)


# --- the other ways coupons are issued ------------------------------------------------------------


@pytest.fixture
def birthdays(clock, policy, silver_and_gold):
    """A 银卡 and a 金卡 member, both born on 16 March; the clock is 15 March 2026, noon."""
    from datetime import date

    from tests.factories import MemberFactory

    silver = MemberFactory(name="王芳", phone="13800138000", birthday=date(1990, 3, 16))
    gold = MemberFactory(name="李娜", phone="13900139000", birthday=date(1991, 3, 16))
    MemberStats.objects.update_or_create(member=silver, defaults={"tier": silver_and_gold[0]})
    MemberStats.objects.update_or_create(member=gold, defaults={"tier": silver_and_gold[1]})
    return silver, gold


def test_an_automation_skips_members_who_cannot_use_its_coupon_before_drawing_its_holdout(
    chain, clock, birthdays, gold_only
):
    from campaigns.models import AutomationEffect
    from campaigns.services.automations import COUPON_UNUSABLE, automation_run
    from tests.factories.campaigns import AutomationFactory

    silver, gold = birthdays
    automation = AutomationFactory(points=100, coupon_template=gold_only, holdout_percent=Decimal("0"))

    dry = automation_run(automation, now=clock.now, dry_run=True)
    result = automation_run(automation, now=clock.now)

    assert (dry.coupon_unusable, dry.reached) == (1, 1)
    assert (result.coupon_unusable, result.reached, result.coupons) == (1, 1, 1)
    assert list(Coupon.objects.values_list("member_id", flat=True)) == [gold.pk]
    skipped = AutomationEffect.objects.get(member=silver)
    assert (skipped.skipped, skipped.points) == (COUPON_UNUSABLE, 0)  # nothing of the automation reached them


def test_staff_issuing_by_api_are_told_the_member_cannot_use_the_coupon_unless_they_issue_anyway(
    chain, as_user, policy, silver_and_gold, gold_only
):
    from tests.api.conftest import rid
    from tests.factories import MemberFactory

    member = MemberFactory(phone="13800138000", name="王芳")
    MemberStats.objects.update_or_create(member=member, defaults={"tier": silver_and_gold[0]})
    client = as_user(chain.marketer)

    refused = client.post(
        "/api/v1/coupons/",
        {"request_id": rid(), "template": gold_only.pk, "member": member.code},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    anyway = client.post(
        "/api/v1/coupons/",
        {"request_id": rid(), "template": gold_only.pk, "member": member.code, "issue_anyway": True},
        format="json",
    )

    assert refused.status_code == 400
    assert refused.json()["code"] == "coupon_not_usable"
    assert "is for members of 金卡 only, and 王芳 is 银卡" in refused.json()["message"]
    assert anyway.status_code == 201
    assert Coupon.objects.filter(member=member).count() == 1
    audit = AuditEntry.objects.get(action="coupon.issued")
    assert "金卡" in audit.data["issued_anyway"]


def test_the_admin_issue_page_refuses_with_the_reason_and_issues_when_ticked(
    client, chain, policy, silver_and_gold, gold_only
):
    from tests.factories import MemberFactory

    member = MemberFactory(phone="13800138000", name="王芳")
    MemberStats.objects.update_or_create(member=member, defaults={"tier": silver_and_gold[0]})
    client.force_login(chain.marketer)
    url = reverse("admin:campaigns_coupon_issue")
    data = {"template": gold_only.pk, "member": member.code, "request_id": "c0ffee00-0000-4000-8000-000000000001"}

    refused = client.post(url, data, HTTP_ACCEPT_LANGUAGE="en")
    issued = client.post(url, {**data, "issue_anyway": "on"}, HTTP_ACCEPT_LANGUAGE="en")

    assert refused.status_code == 200 and "They could never use it" in refused.content.decode()
    assert issued.status_code == 302
    assert Coupon.objects.filter(member=member, template=gold_only).count() == 1


def test_a_registration_gift_only_the_new_member_could_not_use_is_not_given(chain, policy, silver_and_gold):
    from tests.factories import MemberFactory

    CouponTemplateFactory(name="金卡见面礼", on_registration=True, tiers=[silver_and_gold[1]])
    CouponTemplateFactory(name="新人礼", on_registration=True)

    member = MemberFactory(phone="13800138000")

    assert list(Coupon.objects.filter(member=member).values_list("template__name", flat=True)) == ["新人礼"]


def test_the_mall_refuses_points_for_a_coupon_the_member_could_not_use(chain, as_user, policy, silver_and_gold):
    from tests.api.conftest import rid
    from tests.factories import MemberFactory
    from tests.factories.campaigns import CouponMallItemFactory

    silver, gold = silver_and_gold
    member = MemberFactory(phone="13800138000")
    MemberStats.objects.update_or_create(member=member, defaults={"tier": silver})
    item = CouponMallItemFactory(name="金卡券", coupon_template=CouponTemplateFactory(tiers=[gold]))
    client = as_user(chain.hq_admin)

    [offer] = client.get("/api/v1/mall/items/", {"member": member.code}, HTTP_ACCEPT_LANGUAGE="en").json()
    placed = client.post(
        "/api/v1/mall/orders/",
        {"request_id": rid(), "member": member.code, "item": item.pk, "store": ""},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert offer["refusal"]["code"] == "mall_coupon_unusable"
    assert placed.status_code == 400 and placed.json()["code"] == "mall_coupon_unusable"
    assert not Coupon.objects.filter(member=member).exists()
