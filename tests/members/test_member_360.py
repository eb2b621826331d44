"""The member's 360 page in the back office: every app's section, who may read it, what it costs."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from campaigns.models import CampaignMember, Message
from loyalty.models import Sale, TierChange
from tests.factories import MemberFactory
from tests.members.history import buy, give_history, loyalty_rules, member_with_history

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def page_of(member) -> str:
    return reverse("admin:members_member_360", args=[member.pk])


@pytest.fixture
def rules(db):
    loyalty_rules()


@pytest.fixture
def fang(chain, rules):
    return member_with_history(chain)


def section(response, key: str) -> dict:
    [found] = [s for s in response.context["sections"] if s.key == key]
    return found.data


def test_the_hq_admin_sees_every_section_of_a_member_with_history(client, chain, fang):
    client.force_login(chain.hq_admin)

    response = client.get(page_of(fang))

    assert response.status_code == 200
    keys = [s.key for s in response.context["sections"]]
    assert keys == [
        "profile",
        "scores",
        "points",
        "tier",
        "wallet",
        "coupons",
        "service_cards",
        "purchases",
        "consent",
        "referrals",
        "campaigns",
    ]
    html = response.content.decode()
    # Profile, with the full phone for the HQ admin.
    assert "王芳" in html and fang.code in html and "13812345678" in html
    assert "1990-05-17" in html and "Female" in html and "上海徐汇店" in html
    # Points: the sale's, the refund's clawback, both referral rewards and the campaign's, with the full ledger.
    sale = Sale.objects.get(member=fang)
    points = section(response, "points")["points"]
    assert points.account.available == 150 - 30 + 200 + 100 + 100
    assert sorted(e.points for e in points.entries) == [-30, 100, 100, 150, 200]
    assert "Clawed back by a refund" in html and "+150" in html
    ledger = client.get(section(response, "points")["see_all_url"]).context["cl"].result_list
    assert {entry.member_id for entry in ledger} == {fang.pk} and len(ledger) == 5
    assert f"?member__id__exact={fang.pk}" in section(response, "points")["see_all_url"]
    # Tier: upgraded by the purchase.
    tier = section(response, "tier")["tier"]
    assert tier.progress.tier.name == "银卡"
    assert [(c.to_tier.name, c.reason) for c in tier.changes] == [("银卡", TierChange.Reason.UPGRADE)]
    assert "Upgraded by a purchase" in html
    # Stored value: 充500送50.
    wallet = section(response, "wallet")["wallet"]
    assert (wallet.principal, wallet.bonus) == (Decimal("500.00"), Decimal("50.00"))
    assert "Top-up" in html
    # Purchases: the sale, its refund, a link to it.
    assert section(response, "purchases")["sales"] == [sale]
    assert reverse("admin:loyalty_sale_change", args=[sale.pk]) in html
    assert "Partly refunded" in html and "30.00" in html
    # Coupons: the template and the state.
    assert "满200减50 春季焕新" in html and "Usable now" in html
    # Referrals: who referred her, whom she referred, and how many of them bought.
    referrals = section(response, "referrals")
    assert referrals["referrer"].name == "李娜"
    assert {row["member"].name: row["purchases"] for row in referrals["referred"]} == {"张伟": 1, "刘洋": 0}
    assert (referrals["referred_total"], referrals["referred_buyers"]) == (2, 1)
    assert "1 of them bought" in html
    assert {m.name for m in client.get(referrals["see_all_url"]).context["cl"].result_list} == {"张伟", "刘洋"}
    # Campaigns received: the group and what the message did.
    [row] = CampaignMember.objects.filter(member=fang)
    [message] = Message.objects.filter(member=fang, campaign=row.campaign)
    assert "春季焕新" in html and "Target" in html
    assert f"{message.get_channel_display()}: {message.get_status_display()}" in html
    # Scores.
    assert "Promising" in html and "R 5 · F 2 · M 3" in html and "82%" in html
    assert "Medium" in html and "Price sensitive" in html


def test_a_member_with_nothing_yet_renders_with_empty_states(client, chain, rules):
    newcomer = MemberFactory(phone="13600000009", name="陈静")
    client.force_login(chain.hq_admin)

    response = client.get(page_of(newcomer))

    assert response.status_code == 200
    html = response.content.decode()
    for empty in [
        "No points movements yet.",
        "No tier changes yet.",
        "No stored-value movements yet.",
        "No purchases yet.",
        "No coupons yet.",
        "This member has not referred anyone yet.",
        "No campaign has drawn this member yet.",
        "No messages yet.",
        "Not scored yet",
    ]:
        assert empty in html, empty
    assert "See all" not in html


def test_the_marketer_sees_the_masked_phone_and_no_ledger_links(client, chain, fang):
    client.force_login(chain.marketer)

    response = client.get(page_of(fang))

    assert response.status_code == 200
    html = response.content.decode()
    assert "138****5678" in html
    assert "13812345678" not in html
    assert "139****0001" in html  # the referrer's phone too
    # Marketers read members and campaigns, not the loyalty ledgers: no link they could not open.
    assert section(response, "points")["see_all_url"] is None
    assert reverse("admin:loyalty_sale_changelist") not in html
    assert section(response, "coupons")["see_all_url"] is not None


@pytest.mark.parametrize("persona", ["cashier_a", "manager_a"])
def test_store_staff_are_sent_to_the_back_office_login(client, chain, fang, persona):
    client.force_login(getattr(chain, persona))

    response = client.get(page_of(fang))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_an_anonymous_visitor_is_sent_to_the_login(client, fang):
    response = client.get(page_of(fang))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_staff_without_the_members_view_permission_are_refused(client, fang):
    clerk = get_user_model().objects.create_user(username="clerk", password="x", is_staff=True)
    client.force_login(clerk)

    assert client.get(page_of(fang)).status_code == 403


@pytest.mark.parametrize("pk", ["999999", "abc", "99999999999999999999"])
def test_an_unknown_member_is_a_404(client, chain, pk):
    client.force_login(chain.hq_admin)

    assert client.get(f"/admin/members/member/{pk}/360/").status_code == 404


def test_the_member_page_and_the_list_link_to_the_360_page(client, chain, fang):
    client.force_login(chain.marketer)

    change = client.get(reverse("admin:members_member_change", args=[fang.pk])).content.decode()
    changelist = client.get(reverse("admin:members_member_changelist")).content.decode()

    assert page_of(fang) in change
    assert page_of(fang) in changelist


# session, user, 2 × admin permissions, the member, their tags, the roles (staff_can): 7; then by section:
# scores 1; points 3 (expiring, account, entries); tier 5 (stats, policy, window, next tier, changes);
# wallet 2; coupons 2 (latest, counts); purchases 2 (stats, sales); referrals 3 (the list with its count
# in one window query, their purchases, the buyers); consent history 1; campaigns 3 (drawn, their messages,
# the outbox); the member access log 2 (the members whose full phones the page showed, the one INSERT).
PAGE_QUERIES = 33  # with the service cards section: the cards, the service history


def test_the_page_costs_a_fixed_number_of_queries_whatever_the_history(client, chain, fang, django_assert_num_queries):
    client.force_login(chain.hq_admin)
    client.get(page_of(fang))  # the session's first look at the user

    with django_assert_num_queries(PAGE_QUERIES):
        client.get(page_of(fang))

    # More of everything: a second member's worth of history, on her and on one more member she referred.
    other = MemberFactory(phone="13700000004", name="杨磊", store=chain.store_a, referrer=fang)
    for _ in range(3):
        buy(chain, fang, "80.00")
    buy(chain, other, "60.00")
    give_history(chain, fang, campaign_name="夏日特惠")
    give_history(chain, other, campaign_name="秋季上新")

    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(page_of(fang))
    assert len(section(response, "purchases")["sales"]) == 5
    assert section(response, "referrals")["referred_buyers"] == 2
    assert len(section(response, "campaigns")["campaigns"]) == 3


def test_each_list_shows_the_most_recent_twenty(client, chain, fang):
    for _ in range(21):
        buy(chain, fang, "10.00")
    client.force_login(chain.hq_admin)

    response = client.get(page_of(fang))

    sales = section(response, "purchases")["sales"]
    assert len(sales) == 20
    assert sales[0].pk == Sale.objects.filter(member=fang).latest("created_at", "id").pk
    assert f"{reverse('admin:loyalty_sale_changelist')}?member__id__exact={fang.pk}" in response.content.decode()
    assert timezone.now() - sales[0].created_at < timedelta(minutes=5)


def test_another_app_adds_a_section_and_extends_one_it_does_not_own(client, chain, fang, monkeypatch):
    from members import member360

    monkeypatch.setattr(member360, "_sections", dict(member360._sections))
    monkeypatch.setattr(member360, "_extenders", {k: list(v) for k, v in member360._extenders.items()})
    member360.register_section(
        "notes", order=12, title="Store notes", template="admin/members/member360/profile.html", loader=lambda m, r: {}
    )
    member360.extend_section("profile", lambda member, request, data: {"phone": f"{data['phone']} (checked)"})
    client.force_login(chain.hq_admin)

    response = client.get(page_of(fang))

    assert [s.key for s in response.context["sections"]][:3] == ["profile", "notes", "scores"]
    assert "13812345678 (checked)" in response.content.decode()


def test_the_members_app_imports_none_of_the_apps_above_it():
    import ast
    from pathlib import Path

    import members

    above = ("loyalty", "campaigns", "analytics")
    for source in Path(members.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not [n for n in names if n.split(".")[0] in above], f"{source} imports {names}"


def test_the_ledger_in_chinese_says_why_in_words_not_the_keys_the_system_wrote(client, chain, fang):
    client.force_login(chain.hq_admin)
    response = client.get(page_of(fang), HTTP_ACCEPT_LANGUAGE="zh-hans")
    reasons = [entry.reason_display for entry in section(response, "points")["points"].entries]
    page = response.content.decode()
    assert "推荐奖励" in reasons
    assert ">referral<" not in page
    assert not [r for r in reasons if r.startswith("campaign ")]
