import csv
import io
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from loyalty.admin_views import recharge_report
from loyalty.models import (
    EarningRule,
    LoyaltySettings,
    MemberStats,
    PointsAccount,
    PointsEntry,
    PointsLot,
    RechargePackage,
    Refund,
    Sale,
    Tier,
    TierChange,
    TierPolicy,
    TopUp,
    Wallet,
    WalletEntry,
)
from loyalty.services import points_adjust, sale_refund, wallet_top_up
from stores.models import AuditEntry
from tests.admin_helpers import admin_search
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, RechargePackageFactory, TierFactory
from tests.loyalty.conftest import rid

pytestmark = pytest.mark.django_db

ADJUST = reverse("admin:loyalty_points_adjust")
REPORT = reverse("admin:loyalty_recharge_report")
RISK = reverse("admin:loyalty_downgrade_risk")
APP_INDEX = reverse("admin:app_list", args=["loyalty"])

# Every changelist: session, user, the user's and the group's model permissions, the capped count
# and the page. On top: the role lookup for the tool links (points accounts and ledger, sales' history
# import, stored-value ledger, top-ups, member statistics), the choices of related-field filters (stores,
# tiers, packages), the rules' stores, and a full count on the small rule tables.
CHANGELISTS = {
    PointsAccount: 7,
    PointsEntry: 8,
    PointsLot: 6,
    Sale: 8,
    Refund: 7,
    Wallet: 6,
    WalletEntry: 8,
    TopUp: 9,
    TierChange: 7,
    MemberStats: 8,
    EarningRule: 8,
    Tier: 7,
    RechargePackage: 7,
}
# Every change page: session, user, the row with its related rows (one query), the user's and the
# group's permissions and the content type of the history link. On top: the role lookup (points account), each
# inline's rows (sale: lines, tenders, refunds), the rule's stores and tiers for the example.
CHANGE_PAGES = {
    PointsAccount: 7,
    PointsEntry: 6,
    PointsLot: 6,
    Sale: 9,
    Refund: 6,
    Wallet: 6,
    WalletEntry: 6,
    TopUp: 6,
    TierChange: 6,
    MemberStats: 6,
    EarningRule: 9,
    Tier: 6,
    RechargePackage: 6,
    LoyaltySettings: 6,
    TierPolicy: 6,
}


