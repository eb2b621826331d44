"""Reads of the scores, and the score sources campaigns' segments and win-back automations ask."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet

from analytics.models import MemberScore, ScoringRun

AT_RISK = ("medium", "high")


def has_scores() -> bool:
    return ScoringRun.objects.filter(finished_at__isnull=False, members_scored__gt=0).exists()


def rfm_segment_source(*, segments: list[str], now: dt.datetime) -> QuerySet | None:
    """Members in any of `segments` at the latest run; None while nothing is scored."""
    if not has_scores():
        return None
    return MemberScore.objects.filter(segment__in=segments).values("member_id")


def churn_risk_source(*, levels: list[str], reasons: list[str], now: dt.datetime) -> QuerySet | None:
    """Members at the given risk levels (at risk: medium or high, when none is given) and reasons."""
    if not has_scores():
        return None
    scores = MemberScore.objects.filter(churn_level__in=levels or AT_RISK)
    if reasons:
        scores = scores.filter(churn_reason__in=reasons)
    return scores.values("member_id")


def churn_source(*, now: dt.datetime, member_ids: list[int] | None = None):
    """(member_id, reason) of the members at risk at the latest run."""
    scores = MemberScore.objects.filter(churn_level__in=AT_RISK)
    if member_ids is not None:
        scores = scores.filter(member_id__in=member_ids)
    return scores.values_list("member_id", "churn_reason").iterator(chunk_size=5000)


def churn_report():
    return MemberScore.objects.select_related("member").order_by("-churn_level", "member_id")


def winback_outcomes(*, within_days: int = 30) -> dict:
    """Of the members at risk at the latest run (as of its date), how many bought again within
    `within_days`, split by whether a win-back action reached them in that time: an automation's effect
    that was not skipped, or a campaign's message sent to them as a member of its target group (the
    holdout group gets nothing, so its members count as without action). Two queries; counts only."""
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from campaigns.models import AutomationEffect, CampaignMember, Message
    from loyalty.models import MemberDailySpend

    run = ScoringRun.objects.filter(finished_at__isnull=False).order_by("-as_of", "-id").first()
    if run is None:
        return {"with_action": {"members": 0, "came_back": 0}, "without_action": {"members": 0, "came_back": 0}}
    start, end = run.as_of, run.as_of + dt.timedelta(days=within_days)
    start_at = timezone.make_aware(dt.datetime.combine(start, dt.time()))
    end_at = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
    flagged = MemberScore.objects.filter(churn_level__in=AT_RISK, as_of=run.as_of).annotate(
        automated=Exists(
            AutomationEffect.objects.filter(
                member_id=OuterRef("member_id"), skipped="", created_at__gte=start_at, created_at__lt=end_at
            )
        ),
        messaged=Exists(
            Message.objects.filter(
                member_id=OuterRef("member_id"),
                campaign__isnull=False,
                status=Message.Status.SENT,
                sent_at__gte=start_at,
                sent_at__lt=end_at,
            ).filter(
                Exists(
                    CampaignMember.objects.filter(
                        campaign_id=OuterRef("campaign_id"),
                        member_id=OuterRef("member_id"),
                        group=CampaignMember.Group.TARGET,
                    )
                )
            )
        ),
        came_back=Exists(
            MemberDailySpend.objects.filter(member_id=OuterRef("member_id"), day__gt=start, day__lte=end, visits__gt=0)
        ),
    )
    result = {"with_action": {"members": 0, "came_back": 0}, "without_action": {"members": 0, "came_back": 0}}
    for automated, messaged, came_back, members in (
        flagged.values("automated", "messaged", "came_back")
        .annotate(n=Count("pk"))
        .values_list("automated", "messaged", "came_back", "n")
    ):
        acted = automated or messaged
        bucket = result["with_action" if acted else "without_action"]
        bucket["members"] += members
        bucket["came_back"] += members if came_back else 0
    return result


def member_score(member_id: int) -> MemberScore | None:
    """The member's scores at the latest run, or None when they have not been scored (one query)."""
    return MemberScore.objects.filter(pk=member_id).first()
