"""The RFM and churn-risk dashboard, read from what score_members wrote."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.models import MemberScore, SegmentSnapshot
from analytics.services import score_members
from campaigns.segments import RfmSegment
from tests.analytics.loyalty_history import (
    assert_marketer_exports_and_others_may_not,
    assert_page_queries,
    board,
    figures,
    rows,
)
from tests.factories.analytics import purchase_history
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db
SLUG = "rfm"


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def shoppers(chain, today):
    """A regular (weekly for a year), a lapsed regular, a one-off and a new member, at store A."""
    regular = MemberFactory(store=chain.store_a, home_store=chain.store_a)
    purchase_history(regular, as_of=today, days_ago=list(range(1, 365, 7)))
    lapsed = MemberFactory(store=chain.store_a, home_store=chain.store_a)
    purchase_history(lapsed, as_of=today, days_ago=list(range(200, 560, 7)))
    once = MemberFactory(store=chain.store_b, home_store=chain.store_b)
    purchase_history(once, as_of=today, days_ago=[300])
    new = MemberFactory(store=chain.store_b, home_store=chain.store_b)
    purchase_history(new, as_of=today, days_ago=[2])
    return {"regular": regular, "lapsed": lapsed, "once": once, "new": new}


@pytest.fixture
def scored(shoppers, today):
    """Scored 40 days ago (the new member had not bought yet), twice today (the last run counts)."""
    score_members(as_of=today - dt.timedelta(days=40))
    score_members(as_of=today)
    score_members(as_of=today)
    return shoppers


def period(today):
    return (today - dt.timedelta(days=60)).isoformat(), today.isoformat()


def test_segments_churn_risk_and_runs_at_the_latest_run(client, chain, scored, today):
    result = board(client, chain.marketer, SLUG, *period(today))

    expected = Counter(MemberScore.objects.values_list("segment", flat=True))
    table = {row[0]: row for row in rows(result, "segments")}
    assert len(table) == len(RfmSegment.choices)
    for code, label in RfmSegment.choices:
        assert table[str(label)][1] == expected.get(code, 0)
    assert result.table("segments").total[1] == 4
    snapshots = SegmentSnapshot.objects.filter(month=today.replace(day=1))
    assert result.table("segments").total[3:] == [
        sum(s.stayed for s in snapshots),
        sum(s.moved_in for s in snapshots),
        sum(s.new for s in snapshots),
    ]
    assert result.table("segments").total[5] == 1  # the new member was not scored 40 days ago
    moved = sum(row[2] for row in rows(result, "movement"))
    assert moved == sum(s.moved_in for s in snapshots) + 1  # and the new member, from "not scored"

    risk = rows(result, "churn")
    # The regular and the new member are fine; the lapsed regular and the one-off have long gone.
    assert risk == [["Low", "—", 2, Decimal("50.00")], ["High", "Long inactive", 2, Decimal("50.00")]]
    at_risk = MemberScore.objects.exclude(churn_level="low").count()
    shown = figures(result)
    assert (shown["Members scored"], shown["At risk"], shown["Latest run"]) == (4, at_risk, today.isoformat())

    # One point per day: 40 days ago, and the last of today's two runs.
    runs = rows(result, "runs")
    assert [row[0] for row in runs] == [(today - dt.timedelta(days=40)).isoformat(), today.isoformat()]
    assert runs[-1][1:3] == [4, at_risk]
    assert [c.kind for c in result.charts] == ["bar", "line"]


def test_a_store_filter_carried_over_from_another_tab_does_not_narrow_it(client, chain, scored, today):
    start, end = period(today)
    result = board(client, chain.marketer, SLUG, start, end, store=chain.store_b.pk)
    assert figures(result)["Members scored"] == 4


def test_runs_before_the_period_leave_only_the_latest_state(client, chain, scored, today):
    result = board(client, chain.marketer, SLUG, "2020-01-01", "2020-01-31")
    assert rows(result, "runs") == []
    assert figures(result)["Members scored"] == 4
    assert result.notes == ["No scoring run within this period; the latest is shown above."]


def test_nothing_scored_yet_says_how_to_score(client, chain, today):
    result = board(client, chain.marketer, SLUG, *period(today))
    assert result.tables == [] and result.figures == []
    assert "score_members" in result.notes[0]


def test_the_query_count_does_not_grow_with_the_history(client, chain, scored, today, django_assert_num_queries):
    # The latest run, the scores grouped, the month's snapshots, the period's runs.
    assert_page_queries(client, django_assert_num_queries, chain.marketer, SLUG, *period(today), 4)
    for _i in range(3):
        purchase_history(MemberFactory(store=chain.store_a), as_of=today, days_ago=[5, 50])
    score_members(as_of=today - dt.timedelta(days=1))
    score_members(as_of=today)
    assert_page_queries(client, django_assert_num_queries, chain.marketer, SLUG, *period(today), 4)


def test_marketers_read_and_export_it_and_store_staff_may_not(client, chain, scored, today):
    assert_marketer_exports_and_others_may_not(client, chain, SLUG, "segments", *period(today))
