"""Reads of the scores, and the score sources campaigns' segments and win-back automations ask."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

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
