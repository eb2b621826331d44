"""The back office of campaigns: the list, the form with the service's messages, the Schedule / Launch
now / Cancel buttons, the effect page of a campaign and of an automation, and who may open them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Automation, AutomationEffect, Campaign
from campaigns.services.campaigns import campaign_launch
from tests.campaigns.conftest import line
from tests.factories import MemberFactory
from tests.factories.campaigns import CampaignFactory, CouponTemplateFactory, SegmentFactory

pytestmark = pytest.mark.django_db

LIST = reverse("admin:campaigns_campaign_changelist")
ADD = reverse("admin:campaigns_campaign_add")


def effect_url(campaign):
    return reverse("admin:campaigns_campaign_effect", args=[campaign.pk])


def counted(client, path, django_assert_num_queries, expected, language="en"):
    ContentType.objects.clear_cache()
    with django_assert_num_queries(expected):
        response = client.get(path, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, response.content[:500]
    return response


@pytest.fixture
def segment(chain):
    return SegmentFactory(name="金卡会员", created_by=chain.marketer)


@pytest.fixture
def running(chain, segment, policy):
    for _i in range(5):
        MemberFactory()
    campaign = CampaignFactory(name="春季焕新", segment=segment, holdout_percent=Decimal("40.0"), points=10)
    campaign_launch(actor=chain.marketer, campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def test_the_list_shows_each_campaign_with_its_segment_window_and_groups_in_constant_queries(
    client, chain, segment, running, django_assert_num_queries
):
    CampaignFactory(name="会员日", segment=segment)
    client.force_login(chain.marketer)

    # session, user, permissions (user, groups), count, the page's campaigns with segments
    response = counted(client, LIST, django_assert_num_queries, 7)

    html = response.content.decode()
    assert "春季焕新" in html and "会员日" in html and "金卡会员" in html
    assert f"{running.target_count} / {running.holdout_count}" in html
    assert effect_url(running) in html


def test_the_form_shows_the_services_message_for_a_campaign_without_actions(client, chain, segment):
    client.force_login(chain.marketer)
    now = timezone.localtime()

    response = client.post(
        ADD,
        {
            "name": "空活动",
            "segment": segment.pk,
            "starts_at_0": now.strftime("%Y-%m-%d"),
            "starts_at_1": "10:00:00",
            "ends_at_0": (now + timedelta(days=7)).strftime("%Y-%m-%d"),
            "ends_at_1": "10:00:00",
            "holdout_percent": "10",
            "points": "0",
            "multiplier": "1",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert "Choose at least one action" in response.content.decode()
    assert not Campaign.objects.exists()


def test_a_marketer_creates_a_campaign_through_the_form(client, chain, segment):
    client.force_login(chain.marketer)
    now = timezone.localtime()

    response = client.post(
        ADD,
        {
            "name": "会员日回馈",
            "segment": segment.pk,
            "starts_at_0": now.strftime("%Y-%m-%d"),
            "starts_at_1": "10:00:00",
            "ends_at_0": (now + timedelta(days=7)).strftime("%Y-%m-%d"),
            "ends_at_1": "10:00:00",
            "holdout_percent": "10",
            "coupon_template": CouponTemplateFactory().pk,
            "points": "0",
            "multiplier": "1",
        },
    )

    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.name, campaign.status, campaign.created_by) == ("会员日回馈", "draft", chain.marketer)


def test_launch_now_is_a_post_that_launches_once(client, chain, segment, policy):
    MemberFactory()
    campaign = CampaignFactory(segment=segment, holdout_percent=0, points=0, multiplier=2)
    client.force_login(chain.marketer)
    url = reverse("admin:campaigns_campaign_launch", args=[campaign.pk])

    assert client.get(url).status_code == 405
    first = client.post(url, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    second = client.post(url, follow=True, HTTP_ACCEPT_LANGUAGE="en")

    assert "Launched: 1 members in the target group" in first.content.decode()
    assert "launched before" in second.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING


def test_scheduling_a_campaign_with_no_target_says_why(client, chain, segment):
    campaign = CampaignFactory(segment=segment)
    client.force_login(chain.marketer)

    response = client.post(
        reverse("admin:campaigns_campaign_schedule", args=[campaign.pk]), follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert "has no members now" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_the_change_page_offers_the_buttons_its_status_allows(client, chain, segment, running):
    draft = CampaignFactory(segment=segment)
    client.force_login(chain.marketer)

    draft_page = client.get(reverse("admin:campaigns_campaign_change", args=[draft.pk])).content.decode()
    running_page = client.get(reverse("admin:campaigns_campaign_change", args=[running.pk])).content.decode()

    assert 'form="campaign-schedule"' in draft_page and 'form="campaign-launch"' in draft_page
    assert 'form="campaign-schedule"' not in running_page and 'form="campaign-cancel"' in running_page
    assert effect_url(running) in running_page


def test_the_effect_page_shows_the_figures_and_a_chart_in_constant_queries(
    client, chain, running, checkout, django_assert_num_queries
):
    for member in MemberFactory._meta.model.objects.all():
        checkout(member, [line("服装", 100)], cash=100)
    client.force_login(chain.marketer)

    # session, user, the role's groups, the campaign, its effect (6), the module permissions (user, groups)
    response = counted(client, effect_url(running), django_assert_num_queries, 12)

    html = response.content.decode()
    assert "<svg" in html and "polyline" in html
    assert "Incremental revenue" in html and "Revenue per member" in html
    assert 'http-equiv="refresh"' in html  # running: refreshed every minute


def test_the_effect_page_speaks_chinese(client, chain, running):
    client.force_login(chain.marketer)

    response = client.get(effect_url(running), HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 200
    assert "<svg" in response.content.decode()


def test_the_effect_page_of_an_automation_is_at_its_admin_url(client, chain, policy, django_assert_num_queries):
    automation = Automation.objects.create(name="生日礼", trigger="birthday", created_by=chain.marketer)
    AutomationEffect.objects.create(automation=automation, member=MemberFactory(), occurrence="2026", points=10)
    client.force_login(chain.marketer)
    url = reverse("admin:campaigns_automation_effect", args=[automation.pk])

    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "生日礼" in response.content.decode()


@pytest.mark.parametrize("persona", ["manager_a", "cashier_a"])
def test_store_staff_reach_neither_the_list_nor_the_effect_nor_the_buttons(client, chain, running, persona):
    client.force_login(getattr(chain, persona))

    assert client.get(LIST).status_code == 302  # to the login page: not staff of the back office
    assert client.get(effect_url(running)).status_code == 302
    client.post(reverse("admin:campaigns_campaign_cancel", args=[running.pk]))
    running.refresh_from_db()
    assert running.status == Campaign.Status.RUNNING


def test_an_hq_admin_opens_the_effect_page(client, chain, running):
    client.force_login(chain.hq_admin)

    assert client.get(effect_url(running)).status_code == 200


def test_a_launched_campaign_cannot_be_changed_from_its_page(client, chain, running):
    client.force_login(chain.marketer)
    url = reverse("admin:campaigns_campaign_change", args=[running.pk])

    response = client.post(url, {"name": "改名", "points": "999"})

    assert response.status_code == 403
    running.refresh_from_db()
    assert running.name == "春季焕新"
