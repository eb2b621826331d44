"""Analytics' section of the member's 360 page: RFM and churn scores (members.member360 explains the
registry)."""

from django.utils.translation import gettext_lazy as _

from analytics.models import MemberScore
from analytics.selectors import member_score
from members.member360 import member_changelist_url, register_section
from members.models import Member


def scores_section(member: Member, request) -> dict:
    score = member_score(member.pk)
    return {
        "score": score,
        "p_alive_percent": round(score.p_alive * 100) if score and score.p_alive is not None else None,
        "see_all_url": member_changelist_url(request, MemberScore, member) if score else None,
    }


def register() -> None:
    register_section(
        "scores", order=15, title=_("Scores"), template="admin/analytics/member360/scores.html", loader=scores_section
    )
