"""The HQ home lists store staff who look at far more members than their stores serve (DESIGN §10)."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from analytics.access_watch import staff_looking_too_far
from loyalty.services import LineInput, TenderInput, sale_checkout
from members.models import Member, MemberAccess
from tests.factories import StaffFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory

pytestmark = pytest.mark.django_db

HOME = reverse("admin:index")


@pytest.fixture(autouse=True)
def _watch_settings(settings):
    settings.MEMBER_ACCESS_WATCH_DAYS = 7
    settings.MEMBER_ACCESS_WATCH_FACTOR = 3
    settings.MEMBER_ACCESS_WATCH_MIN = 50
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def members(db) -> list[Member]:
    """400 members, as an import would leave them."""
    Member.objects.bulk_create(
        Member(code=f"{9100000000 + n}", phone=f"+86139{n:08d}", name="王芳") for n in range(400)
    )
    return list(Member.objects.order_by("pk"))


def buy(members: list[Member], *, store, cashier):
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=Decimal("1.00"))
    for member in members:
        sale_checkout(
            request_id=str(uuid.uuid4()),
            store=store,
            cashier=cashier,
            member=member,
            lines=[LineInput(category="饮品", quantity=Decimal("1"), unit_price=Decimal("20.00"))],
            tenders=[TenderInput("cash", Decimal("20.00"))],
        )


def looked_up(staff, members: list[Member], *, store=None, days_ago: float = 1) -> None:
    when = timezone.now() - timedelta(days=days_ago)
    MemberAccess.objects.bulk_create(
        MemberAccess(
            created_at=when,
            staff=staff,
            store=store,
            member=member,
            kind=MemberAccess.Kind.LOOKUP,
            channel=MemberAccess.Channel.TABLET,
            searched_by=MemberAccess.SearchedBy.NAME,
            query_hash=1,
        )
        for member in members
    )


@pytest.fixture
def harvest(chain, members):
    """Store A's 20 customers bought this week; cashier A looked up 300 members, cashier B (whose store
    also has 20 customers) the 20 and 10 more who asked about their points."""
    buy(members[:20], store=chain.store_a, cashier=chain.cashier_a)
    buy(members[20:40], store=chain.store_b, cashier=chain.cashier_b)
    looked_up(chain.cashier_a, members[:300], store=chain.store_a)
    looked_up(chain.cashier_b, members[20:50], store=chain.store_b)
    return members


def test_a_cashier_who_looks_up_300_members_where_20_buy_is_flagged_and_a_normal_one_is_not(chain, harvest):
    [flagged] = staff_looking_too_far()

    assert (flagged.user_id, flagged.stores, flagged.looked_at, flagged.served, flagged.limit) == (
        chain.cashier_a.pk,
        ("SH001",),
        300,
        20,
        60,
    )


def test_the_same_member_looked_up_again_counts_once(chain, members):
    looked_up(chain.cashier_a, members[:40] * 5, store=chain.store_a)

    assert staff_looking_too_far() == []


def test_a_quiet_store_is_not_flagged_below_the_floor_and_a_busy_one_has_room(chain, members):
    looked_up(chain.cashier_a, members[:50], store=chain.store_a)  # no sales at all, but only 50 members
    buy(members[100:140], store=chain.store_b, cashier=chain.cashier_b)
    looked_up(chain.cashier_b, members[100:220], store=chain.store_b)  # 120 looked at, 40 bought: 3 ×

    assert staff_looking_too_far() == []


def test_lookups_before_the_window_and_hq_staff_are_not_counted(chain, members):
    looked_up(chain.cashier_a, members[:300], store=chain.store_a, days_ago=8)
    looked_up(chain.hq_admin, members[:400])
    looked_up(chain.marketer, members[:400])

    assert staff_looking_too_far() == []


def test_a_manager_of_two_stores_is_compared_with_the_buyers_of_both(chain, members):
    manager = StaffFactory(username="manager_ab", role="store_manager", stores=[chain.store_a, chain.store_b])
    buy(members[:20], store=chain.store_a, cashier=chain.cashier_a)
    buy(members[10:40], store=chain.store_b, cashier=chain.cashier_b)  # 40 distinct buyers in all
    looked_up(manager, members[:121])

    [flagged] = staff_looking_too_far()
    assert (flagged.user_id, flagged.stores, flagged.served, flagged.limit, flagged.looked_at) == (
        manager.pk,
        ("BJ001", "SH001"),
        40,
        120,
        121,
    )


def test_the_hq_home_lists_the_flagged_cashier_with_a_link_to_their_access_log(client, chain, harvest):
    client.force_login(chain.hq_admin)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"

    page = client.get(HOME).content.decode()

    assert 'id="access-watch"' in page
    log = reverse("admin:members_memberaccess_changelist") + f"?staff={chain.cashier_a.pk}"
    assert f'href="{log}"' in page and page.count('class="access-flag"') == 1
    assert "Looked at 300 members in the last 7 days; 20 bought at their stores (limit 60)." in page

    response = client.get(log)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 300
    assert {row.staff_id for row in response.context["cl"].result_list} == {chain.cashier_a.pk}


def test_the_hq_home_in_chinese_says_it_in_chinese(client, chain, harvest):
    client.force_login(chain.hq_admin)

    page = client.get(HOME, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "近 7 天查看了 300 位会员" in page


def test_only_the_hq_admin_sees_the_list_and_the_access_log(client, chain, harvest):
    client.force_login(chain.marketer)
    assert 'id="access-watch"' not in client.get(HOME).content.decode()
    assert client.get(reverse("admin:members_memberaccess_changelist")).status_code == 403


def test_a_quiet_week_says_so(client, chain):
    client.force_login(chain.hq_admin)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"

    page = client.get(HOME).content.decode()

    assert 'id="access-watch"' in page and 'class="access-flag"' not in page
    assert "No store staff looked at far more members than their stores serve in the last 7 days." in page


def test_the_hq_home_costs_a_fixed_number_of_queries(client, chain, harvest, django_assert_num_queries):
    for n in range(3):
        cashier = StaffFactory(username=f"harvester{n}", role="cashier", stores=[chain.store_b])
        looked_up(cashier, harvest[100 + n : 300 + n], store=chain.store_b)
    client.force_login(chain.hq_admin)
    client.get(HOME)
    cache.clear()

    with django_assert_num_queries(HOME_QUERIES + WATCH_QUERIES) as queries:
        page = client.get(HOME).content.decode()
    assert page.count('class="access-flag"') == 4
    with django_assert_num_queries(HOME_QUERIES):  # the list is cached for a few minutes
        client.get(HOME)
    assert any('"members_memberaccess"' in q["sql"] for q in queries.captured_queries)


# The session, the user, their permissions (two), their role, the recent actions.
HOME_QUERIES = 6
# Distinct members per staff member, the listed accounts, their stores, their stores' buyers.
WATCH_QUERIES = 4
