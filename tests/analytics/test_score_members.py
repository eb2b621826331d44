import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from analytics.models import MemberScore, ScoringRun, SegmentSnapshot
from analytics.services import ScoringError, quintiles, score_members, segment_for
from campaigns.churn import churn_reasons
from campaigns.segments import members_matching
from tests.factories.analytics import purchase_history
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def shoppers(chain, today):
    """A regular (weekly for a year), a lapsed regular, a one-off and a new member."""
    regular = MemberFactory(store=chain.store_a)
    purchase_history(regular, as_of=today, days_ago=list(range(1, 365, 7)))
    lapsed = MemberFactory(store=chain.store_a)
    purchase_history(lapsed, as_of=today, days_ago=list(range(200, 560, 7)))
    once = MemberFactory(store=chain.store_a)
    purchase_history(once, as_of=today, days_ago=[300])
    new = MemberFactory(store=chain.store_a)
    purchase_history(new, as_of=today, days_ago=[2])
    return {"regular": regular, "lapsed": lapsed, "once": once, "new": new}


def test_equal_values_always_get_the_same_quintile():
    import numpy as np

    scores = quintiles(np.array([1, 1, 1, 1, 2, 3, 4, 5, 6, 7], dtype=float))
    assert len(set(scores[:4])) == 1
    assert list(scores) == sorted(scores)
    assert scores.min() == 1 and scores.max() == 5


def test_every_r_and_f_score_has_one_of_the_eleven_segments():
    found = {segment_for(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert len(found) == 11


def test_each_member_with_a_purchase_gets_one_score(shoppers, today):
    result = score_members(as_of=today)
    assert result.members == 4
    assert MemberScore.objects.count() == 4
    regular = MemberScore.objects.get(member=shoppers["regular"])
    assert regular.frequency == 52 and regular.recency_days == 1
    assert regular.churn_level == "low" and regular.churn_reason == ""
    lapsed = MemberScore.objects.get(member=shoppers["lapsed"])
    assert lapsed.churn_level == "high" and lapsed.churn_reason == "long_inactive"


def test_running_twice_replaces_the_scores_instead_of_adding_to_them(shoppers, today):
    score_members(as_of=today)
    score_members(as_of=today)
    assert MemberScore.objects.count() == 4
    assert sum(SegmentSnapshot.objects.values_list("members", flat=True)) == 4
    assert ScoringRun.objects.count() == 2


def test_the_next_months_snapshot_counts_who_stayed_and_who_moved(shoppers, today):
    score_members(as_of=today - dt.timedelta(days=40))
    score_members(as_of=today)
    month = today.replace(day=1)
    snapshot = SegmentSnapshot.objects.filter(month=month)
    assert sum(s.stayed + s.moved_in + s.new for s in snapshot) == 4
    assert sum(s.new for s in snapshot) == 1  # the new member had not bought 40 days ago


def test_segments_and_churn_risk_reach_campaigns_segments(shoppers, today):
    score_members(as_of=today)
    lapsed_segment = MemberScore.objects.get(member=shoppers["lapsed"]).segment
    matched = members_matching([{"field": "rfm_segment", "op": "in", "value": [lapsed_segment]}])
    assert shoppers["lapsed"] in matched
    at_risk = members_matching([{"field": "churn_risk", "op": "in", "value": {"levels": ["high"]}}])
    assert shoppers["lapsed"] in at_risk and shoppers["regular"] not in at_risk


def test_win_back_automations_learn_why_a_member_is_slipping(shoppers, today):
    score_members(as_of=today)
    reasons = churn_reasons(now=timezone.now())
    assert reasons[shoppers["lapsed"].pk] == "long_inactive"
    assert shoppers["regular"].pk not in reasons


def test_a_chain_without_purchases_scores_nothing_and_keeps_the_scores(chain, today):
    result = score_members(as_of=today)
    assert result.members == 0 and "nothing to score" in result.note
    assert not MemberScore.objects.exists()


def test_members_with_one_purchase_each_are_scored_without_the_model(chain, today):
    for ago in (3, 30, 300):
        purchase_history(MemberFactory(store=chain.store_a), as_of=today, days_ago=[ago])
    result = score_members(as_of=today)
    assert result.members == 3 and not result.fitted
    assert set(MemberScore.objects.values_list("p_alive", flat=True)) == {None}


def test_refunds_larger_than_purchases_never_make_negative_spend(chain, today):
    member = MemberFactory(store=chain.store_a)
    purchase_history(member, as_of=today, days_ago=[5], spend="-50.00")
    score_members(as_of=today)
    assert MemberScore.objects.get(member=member).monetary == 0


def test_an_as_of_date_in_the_future_is_refused(chain, today):
    with pytest.raises(ScoringError):
        score_members(as_of=today + dt.timedelta(days=1))


def test_an_as_of_date_before_any_history_changes_nothing(shoppers, today):
    score_members(as_of=today)
    result = score_members(as_of=today - dt.timedelta(days=2000))
    assert result.members == 0
    assert MemberScore.objects.count() == 4


def test_segment_rules_say_no_scores_yet_before_the_first_run(chain):
    from campaigns.segments import SegmentRuleError

    with pytest.raises((SegmentRuleError, ValueError)):
        members_matching([{"field": "rfm_segment", "op": "in", "value": ["champions"]}])


def test_the_command_prints_a_summary_and_writes_the_churn_report(shoppers, today, tmp_path):
    out = io.StringIO()
    report = tmp_path / "churn.csv"
    call_command("score_members", "--as-of", today.isoformat(), "--report", str(report), stdout=out, verbosity=0)
    assert "Scored 4 members" in out.getvalue()
    text = report.read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    assert len(text.strip().splitlines()) == 5


def test_the_command_refuses_a_date_it_cannot_read(chain):
    with pytest.raises(CommandError):
        call_command("score_members", "--as-of", "yesterday", verbosity=0)


def test_the_nightly_task_has_a_beat_schedule():
    from django_celery_beat.models import PeriodicTask

    assert PeriodicTask.objects.filter(task="analytics.tasks.score_members", enabled=True).exists()


def test_win_back_tracking_counts_who_came_back_after_being_flagged(shoppers, today):
    from analytics.selectors import winback_outcomes

    score_members(as_of=today - dt.timedelta(days=10))
    purchase_history(shoppers["lapsed"], as_of=today, days_ago=[3])
    outcome = winback_outcomes(within_days=30)
    assert outcome["without_action"]["came_back"] >= 1
    assert outcome["with_action"] == {"members": 0, "came_back": 0}


def test_the_database_refuses_a_snapshot_that_does_not_add_up_or_a_run_with_more_at_risk_than_scored(chain):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        SegmentSnapshot.objects.create(
            month=dt.date(2026, 3, 1), segment="new", members=5, stayed=1, moved_in=1, new=1, as_of=dt.date(2026, 3, 9)
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ScoringRun.objects.create(as_of=dt.date(2026, 3, 9), members_scored=2, at_risk=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        ScoringRun.objects.create(as_of=dt.date(2026, 3, 9), members_scored=2, fitted=True)