def url(model, view="changelist", *args) -> str:
    return reverse(f"admin:loyalty_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def tiers(db):
    return [
        TierFactory(code="NORMAL", name="普通会员", rank=0, threshold=Decimal("0")),
        TierFactory(code="SILVER", name="银卡", rank=1, threshold=Decimal("1000"), points_multiplier=Decimal("1.20")),
        TierFactory(code="GOLD", name="金卡", rank=2, threshold=Decimal("5000"), points_multiplier=Decimal("1.50")),
    ]


def history(chain, sell, member) -> Sale:
    """A top-up, a sale partly refunded, a sale paid from stored value and a manual adjustment."""
    package = RechargePackage.objects.first() or RechargePackageFactory()
    wallet_top_up(
        request_id=rid(), member=member, store=chain.store_a, staff=chain.cashier_a, tender="mobile", package=package
    )
    sale = sell(member, "1200.00", cash="1200.00")
    sale_refund(request_id=rid(), sale=sale, actor=chain.manager_a, reason="退货", amount=Decimal("100.00"))
    sell(member, "60.00", stored_value="60.00")
    points_adjust(request_id=rid(), member=member, points=50, reason="补录积分", actor=chain.hq_admin)
    return sale


@pytest.fixture
def rows(chain, sell, member, tiers):
    history(chain, sell, member)
    EarningRule.objects.get().stores.add(chain.store_a)
    return member


def get_counted(client, path, django_assert_num_queries, expected, **params):
    ContentType.objects.clear_cache()  # the content type cache is per process: start each count cold
    with django_assert_num_queries(expected):
        response = client.get(path, params)
    return response


@pytest.mark.parametrize("model", list(CHANGELISTS), ids=lambda m: m.__name__)
def test_each_changelist_renders_with_a_pinned_query_count_that_does_not_grow(
    client, chain, sell, rows, model, django_assert_num_queries
):
    client.force_login(chain.hq_admin)
    response = get_counted(client, url(model), django_assert_num_queries, CHANGELISTS[model])
    assert response.status_code == 200
    shown = len(response.context["cl"].result_list)
    assert shown >= 1
    for phone in ("13900000001", "13900000002", "13900000003"):
        other = MemberFactory(phone=phone)
        history(chain, sell, other)
    TierFactory(code="DIAMOND", name="钻石", rank=3, threshold=Decimal("20000"))
    RechargePackageFactory(name="充1000送150", pay_amount=Decimal("1000"), bonus_amount=Decimal("150"))
    response = get_counted(client, url(model), django_assert_num_queries, CHANGELISTS[model])
    assert response.status_code == 200
    if model not in (EarningRule,):
        assert len(response.context["cl"].result_list) > shown


def first_row(model):
    if model in (LoyaltySettings, TierPolicy):
        return model.current()
    return model.objects.order_by("pk").first()


@pytest.mark.parametrize("model", list(CHANGE_PAGES), ids=lambda m: m.__name__)
def test_each_change_page_renders_with_a_pinned_query_count_that_does_not_grow(
    client, chain, sell, rows, model, django_assert_num_queries
):
    client.force_login(chain.hq_admin)
    obj = first_row(model)
    response = get_counted(client, url(model, "change", obj.pk), django_assert_num_queries, CHANGE_PAGES[model])
    assert response.status_code == 200
    # More history for the same member: a second refund on the first sale, more entries and lots.
    sale = Sale.objects.order_by("pk").first()
    sale_refund(request_id=rid(), sale=sale, actor=chain.manager_a, reason="再退", amount=Decimal("50.00"))
    history(chain, sell, rows)
    response = get_counted(client, url(model, "change", obj.pk), django_assert_num_queries, CHANGE_PAGES[model])
    assert response.status_code == 200


def test_the_sale_page_lists_its_lines_tenders_and_refunds(client, chain, rows):
    client.force_login(chain.hq_admin)
    sale = Sale.objects.filter(refunds__isnull=False).first()
    page = client.get(url(Sale, "change", sale.pk)).content.decode()
    assert "饮品" in page and "1200.00" in page
    assert "退货" in page and reverse("admin:loyalty_refund_change", args=[sale.refunds.get().pk]) in page


def test_ledgers_are_read_only_even_for_the_hq_admin(client, chain, rows):
    client.force_login(chain.hq_admin)
    entry = PointsEntry.objects.first()
    assert client.get(url(PointsEntry, "add")).status_code == 403
    response = client.post(url(PointsEntry, "change", entry.pk), {"points": 999999})
    assert response.status_code == 403
    assert client.post(url(PointsEntry, "delete", entry.pk), {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.points != 999999


def test_the_points_ledger_is_searched_by_member_code_or_phone(client, chain, sell, rows):
    other = MemberFactory(phone="13900000009", name="赵敏")
    history(chain, sell, other)
    client.force_login(chain.hq_admin)
    for term in (other.code, "139 0000 0009", "+86 139-0000-0009"):
        listed = admin_search(client, url(PointsEntry), term).context["cl"].result_list
        assert listed and {e.member_id for e in listed} == {other.pk}
    assert not admin_search(client, url(PointsEntry), "'; DROP TABLE x;--").context["cl"].result_list


def test_filters_by_kind_and_store(client, chain, rows):
    client.force_login(chain.hq_admin)
    listed = client.get(url(PointsEntry), {"kind__exact": "adjust"}).context["cl"].result_list
    assert [e.kind for e in listed] == ["adjust"]
    listed = client.get(url(PointsEntry), {"store__id__exact": chain.store_b.pk}).context["cl"].result_list
    assert not listed


# --- rules -------------------------------------------------------------------------------------


def form_data(response) -> dict:
    """What the change form would post back unchanged."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else value
    return data


@pytest.mark.parametrize("model", [LoyaltySettings, TierPolicy], ids=lambda m: m.__name__)
def test_singletons_open_their_one_row_and_cannot_be_added_or_deleted(client, chain, model):
    client.force_login(chain.hq_admin)
    response = client.get(url(model))
    obj = model.objects.get()
    assert response.status_code == 302 and response["Location"] == url(model, "change", obj.pk)
    assert client.get(url(model, "add")).status_code == 403
    assert client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    client.get(url(model))
    assert model.objects.count() == 1


def test_changing_an_earning_rule_is_audited_and_categories_are_a_comma_list(client, chain, base_rule):
    client.force_login(chain.hq_admin)
    page = client.get(url(EarningRule, "change", base_rule.pk))
    data = form_data(page)
    data.update(excluded_categories="烟酒，充值卡, 烟酒", change_reason="春节活动调整", stores=[chain.store_a.pk])
    response = client.post(url(EarningRule, "change", base_rule.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    base_rule.refresh_from_db()
    assert base_rule.excluded_categories == ["烟酒", "充值卡"]
    audit = AuditEntry.objects.get(action="loyalty.rule_changed")
    assert audit.actor == chain.hq_admin
    assert audit.target_id == str(base_rule.pk) and audit.target_type == "loyalty.earningrule"
    assert sorted(audit.data["changed"]) == ["excluded_categories", "stores"]
    assert audit.data["after"]["excluded_categories"] == ["烟酒", "充值卡"]
    assert audit.reason == "春节活动调整"
    # The form shows the list back as text.
    assert 'value="烟酒, 充值卡"' in client.get(url(EarningRule, "change", base_rule.pk)).content.decode()


def test_a_too_long_category_is_a_field_error_and_changes_nothing(client, chain, base_rule):
    client.force_login(chain.hq_admin)
    data = form_data(client.get(url(EarningRule, "change", base_rule.pk)))
    data["excluded_categories"] = "x" * 65
    response = client.post(url(EarningRule, "change", base_rule.pk), data)
    assert response.status_code == 200
    assert "excluded_categories" in response.context["adminform"].form.errors
    assert not AuditEntry.objects.filter(action="loyalty.rule_changed").exists()


@pytest.mark.parametrize("model", [LoyaltySettings, TierPolicy], ids=lambda m: m.__name__)
def test_changing_a_singleton_is_audited(client, chain, model):
    client.force_login(chain.hq_admin)
    obj = model.current()
    data = form_data(client.get(url(model, "change", obj.pk)))
    field = "redeem_step" if model is LoyaltySettings else "retention_days"
    data[field] = 200
    response = client.post(url(model, "change", obj.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert getattr(model.objects.get(), field) == 200
    audit = AuditEntry.objects.get(action="loyalty.rule_changed")
    assert audit.data["changed"] == [field] and audit.data["before"][field] in ("100", "365", 100, 365)


def test_adding_a_tier_and_a_package_is_audited(client, chain):
    client.force_login(chain.hq_admin)
    response = client.post(
        url(Tier, "add"),
        {
            "code": "SILVER",
            "name": "银卡",
            "rank": 1,
            "threshold": "1000",
            "discount_percent": "2",
            "points_multiplier": "1.2",
            "birthday_points": 0,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    response = client.post(
        url(RechargePackage, "add"), {"name": "充500送50", "pay_amount": "500", "bonus_amount": "50"}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    audits = AuditEntry.objects.filter(action="loyalty.rule_changed")
    assert sorted(a.target_type for a in audits) == ["loyalty.rechargepackage", "loyalty.tier"]
    assert all(a.data["created"] for a in audits)


def test_tiers_are_listed_by_rank(client, chain, tiers):
    client.force_login(chain.hq_admin)
    listed = client.get(url(Tier)).context["cl"].result_list
    assert [t.rank for t in listed] == [0, 1, 2]


def test_the_rule_page_works_out_how_its_multipliers_combine(client, chain):
    TierFactory(code="SILVER", name="银卡", rank=1, points_multiplier=Decimal("1.20"))
    rule = EarningRuleFactory(
        member_day_weekday=2,
        member_day_multiplier=Decimal("2"),
        birthday_month_multiplier=Decimal("1.5"),
        combine=EarningRule.Combine.MULTIPLY,
    )
    client.force_login(chain.hq_admin)
    page = client.get(url(EarningRule, "change", rule.pk), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "member day ×2, birthday month ×1.5, 银卡 ×1.2 → <strong>×3.6</strong>" in page
    assert "earns 360 points" in page


# --- manual adjustment ---------------------------------------------------------------------------


def adjust_form(client, **overrides) -> dict:
    page = client.get(ADJUST)
    assert page.status_code == 200
    request_id = page.context["form"]["request_id"].value()
    return {"request_id": request_id, "member": "", "points": "", "reason": "", **overrides}


def test_hq_adjusts_points_through_the_service_with_a_reason(client, chain, member, policy):
    client.force_login(chain.hq_admin)
    response = client.post(ADJUST, adjust_form(client, member=member.code, points="120", reason="活动补发"))
    assert response.status_code == 302
    entry = PointsEntry.objects.get(kind="adjust")
    assert (entry.member, entry.points, entry.reason, entry.staff) == (member, 120, "活动补发", chain.hq_admin)
    assert PointsAccount.objects.get(pk=member.pk).available == 120
    assert AuditEntry.objects.filter(action="points.adjusted", target_id=str(member.pk)).exists()
    # By phone, and a deduction.
    response = client.post(ADJUST, adjust_form(client, member="138 0013 8000", points="-20", reason="误操作冲正"))
    assert response.status_code == 302
    assert PointsAccount.objects.get(pk=member.pk).available == 100


def test_a_missing_reason_is_a_field_error_and_writes_nothing(client, chain, member, policy):
    client.force_login(chain.hq_admin)
    response = client.post(ADJUST, adjust_form(client, member=member.code, points="100", reason="   "))
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert not PointsEntry.objects.exists()
    assert not AuditEntry.objects.filter(action="points.adjusted").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"member": "13900000000"}, "member"),  # nobody has this phone
        ({"member": "王芳"}, "member"),  # a name is not enough
        ({"points": "0"}, "points"),
        ({"points": "abc"}, "points"),
        ({"points": "-500"}, "points"),  # more than the balance: the service's error
    ],
)
def test_bad_adjustments_show_the_field_error_and_write_nothing(client, chain, member, policy, overrides, field):
    client.force_login(chain.hq_admin)
    data = adjust_form(client, **{"member": member.code, "points": "100", "reason": "测试", **overrides})
    response = client.post(ADJUST, data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not PointsEntry.objects.exists()


def test_submitting_the_same_form_twice_adjusts_once(client, chain, member, policy):
    client.force_login(chain.hq_admin)
    data = adjust_form(client, member=member.code, points="100", reason="双击")
    assert client.post(ADJUST, data).status_code == 302
    assert client.post(ADJUST, data).status_code == 302
    assert PointsEntry.objects.filter(kind="adjust").count() == 1
    assert PointsAccount.objects.get(pk=member.pk).available == 100
    # A fresh form is a new adjustment.
    client.post(ADJUST, adjust_form(client, member=member.code, points="100", reason="第二次"))
    assert PointsAccount.objects.get(pk=member.pk).available == 200


def test_the_points_account_page_links_to_the_adjustment_for_its_member(client, chain, rows):
    client.force_login(chain.hq_admin)
    page = client.get(url(PointsAccount, "change", rows.pk)).content.decode()
    assert f"{ADJUST}?member={rows.code}" in page
    assert client.get(ADJUST, {"member": rows.code}).context["form"]["member"].value() == rows.code


def test_the_app_index_links_the_custom_pages(client, chain):
    client.force_login(chain.hq_admin)
    page = client.get(APP_INDEX).content.decode()
    for link in (ADJUST, REPORT, RISK):
        assert link in page


# --- who may open what ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["cashier_a", "manager_a", "cashier_b"])
@pytest.mark.parametrize("path", [ADJUST, REPORT, RISK, url(PointsEntry), url(Sale), url(EarningRule)])
def test_store_staff_cannot_open_the_loyalty_back_office(client, chain, persona, path):
    client.force_login(getattr(chain, persona))
    response = client.get(path)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_the_marketer_cannot_adjust_points_or_open_the_ledgers(client, chain, member, policy):
    client.force_login(chain.marketer)
    assert client.get(ADJUST).status_code == 403
    response = client.post(ADJUST, {"member": member.code, "points": "100", "reason": "x", "request_id": rid()})
    assert response.status_code == 403
    assert not PointsEntry.objects.exists()
    assert client.get(url(PointsEntry)).status_code == 403
    # Reports are analytics, which marketers read.
    assert client.get(REPORT).status_code == 200
    assert client.get(RISK).status_code == 200


# --- recharge report -----------------------------------------------------------------------------


@pytest.fixture
def top_ups(chain, sell, member, policy):
    package = RechargePackageFactory()
    other = MemberFactory(phone="13900000001", name="李娜")
    for _ in range(2):
        wallet_top_up(
            request_id=rid(),
            member=member,
            store=chain.store_a,
            staff=chain.cashier_a,
            tender="mobile",
            package=package,
        )
    wallet_top_up(
        request_id=rid(), member=other, store=chain.store_b, staff=chain.cashier_b, tender="cash", amount=Decimal("300")
    )
    sale = sell(member, "110.00", stored_value="110.00")  # 100 principal + 10 bonus from 1000 + 100
    sale_refund(request_id=rid(), sale=sale, actor=chain.manager_a, reason="退货", amount=Decimal("55.00"))
    # Last year's top-up stays out of this month.
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() - timedelta(days=400)):
        wallet_top_up(
            request_id=rid(),
            member=other,
            store=chain.store_b,
            staff=chain.cashier_b,
            tender="cash",
            amount=Decimal("9"),
        )
    return member, other


def table(response, key):
    return next(t for t in response.context["tables"] if t.key == key)


def test_the_recharge_report_totals_top_ups_and_spend(client, chain, top_ups, django_assert_num_queries):
    client.force_login(chain.hq_admin)
    ContentType.objects.clear_cache()
    # session, user, role, the 4 tables (one aggregate query each), user and group permissions
    with django_assert_num_queries(9):
        response = client.get(REPORT)
    assert response.status_code == 200
    stores = {row["label"]: row for row in table(response, "store").rows}
    a, b = stores[f"SH001 {chain.store_a.name}"], stores[f"BJ001 {chain.store_b.name}"]
    assert (a["topups"], a["paid"], a["bonus_given"]) == (2, Decimal("1000.00"), Decimal("100.00"))
    assert (a["spent_principal"], a["spent_bonus"], a["restored"]) == (
        Decimal("100.00"),
        Decimal("10.00"),
        Decimal("55.00"),
    )
    assert a["net_spend"] == Decimal("55.00")
    assert (b["topups"], b["paid"], b["bonus_given"]) == (1, Decimal("300.00"), Decimal("0.00"))
    for key in ("store", "staff", "day"):
        totals = table(response, key).totals
        assert (totals["topups"], totals["paid"], totals["bonus_given"], totals["net_spend"]) == (
            3,
            Decimal("1300.00"),
            Decimal("100.00"),
            Decimal("55.00"),
        )
    packages = {row["label"]: row for row in table(response, "package").rows}
    assert packages["充500送50"]["topups"] == 2
    assert len(table(response, "day").rows) == 1
    # Numbers follow the language's format: Chinese groups no digits, English by thousands.
    assert '<td class="num">1300.00</td>' in response.content.decode()
    assert "1,300.00" in client.get(REPORT, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_recharge_report_csv_matches_the_table(client, chain, top_ups):
    client.force_login(chain.hq_admin)
    today = timezone.localdate().isoformat()
    shown = table(client.get(REPORT, {"start": today, "end": today}), "staff")
    response = client.get(REPORT, {"start": today, "end": today, "format": "csv", "table": "staff"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(lines) == 1 + len(shown.rows) + 1
    for line, row in zip(lines[1:], shown.rows, strict=False):
        assert line == [row["label"], *(str(row[key]) for key, _label in shown.columns)]
    assert lines[-1][1:] == [str(shown.totals[key]) for key, _label in shown.columns]
    assert AuditEntry.objects.filter(action="loyalty.report_exported", actor=chain.hq_admin).exists()


def test_the_recharge_report_covers_the_dates_asked(client, chain, top_ups):
    client.force_login(chain.hq_admin)
    last_year = (timezone.localdate() - timedelta(days=400)).isoformat()
    response = client.get(REPORT, {"start": last_year, "end": last_year})
    assert table(response, "store").totals["paid"] == Decimal("9.00")
    response = client.get(REPORT, {"start": "2026-02-01", "end": "2026-01-01"})
    assert "end" in response.context["form"].errors and not response.context["tables"]
    assert client.get(REPORT, {"format": "csv", "table": "nope"}).status_code == 400


def test_report_tables_take_one_query_each(top_ups, django_assert_num_queries):
    today = timezone.localdate()
    with django_assert_num_queries(4):
        recharge_report(today, today)


# --- downgrade risk ------------------------------------------------------------------------------


def test_downgrade_risk_lists_members_below_their_tier_whose_retention_is_over(
    client, chain, sell, tiers, policy, django_assert_num_queries
):
    at_risk = MemberFactory(phone="13800138000", name="王芳")
    recent = MemberFactory(phone="13900000001", name="李娜")
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() - timedelta(days=400)):
        sell(at_risk, "1200.00", cash="1200.00")  # 银卡 400 days ago; that spend is outside the window now
    sell(at_risk, "150.00", cash="150.00")
    sell(recent, "1200.00", cash="1200.00")  # 银卡 today: kept for a year
    assert MemberStats.objects.get(pk=at_risk.pk).tier.name == "银卡"
    client.force_login(chain.hq_admin)
    ContentType.objects.clear_cache()
    # session, user, role, tier policy (page and selector), candidates, their value on the horizon, the
    # days of those below it, 2 × permissions, the member access log (the full phones shown: their
    # members, one INSERT)
    with django_assert_num_queries(12):
        response = client.get(RISK)
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(r["member"].code, r["tier"].name, r["value"], r["missing"]) for r in rows] == [
        (at_risk.code, "银卡", Decimal("150.00"), Decimal("850.00"))
    ]
    page = response.content.decode()
    assert "13800138000" in page and "138****8000" not in page  # the HQ admin reads full phones
    assert "¥850.00" in page
    # Within 0 days: still listed (retention is over); a new upgrade today never is.
    assert len(client.get(RISK, {"within_days": "0"}).context["rows"]) == 1
    assert client.get(RISK, {"within_days": "abc"}).status_code == 200


def test_downgrade_risk_is_capped_with_a_note(client, chain, tiers, policy, monkeypatch):
    from loyalty import admin_views

    monkeypatch.setattr(admin_views, "MAX_RISK_ROWS", 1)
    silver = Tier.objects.get(code="SILVER")
    long_ago = timezone.now() - timedelta(days=400)
    for phone in ("13900000001", "13900000002"):
        member = MemberFactory(phone=phone)
        MemberStats.objects.create(member=member, tier=silver, tier_since=long_ago)
    client.force_login(chain.hq_admin)
    response = client.get(RISK)
    assert len(response.context["rows"]) == 1 and response.context["capped"]


def test_lots_wallets_and_tier_history_list_the_members_rows(client, chain, rows):
    client.force_login(chain.hq_admin)
    assert admin_search(client, url(PointsLot), rows.code).context["cl"].result_list
    assert admin_search(client, url(Wallet), rows.code).context["cl"].result_list
    assert admin_search(client, url(WalletEntry), rows.code).context["cl"].result_list
    assert admin_search(client, url(TopUp), rows.code).context["cl"].result_list
    assert admin_search(client, url(Refund), rows.code).context["cl"].result_list
    assert admin_search(client, url(TierChange), rows.code).context["cl"].result_list


# --- the admin home page -------------------------------------------------------------------------


def test_the_admin_home_links_the_loyalty_tools_each_to_those_who_may_open_it(client, chain):
    home = reverse("admin:index")
    client.force_login(chain.hq_admin)
    page = client.get(home).content.decode()
    assert 'id="loyalty-tools"' in page
    for link in (ADJUST, REPORT, RISK):
        assert f'href="{link}"' in page

    # Marketers read the reports (analytics) but may not adjust points.
    client.force_login(chain.marketer)
    page = client.get(home).content.decode()
    assert f'href="{ADJUST}"' not in page
    assert f'href="{REPORT}"' in page
    assert f'href="{RISK}"' in page
    # The box is the home page's, not every app's.
    assert 'id="loyalty-tools"' not in client.get(reverse("admin:app_list", args=["members"])).content.decode()


def test_the_marketers_report_breadcrumbs_link_only_pages_they_may_open(client, chain):
    client.force_login(chain.marketer)
    for page, changelist in ((REPORT, url(TopUp)), (RISK, url(MemberStats))):
        html = client.get(page).content.decode()
        assert f'href="{changelist}"' not in html
        assert f'href="{APP_INDEX}"' not in html
    client.force_login(chain.hq_admin)
    html = client.get(REPORT).content.decode()
    assert f'href="{url(TopUp)}"' in html and f'href="{APP_INDEX}"' in html
