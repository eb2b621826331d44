"""Win-back tracking: of the members flagged at risk, who came back, with and without a win-back action
(an automation's effect, or a campaign's message to its target group; the holdout group gets none)."""

import datetime as dt

import pytest
from django.utils import timezone

from analytics.selectors import winback_outcomes
from analytics.services import score_members
from campaigns.models import CampaignMember, Message
from tests.factories.analytics import purchase_history
from tests.factories.campaigns import CampaignFactory, MessageFactory
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def flagged(chain):
    """Four lapsed regulars (weekly for a year, nothing for 200 days) and one active one, scored 10 days ago."""
    today = timezone.localdate()
    members = []
    for _ in range(4):
        member = MemberFactory(store=chain.store_a)
        purchase_history(member, as_of=today, days_ago=list(range(200, 560, 7)))
        members.append(member)
    regular = MemberFactory(store=chain.store_a)
    purchase_history(regular, as_of=today, days_ago=list(range(11, 365, 7)))
    score_members(as_of=today - dt.timedelta(days=10))
    return members


def _campaign_with(target, holdout):
    campaign = CampaignFactory()
    CampaignMember.objects.bulk_create(
        [CampaignMember(campaign=campaign, member=m, group=CampaignMember.Group.TARGET) for m in target]
        + [CampaignMember(campaign=campaign, member=m, group=CampaignMember.Group.HOLDOUT) for m in holdout]
    )
    return campaign


def _sent(member, campaign, *, at=None):
    at = at or timezone.now() - dt.timedelta(days=5)
    return MessageFactory(member=member, campaign=campaign, status=Message.Status.SENT, sent_at=at)


def test_a_campaign_message_sent_to_a_target_member_counts_as_a_win_back_action(flagged):
    # Given a campaign that drew two flagged members into its target group and messaged them
    reached, reached_too, held_out, _untouched = flagged
    campaign = _campaign_with([reached, reached_too], [held_out])
    _sent(reached, campaign)
    _sent(reached_too, campaign)
    # And one of them came back three days ago, as did the held-out member
    today = timezone.localdate()
    purchase_history(reached, as_of=today, days_ago=[3])
    purchase_history(held_out, as_of=today, days_ago=[3])
    # When win-back is tracked over 30 days
    outcome = winback_outcomes(within_days=30)
    # Then the messaged members are "with action", the holdout and the untouched member "without"
    assert outcome["with_action"] == {"members": 2, "came_back": 1}
    assert outcome["without_action"] == {"members": 2, "came_back": 1}


def test_holdout_members_count_as_without_action_even_with_a_campaign_message(flagged):
    # Given a message of the campaign that reached a member of its holdout group (it should not happen)
    held_out = flagged[0]
    campaign = _campaign_with([], [held_out])
    _sent(held_out, campaign)
    outcome = winback_outcomes(within_days=30)
    assert outcome["with_action"] == {"members": 0, "came_back": 0}
    assert outcome["without_action"]["members"] == 4


def test_messages_not_sent_or_sent_before_the_run_are_no_action(flagged):
    queued, early, *_ = flagged
    campaign = _campaign_with([queued, early], [])
    MessageFactory(member=queued, campaign=campaign, status=Message.Status.QUEUED)
    _sent(early, campaign, at=timezone.now() - dt.timedelta(days=20))
    outcome = winback_outcomes(within_days=30)
    assert outcome["with_action"]["members"] == 0


def test_an_automation_effect_not_skipped_counts_as_an_action_and_a_skipped_one_does_not(flagged):
    from campaigns.models import AutomationEffect
    from tests.factories.campaigns import AutomationFactory

    acted, skipped, *_ = flagged
    automation = AutomationFactory()
    AutomationEffect.objects.create(automation=automation, member=acted, occurrence="winback:1")
    AutomationEffect.objects.create(automation=automation, member=skipped, occurrence="winback:1", skipped="no_consent")
    purchase_history(acted, as_of=timezone.localdate(), days_ago=[2])
    outcome = winback_outcomes(within_days=30)
    assert outcome["with_action"] == {"members": 1, "came_back": 1}
    assert outcome["without_action"] == {"members": 3, "came_back": 0}
