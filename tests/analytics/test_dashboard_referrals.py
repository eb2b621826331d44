"""Referrals and KOC on a hand-computed March: who came by referral, the referral coefficient and the
ranking of the referrers."""

from decimal import Decimal

import pytest

from loyalty.models import MemberStats
from members.selectors import member_lookup
from tests.analytics import shop_history
from tests.analytics.shop_history import exports_are_audited, join, read, refund, refused, rows_by, sell, total_of
from tests.loyalty.clock import local

pytestmark = pytest.mark.django_db
clock, rules = shop_history.clock, shop_history.rules  # the fixtures


@pytest.fixture
def march(chain, clock, rules):
    """February: 老张 joins at A and buys ¥300, and brings 早鸟. March 15: 老张 brings 甲 (A, buys ¥100) and
    乙 (B, buys nothing); 小李 joins at A by herself, and 路人 at B. March 16: 小李 brings 丙 (A), who buys
    ¥50 and returns ¥20."""
    a, b, cashier = chain.store_a, chain.store_b, chain.cashier_a
    clock.set(local(2026, 2, 10))
    zhang = join(clock, name="老张", store=a, staff=cashier)
    sell(zhang, 300, store=a, cashier=cashier)
    join(clock, name="早鸟", store=a, referrer=zhang)
    clock.set(local(2026, 3, 15))
    jia = join(clock, name="甲", store=a, referrer=zhang)
    sell(jia, 100, store=a, cashier=cashier)
    join(clock, name="乙", store=b, referrer=zhang)
    li = join(clock, name="小李", store=a)
    join(clock, name="路人", store=b)
    clock.set(local(2026, 3, 16))
    bing = join(clock, name="丙", store=a, referrer=li)
    refund(sell(bing, 50, store=a, cashier=cashier), 20, actor=chain.manager_a)
    clock.set(local(2026, 3, 20))
    return {"chain": chain, "zhang": zhang, "li": li}


def _figures(board) -> dict:
    return {f.label: f.value for f in board.figures}


def test_the_referrals_of_the_period_and_the_referral_coefficient(client, march):
    board = read(client, march["chain"].marketer, "referrals").context["board"]

    figures = _figures(board)
    assert (figures["New members"], figures["Came by referral"], figures["Referrers"]) == (5, 3, 2)
    assert figures["Share by referral"] == Decimal("60.00")
    assert figures["Referral coefficient"] == Decimal("1.50")  # 3 brought by 2 referrers
    assert (figures["Referral rewards paid"], figures["Points given for referrals"]) == (2, 600)
    by_period = board.table("by_period")
    days = rows_by(by_period)
    assert [days["2026-03-15"]["new"], days["2026-03-15"]["referred"]] == [4, 2]
    assert [days["2026-03-16"]["new"], days["2026-03-16"]["referred"], days["2026-03-16"]["referred_share"]] == [
        1,
        1,
        Decimal("100.00"),
    ]
    assert total_of(by_period)["referred"] == 3 and len(by_period.rows) == 31


def test_the_koc_ranking_counts_who_each_referrer_brought_and_what_they_spent(client, march):
    board = read(client, march["chain"].marketer, "referrals").context["board"]

    koc = board.table("koc")
    assert [row[:4] for row in koc.rows] == [
        [1, "老张", march["zhang"].code, 2],
        [2, "小李", march["li"].code, 1],
    ]
    zhang, li = (dict(zip([c.key for c in koc.columns], row, strict=True)) for row in koc.rows)
    assert (zhang["bought"], zhang["bought_share"], zhang["their_spend"], zhang["own_spend"]) == (
        1,
        Decimal("50.00"),
        Decimal("100.00"),
        Decimal("300.00"),
    )
    assert (li["bought"], li["their_spend"], li["own_spend"]) == (1, Decimal("30.00"), Decimal("0.00"))
    # Names and member codes only: no phone, masked or not.
    page = read(client, None, "referrals").content.decode()
    assert march["zhang"].phone not in page and march["zhang"].masked_phone not in page
    assert board.charts[1].labels == [f"老张 ({march['zhang'].code})", f"小李 ({march['li'].code})"]


def test_the_store_filter_counts_by_the_referred_members_registration_store(client, march):
    board = read(client, march["chain"].marketer, "referrals", store=march["chain"].store_a.pk).context["board"]

    figures = _figures(board)
    assert (figures["New members"], figures["Came by referral"], figures["Referrers"]) == (3, 2, 2)
    assert figures["Referral coefficient"] == Decimal("1.00")
    assert [row[3] for row in board.table("koc").rows] == [1, 1]
    b = read(client, None, "referrals", store=march["chain"].store_b.pk).context["board"]
    assert _figures(b)["Referral rewards paid"] == 0 and [r[1] for r in b.table("koc").rows] == ["老张"]


def test_a_period_without_referrals_renders_nothing(client, march):
    response = read(client, march["chain"].marketer, "referrals", start="2026-04-01", end="2026-04-30")

    board = response.context["board"]
    assert board.table("koc").rows == [] and _figures(board)["Referral coefficient"] is None
    assert "No member came by referral in this period." in board.notes
    assert "Nothing in this period." in response.content.decode()


def test_the_page_costs_the_same_queries_with_more_referrals(client, march, clock, django_assert_num_queries):
    chain = march["chain"]
    read(client, chain.marketer, "referrals")
    with django_assert_num_queries(8):  # session, user, groups, the form's stores + the dashboard's four
        read(client, None, "referrals")

    clock.set(local(2026, 3, 18))
    for i, name in enumerate(["达人甲", "达人乙", "达人丙"]):
        referrer = join(clock, name=name, store=chain.store_b)
        for _j in range(i + 1):
            sell(join(clock, store=chain.store_b, referrer=referrer), 20, store=chain.store_b, cashier=chain.cashier_b)
    clock.set(local(2026, 3, 20))
    with django_assert_num_queries(8):
        board = read(client, None, "referrals").context["board"]
    ranking = board.table("koc").rows
    # Ties on members brought go to the referrer whose members spent more (老张's ¥100 against ¥40).
    assert [row[1] for row in ranking[:3]] == ["达人丙", "老张", "达人乙"] and len(ranking) == 5


def test_the_marketer_exports_the_ranking_and_each_export_is_audited(client, march):
    exports_are_audited(client, march["chain"].marketer, "referrals", "koc")


def test_store_staff_cannot_read_it(client, march):
    refused(client, march["chain"].manager_a, "referrals")
    refused(client, march["chain"].cashier_a, "referrals")


def test_refunds_beyond_the_recorded_spend_never_make_a_spend_negative(client, march):
    # Imported history can refund more than the statistics saw spent.
    MemberStats.objects.filter(member=march["zhang"]).update(total_refunded=Decimal("900.00"))
    # Names are encrypted: the member is found as the back office finds one (members.selectors).
    MemberStats.objects.filter(member__in=member_lookup(text="甲")).update(total_refunded=Decimal("150.00"))

    koc = read(client, march["chain"].marketer, "referrals").context["board"].table("koc")

    zhang = dict(zip([c.key for c in koc.columns], koc.rows[0], strict=True))
    assert (zhang["name"], zhang["their_spend"], zhang["own_spend"]) == ("老张", Decimal("0.00"), Decimal("0.00"))
