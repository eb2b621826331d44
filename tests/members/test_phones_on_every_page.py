"""Every back-office page that shows a member's phone shows it as the reader's role may see it: the HQ
admin the full number, the marketer never (DESIGN §5, §10).

The pages come from the admin's URL resolver (every changelist, change, delete and history page of every
registered model, and every custom admin view), plus the dashboards and the pages that need a query to
show a member, so a page added later is covered without touching this test.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db.models import ForeignKey, OneToOneField
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone

from analytics.dashboards import REGISTRY
from analytics.models import MemberScore
from loyalty.models import MemberStats, Tier
from tests.factories import MemberFactory
from tests.factories.campaigns import (
    AutomationFactory,
    CampaignFactory,
    CouponFactory,
    MessageFactory,
    MessageTemplateFactory,
    SegmentFactory,
)
from tests.factories.loyalty import TierFactory

pytestmark = pytest.mark.django_db

MAIN = "+8613912345678"
FRIEND = "+8613687654321"
# Served as files or needing a POST: nothing of them renders a phone on a GET.
SKIPPED = {"logout", "view_on_site", "auth_user_password_change"}
# Pages that list or show the main member: the HQ admin must find the full number there.
SHOWS_MAIN = {
    "members_member_changelist",
    "members_member_change",
    "members_member_360",
    "loyalty_downgrade_risk",
    "analytics_memberscore_changelist",
    "campaigns_coupon_changelist",
    "campaigns_message_changelist",
    "campaigns_message_change",
    "campaigns_messagetemplate_preview",
    "campaigns_segment_preview",
}


def _digits(e164: str) -> str:
    return e164[3:]


def _masked(e164: str) -> str:
    digits = _digits(e164)
    return digits[:3] + "****" + digits[-4:]


def _admin_patterns(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _admin_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield prefix + str(pattern.pattern), pattern.name


def _object_for(model, member):
    """An object of `model` about the main member where there is one (its own row, its coupon …)."""
    if model._meta.label == "members.Member":
        return member
    for field in model._meta.get_fields():
        if isinstance(field, ForeignKey | OneToOneField) and field.related_model._meta.label == "members.Member":
            found = model._default_manager.filter(**{field.name: member}).first()
            if found is not None:
                return found
    return model._default_manager.order_by("pk").first()


def _pages(member) -> list[tuple[str, str]]:
    """(url name, address) of every GET page of the back office worth reading."""
    by_prefix = {f"{m._meta.app_label}/{m._meta.model_name}/": m for m in admin.site._registry}
    pages = []
    for route, name in _admin_patterns(admin.site.get_urls()):
        if name in SKIPPED:
            continue
        if name == "app_list":
            labels = sorted({m._meta.app_label for m in admin.site._registry})
            pages += [(name, reverse("admin:app_list", args=[label])) for label in labels]
            continue
        args = re.findall(r"<(?:\w+:)?(\w+)>", route)
        if not args:
            pages.append((name, reverse(f"admin:{name}")))
            continue
        model = next((m for prefix, m in by_prefix.items() if route.startswith(prefix)), None)
        if len(args) == 1 and model is not None:
            obj = _object_for(model, member)
            if obj is not None:
                pages.append((name, reverse(f"admin:{name}", args=[obj.pk])))
        elif args == ["kind"]:
            pages.append((name, reverse(f"admin:{name}", args=["members"])))
    pages += [("analytics_dashboard", reverse("analytics_dashboard", args=[slug])) for slug in REGISTRY]
    # Pages that show a member only when asked for one.
    template = MessageTemplateFactory(name="短信", body="{name}您好")
    pages.append(
        (
            "campaigns_messagetemplate_preview",
            reverse("admin:campaigns_messagetemplate_preview", args=[template.pk]) + f"?member={member.code}",
        )
    )
    pages.append(("members_member_changelist", reverse("admin:members_member_changelist") + f"?q={member.code}"))
    return pages


def _body(response) -> str:
    content = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return ""  # an XLSX: the exports' own tests read those


@pytest.fixture
def everywhere(chain):
    """A member who appears on as many pages as the back office has: a tier they may lose, a coupon, an SMS,
    a churn score, a friend they referred, a campaign and an automation that reached them."""
    silver = TierFactory(code="SILVER", name="银卡", rank=1, threshold=Decimal("1000.00"))
    TierFactory(code="GOLD", name="金卡", rank=2, threshold=Decimal("5000.00"))
    member = MemberFactory(phone=MAIN, name="王芳", store=chain.store_a, marketing_consent=True)
    MemberFactory(phone=FRIEND, name="李娜", referrer=member, store=chain.store_a)
    MemberStats.objects.update_or_create(
        member=member, defaults={"tier": silver, "tier_since": timezone.now() - timedelta(days=800)}
    )
    CouponFactory(member=member)
    MessageFactory(member=member)
    MemberScore.objects.create(
        member=member,
        as_of=timezone.localdate(),
        recency_days=200,
        frequency=2,
        monetary=Decimal("300.00"),
        r_score=1,
        f_score=2,
        m_score=2,
        segment="at_risk",
        p_alive=0.2,
        expected_purchases_90d=0.1,
        churn_level="high",
        churn_reason="long_inactive",
    )
    segment = SegmentFactory(created_by=chain.marketer)
    CampaignFactory(segment=segment, created_by=chain.marketer)
    AutomationFactory(created_by=chain.marketer)
    assert Tier.objects.count() == 2
    return member


def test_the_hq_admin_sees_full_phones_and_the_marketer_never_does_on_any_back_office_page(client, chain, everywhere):
    phones = [MAIN, FRIEND]
    pages = _pages(everywhere)
    assert len(pages) > 100  # the resolver was read: every model's pages, and the custom views
    admin_saw_main = set()
    for user in (chain.hq_admin, chain.marketer):
        client.force_login(user)
        for name, url in pages:
            response = client.get(url)
            if response.status_code != 200:
                continue
            body = _body(response)
            for phone in phones:
                if user == chain.hq_admin:
                    assert _masked(phone) not in body, f"{name} ({url}) masks a phone for the HQ admin"
                    if _digits(phone) in body and phone == MAIN:
                        admin_saw_main.add(name)
                else:
                    assert _digits(phone) not in body, f"{name} ({url}) shows the marketer a full phone"
    assert admin_saw_main >= SHOWS_MAIN, f"pages that did not show the member: {SHOWS_MAIN - admin_saw_main}"
