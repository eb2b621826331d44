"""Configuration that breaks a rule of the database is refused by its back-office page with a message
next to the field, in the reader's language, never a constraint's name.

CASES holds, for every constraint of every model HQ edits in the back office, a value that breaks it,
posted through that model's admin page over the page's own values. A new constraint on such a model
without a row here (or in NOT_ON_A_FORM, with the reason) fails
test_every_constraint_of_an_editable_model_has_a_case.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.forms import MultiWidget
from django.test import RequestFactory
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import override

from analytics.models import ScoreSettings
from campaigns.models import Automation, Campaign, CouponTemplate, MallItem, MessageTemplate
from loyalty.models import EarningRule, LoyaltySettings, RechargePackage, Tier, TierPolicy
from members.models import Member, Tag
from servicecards.models import (
    CardProduct,
    CardSettings,
    CommissionRule,
    Room,
    Service,
    ServiceStaff,
    WorkingHours,
)
from stores.models import Region, StaffProfile, Store
from tests.factories import MemberFactory
from tests.factories.campaigns import AmountOffTemplateFactory, CouponTemplateFactory
from tests.factories.loyalty import RechargePackageFactory
from tests.factories.servicecards import RoomFactory, ServiceFactory, ServiceStaffFactory, WorkingHoursFactory

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("stores", "members", "loyalty", "campaigns", "analytics", "servicecards")
LANGUAGES = ("zh-hans", "en")


@dataclass(frozen=True)
class Case:
    model: type
    field: str
    values: dict | Callable = field(default_factory=dict)
    # The object whose change page is posted (None: the add page).
    page: Callable | None = None
    # A check of the form or its service refuses the value first, with its own message on the same field.
    by_form: bool = False
    # The inline (prefix) the field is in, for a model edited inside another's page.
    inline: str | None = None


def _settings(chain):
    return LoyaltySettings.current()


def _score_settings(chain):
    return ScoreSettings.load()


def _segment(chain):
    from campaigns.models import Segment

    return Segment.objects.create(name="全部会员", rules=[], created_by=chain.hq_admin).pk


def _member(chain):
    return MemberFactory()


def _issued_template(chain):
    template = CouponTemplateFactory(total_quantity=100)
    CouponTemplate.objects.filter(pk=template.pk).update(issued_count=5)
    template.refresh_from_db()
    return template


def _cashier_with_a_colleague_numbered(chain):
    StaffProfile.objects.filter(user=chain.cashier_b).update(employee_no="E001")
    return chain.cashier_a


COUPON = {"name": "满200减50", "kind": "threshold_off", "amount": "50", "threshold": "200", "validity": "days"}
COUPON_DAYS = {**COUPON, "valid_days": "30"}
PERCENT = {**COUPON_DAYS, "kind": "percent_off", "amount": "0", "threshold": "0", "percent_off": "10"}
GIFT = {**COUPON_DAYS, "kind": "gift", "amount": "0", "threshold": "0", "gift_name": "拿铁", "gift_value": "32"}
GIFT |= {"categories": "咖啡"}
MALL = {"name": "保温杯", "kind": "gift", "points_price": "1000", "stock": "10", "cost": "25"}
CAMPAIGN = {
    "name": "双十一",
    "starts_at_0": "2026-11-01",
    "starts_at_1": "00:00",
    "ends_at_0": "2026-11-12",
    "ends_at_1": "00:00",
    "holdout_percent": "10",
    "points": "100",
    "multiplier": "1",
}
AUTOMATION = {
    "name": "生日礼",
    "trigger": "birthday",
    "days": "7",
    "points": "100",
    "multiplier": "1",
    "multiplier_days": "0",
    "max_per_member": "1",
    "cap_days": "30",
    "holdout_percent": "0",
}
MESSAGE = {"name": "提醒", "channel": "sms", "body": "{name}您好"}
SERVICE = {"code": "WASH", "name": "洗护", "duration_minutes": "60", "price": "88", "is_active": "on"}
CARD = {
    "code": "WASH10",
    "name": "10次洗护卡",
    "kind": "count",
    "uses": "10",
    "bonus_uses": "0",
    "price": "680",
    "validity_months": "12",
    "valid_from": "purchase",
    "is_active": "on",
}
PERIOD_CARD = {**CARD, "code": "GYM1M", "name": "健身月卡", "kind": "period", "uses": "0", "validity_months": "1"}


def _card(values):
    def make(chain, obj):
        return {**values, "services": [ServiceFactory().pk]}

    return make


def _card_settings(chain):
    return CardSettings.current()


def _staff_with_hours(chain):
    staff = ServiceStaffFactory()
    WorkingHoursFactory(staff=staff, store=chain.store_a, weekday=0, starts="09:00", ends="12:00")
    WorkingHoursFactory(staff=staff, store=chain.store_a, weekday=1, starts="09:00", ends="12:00")
    return staff


def _commission_for(service_too: bool):
    def values(chain, obj):
        service = ServiceFactory() if service_too else None
        CommissionRule.objects.create(job="therapist", service=service, amount=10)
        return {"job": "therapist", "service": service.pk if service else "", "amount": "5", "percent": "0"}

    return values


CASES: dict[str, Case] = {
    # loyalty settings
    "settings_max_share_0_1": Case(LoyaltySettings, "redeem_max_share", {"redeem_max_share": "1.5"}, _settings),
    "settings_clearing_month": Case(LoyaltySettings, "annual_clearing_month", {"annual_clearing_month": 13}, _settings),
    "settings_clearing_day": Case(LoyaltySettings, "annual_clearing_day", {"annual_clearing_day": 32}, _settings),
    "settings_clearing_date_exists": Case(
        LoyaltySettings, "annual_clearing_day", {"annual_clearing_month": 2, "annual_clearing_day": 30}, _settings
    ),
    "settings_redeem_rate_positive": Case(
        LoyaltySettings, "redeem_points_per_yuan", {"redeem_points_per_yuan": 0}, _settings, by_form=True
    ),
    "settings_redeem_step_positive": Case(LoyaltySettings, "redeem_step", {"redeem_step": 0}, _settings, by_form=True),
    "settings_expiry_months_positive": Case(LoyaltySettings, "expiry_months", {"expiry_months": 0}, _settings),
    "settings_referral_min_purchase_not_negative": Case(
        LoyaltySettings, "referral_min_purchase", {"referral_min_purchase": "-1"}, _settings
    ),
    "settings_manager_caps_ordered": Case(
        LoyaltySettings,
        "manager_adjust_max_per_operation",
        {"manager_adjust_max_per_operation": 3000, "manager_adjust_max_per_day": 2000},
        _settings,
    ),
    # tiers
    "tier_policy_window_positive": Case(
        TierPolicy, "window_days", {"window_days": 0}, lambda chain: TierPolicy.current()
    ),
    "tier_discount_range": Case(
        Tier, "discount_percent", {"code": "GOLD", "name": "金卡", "rank": 2, "discount_percent": "100"}
    ),
    "tier_multiplier_positive": Case(
        Tier, "points_multiplier", {"code": "GOLD", "name": "金卡", "rank": 2, "points_multiplier": "0"}
    ),
    "tier_threshold_positive": Case(
        Tier, "threshold", {"code": "GOLD", "name": "金卡", "rank": 2, "threshold": "-1"}, by_form=True
    ),
    # recharge packages
    "package_pay_positive": Case(
        RechargePackage, "pay_amount", {"name": "充0送0", "pay_amount": "0", "bonus_amount": "0"}, by_form=True
    ),
    "package_bonus_not_negative": Case(
        RechargePackage, "bonus_amount", {"name": "充1", "pay_amount": "1", "bonus_amount": "-1"}, by_form=True
    ),
    "package_name_unique": Case(
        RechargePackage,
        "name",
        lambda chain, obj: (
            RechargePackageFactory(name="充500送50")
            and {"name": "充500送50", "pay_amount": "500", "bonus_amount": "60", "is_active": "on"}
        ),
    ),
    # earning rules
    "rule_rate_positive": Case(EarningRule, "points_per_yuan", {"name": "基础", "points_per_yuan": "-1"}),
    "rule_member_day_multiplier_min": Case(
        EarningRule, "member_day_multiplier", {"name": "会员日", "member_day_weekday": 2, "member_day_multiplier": "0"}
    ),
    "rule_birthday_multiplier_min": Case(
        EarningRule, "birthday_month_multiplier", {"name": "生日", "birthday_month_multiplier": "0.5"}
    ),
    "rule_per_sale_cap_positive": Case(EarningRule, "per_sale_cap", {"name": "基础", "per_sale_cap": 0}),
    "rule_per_day_cap_positive": Case(EarningRule, "per_day_cap", {"name": "基础", "per_day_cap": 0}),
    "rule_caps_ordered": Case(EarningRule, "per_sale_cap", {"name": "基础", "per_sale_cap": 500, "per_day_cap": 200}),
    "rule_dates_ordered": Case(
        EarningRule, "ends_on", {"name": "五一", "starts_on": "2026-05-02", "ends_on": "2026-05-01"}
    ),
    # coupon templates: their form checks each kind's terms itself (the constraints keep what it missed)
    "coupon_amount_not_negative": Case(CouponTemplate, "amount", {**COUPON_DAYS, "amount": "-5"}, by_form=True),
    "coupon_threshold_not_negative": Case(CouponTemplate, "threshold", {**PERCENT, "threshold": "-1"}),
    "coupon_percent_in_range": Case(CouponTemplate, "percent_off", {**PERCENT, "percent_off": "150"}, by_form=True),
    "coupon_template_not_over_issued": Case(
        CouponTemplate, "total_quantity", {"total_quantity": "3"}, _issued_template, by_form=True
    ),
    "coupon_template_dates_ordered": Case(
        CouponTemplate,
        "valid_until",
        {
            **COUPON,
            "validity": "dates",
            "valid_from_0": "2026-06-02",
            "valid_from_1": "00:00",
            "valid_until_0": "2026-06-01",
            "valid_until_1": "00:00",
        },
        by_form=True,
    ),
    "coupon_template_has_validity": Case(CouponTemplate, "valid_days", COUPON, by_form=True),
    "coupon_threshold_above_amount": Case(
        CouponTemplate, "threshold", {**COUPON_DAYS, "threshold": "40"}, by_form=True
    ),
    "coupon_amount_off_positive": Case(
        CouponTemplate, "amount", {**COUPON_DAYS, "kind": "amount_off", "amount": "0", "threshold": "0"}, by_form=True
    ),
    "coupon_percent_off_positive": Case(CouponTemplate, "percent_off", {**PERCENT, "percent_off": "0"}, by_form=True),
    "coupon_cap_positive": Case(CouponTemplate, "max_discount", {**PERCENT, "max_discount": "0"}, by_form=True),
    "coupon_gift_has_value": Case(CouponTemplate, "gift_value", {**GIFT, "gift_value": "0"}, by_form=True),
    "coupon_gift_value_not_negative": Case(CouponTemplate, "gift_value", {**GIFT, "gift_value": "-1"}, by_form=True),
    "coupon_template_quantity_positive": Case(
        CouponTemplate, "total_quantity", {**COUPON_DAYS, "total_quantity": "0"}, by_form=True
    ),
    "coupon_template_limit_positive": Case(
        CouponTemplate, "per_member_limit", {**COUPON_DAYS, "per_member_limit": "0"}, by_form=True
    ),
    # points mall
    "mall_price_positive": Case(MallItem, "points_price", {**MALL, "points_price": "0"}, by_form=True),
    "mall_stock_not_negative": Case(MallItem, "stock", {**MALL, "stock": "-1"}, by_form=True),
    "mall_coupon_item_has_template": Case(MallItem, "coupon_template", {**MALL, "kind": "coupon"}, by_form=True),
    "mall_gift_item_has_no_template": Case(
        MallItem,
        "coupon_template",
        lambda chain, obj: {**MALL, "coupon_template": AmountOffTemplateFactory().pk},
        by_form=True,
    ),
    "mall_limit_positive": Case(MallItem, "per_member_limit", {**MALL, "per_member_limit": "0"}, by_form=True),
    "mall_cost_not_negative": Case(MallItem, "cost", {**MALL, "cost": "-1"}),
    # campaigns and automations: their forms run the services' own validation
    "campaign_dates_ordered": Case(
        Campaign,
        "ends_at",
        lambda chain, obj: {**CAMPAIGN, "segment": _segment(chain), "ends_at_0": "2026-10-01"},
        by_form=True,
    ),
    "campaign_holdout_in_range": Case(
        Campaign,
        "holdout_percent",
        lambda chain, obj: {**CAMPAIGN, "segment": _segment(chain), "holdout_percent": "60"},
        by_form=True,
    ),
    "campaign_multiplier_at_least_one": Case(
        Campaign,
        "multiplier",
        lambda chain, obj: {**CAMPAIGN, "segment": _segment(chain), "multiplier": "0.5"},
        by_form=True,
    ),
    "automation_cap_at_least_one": Case(
        Automation, "max_per_member", {**AUTOMATION, "max_per_member": "0"}, by_form=True
    ),
    "automation_holdout_in_range": Case(
        Automation, "holdout_percent", {**AUTOMATION, "holdout_percent": "60"}, by_form=True
    ),
    "automation_multiplier_at_least_one": Case(
        Automation, "multiplier", {**AUTOMATION, "multiplier": "0.5"}, by_form=True
    ),
    "automation_quiet_hours_both_or_none": Case(
        Automation, "quiet_end", {**AUTOMATION, "quiet_start": "21:00", "quiet_end": "21:00"}, by_form=True
    ),
    "automation_cap_days_positive": Case(Automation, "cap_days", {**AUTOMATION, "cap_days": "0"}, by_form=True),
    "automation_multiplier_has_days": Case(
        Automation, "multiplier_days", {**AUTOMATION, "multiplier": "2"}, by_form=True
    ),
    # message templates
    "message_template_channel_known": Case(MessageTemplate, "channel", {**MESSAGE, "channel": "fax"}, by_form=True),
    "message_template_body_not_empty": Case(MessageTemplate, "body", {**MESSAGE, "body": ""}, by_form=True),
    "message_template_email_has_subject": Case(
        MessageTemplate, "subject", {**MESSAGE, "channel": "email"}, by_form=True
    ),
    "message_template_wechat_has_template_id": Case(
        MessageTemplate, "wechat_template_id", {**MESSAGE, "channel": "wechat"}, by_form=True
    ),
    # churn scoring
    "score_settings_dormant_days_positive": Case(ScoreSettings, "dormant_days", {"dormant_days": 0}, _score_settings),
    "score_settings_spend_window_positive": Case(
        ScoreSettings, "spend_window_days", {"spend_window_days": 0}, _score_settings
    ),
    "score_settings_gap_positive": Case(ScoreSettings, "gap_multiplier", {"gap_multiplier": "0"}, _score_settings),
    "score_settings_drop_share": Case(ScoreSettings, "spend_drop_share", {"spend_drop_share": "1.5"}, _score_settings),
    "score_settings_p_alive_high_range": Case(ScoreSettings, "p_alive_high", {"p_alive_high": "-0.1"}, _score_settings),
    "score_settings_p_alive_medium_range": Case(
        ScoreSettings, "p_alive_medium", {"p_alive_medium": "1.5"}, _score_settings
    ),
    "score_settings_p_alive_order": Case(
        ScoreSettings, "p_alive_high", {"p_alive_high": "0.7", "p_alive_medium": "0.6"}, _score_settings
    ),
    "score_settings_price_share": Case(
        ScoreSettings, "price_sensitive_share", {"price_sensitive_share": "1.5"}, _score_settings
    ),
    # service cards
    "service_code_not_empty": Case(Service, "code", {**SERVICE, "code": ""}, by_form=True),
    "service_name_not_empty": Case(Service, "name", {**SERVICE, "name": ""}, by_form=True),
    "service_duration_range": Case(Service, "duration_minutes", {**SERVICE, "duration_minutes": "3"}, by_form=True),
    "service_price_not_negative": Case(Service, "price", {**SERVICE, "price": "-1"}, by_form=True),
    "service_next_visit_positive": Case(Service, "next_visit_days", {**SERVICE, "next_visit_days": "0"}),
    "card_product_code_not_empty": Case(CardProduct, "code", _card({**CARD, "code": ""}), by_form=True),
    "card_product_name_not_empty": Case(CardProduct, "name", _card({**CARD, "name": ""}), by_form=True),
    "card_product_kind_known": Case(CardProduct, "kind", _card({**CARD, "kind": "gift"}), by_form=True),
    "card_product_uses_by_kind": Case(CardProduct, "uses", _card({**CARD, "uses": "0"})),
    "card_product_count_whole": Case(CardProduct, "uses", _card({**CARD, "uses": "10.5"})),
    "card_product_caps_on_period_cards": Case(CardProduct, "cap_per_day", _card({**CARD, "cap_per_day": "1"})),
    "card_product_caps_positive": Case(CardProduct, "cap_per_day", _card({**PERIOD_CARD, "cap_per_day": "0"})),
    "card_product_price_not_negative": Case(CardProduct, "price", _card({**CARD, "price": "-1"}), by_form=True),
    "card_product_period_expires": Case(CardProduct, "validity_months", _card({**PERIOD_CARD, "validity_months": "0"})),
    "card_settings_fee_percent": Case(
        CardSettings, "refund_fee_percent", {"refund_fee_percent": "101"}, _card_settings
    ),
    "card_settings_no_show_not_negative": Case(CardSettings, "no_show_uses", {"no_show_uses": "-1"}, _card_settings),
    "card_settings_low_uses_not_negative": Case(
        CardSettings, "low_uses_warning", {"low_uses_warning": "-1"}, _card_settings
    ),
    "service_staff_job_known": Case(
        ServiceStaff, "job", {"job": "barber"}, lambda chain: ServiceStaffFactory(), by_form=True
    ),
    "working_hours_weekday": Case(
        WorkingHours, "weekday", {"hours-0-weekday": "7"}, _staff_with_hours, by_form=True, inline="hours"
    ),
    "working_hours_ordered": Case(WorkingHours, "ends", {"hours-0-ends": "08:00"}, _staff_with_hours, inline="hours"),
    "working_hours_once": Case(
        WorkingHours, "starts", {"hours-1-weekday": "0"}, _staff_with_hours, by_form=True, inline="hours"
    ),
    "commission_rule_once": Case(CommissionRule, "service", _commission_for(service_too=True)),
    "commission_rule_default_once": Case(CommissionRule, "job", _commission_for(service_too=False)),
    "commission_rule_range": Case(CommissionRule, "percent", {"job": "coach", "amount": "0", "percent": "101"}),
    "room_name_not_empty": Case(Room, "name", lambda chain, obj: {"store": chain.store_a.pk, "name": ""}, by_form=True),
    "room_name_once_per_store": Case(
        Room,
        "name",
        lambda chain, obj: (
            RoomFactory(store=chain.store_a, name="1号房") and {"store": chain.store_a.pk, "name": "1号房"}
        ),
    ),
    # stores, staff, members
    "region_code_not_empty": Case(Region, "code", {"code": "", "name": "华南区"}, by_form=True),
    "region_name_not_empty": Case(Region, "name", {"code": "SOUTH", "name": ""}, by_form=True),
    "store_code_not_empty": Case(Store, "code", {"code": "", "name": "广州天河店"}, by_form=True),
    "store_name_not_empty": Case(Store, "name", {"code": "GZ001", "name": ""}, by_form=True),
    "staff_employee_no_unique": Case(
        StaffProfile,
        "employee_no",
        {"staff_profile-0-employee_no": "E001"},
        _cashier_with_a_colleague_numbered,
        inline="staff_profile",
    ),
    "tag_name_not_empty": Case(Tag, "name", {"name": ""}, by_form=True),
    "member_name_not_empty": Case(Member, "name", {"name": "   "}, _member, by_form=True),
    "member_notes_length": Case(Member, "notes", {"notes": "备" * 2001}, _member, by_form=True),
    "member_not_own_referrer": Case(
        Member, "referrer", lambda chain, member: {"referrer": member.pk}, _member, by_form=True
    ),
}

NOT_ON_A_FORM = {
    "card_settings_single_row": "the one row is made by CardSettings.current(); no form has the flag",
    "score_settings_singleton": "the one row is pk 1; no form has the pk",
    "campaign_launched_when_running": "the status moves only by the Schedule / Launch / Cancel buttons",
    "member_code_unique": "the member code is made by member_register and read-only",
    "member_phone_unique": "the phone's blind index is written by the phone field; the form refuses a taken "
    "phone itself (MemberAdminForm.clean_phone)",
    "member_code_not_empty": "the member code is made by member_register and read-only",
    "member_consent_has_time": "the consent time is set by the members service when consent is ticked",
    "member_erased_iff_no_phone": "only erasure (members.erasure) empties a phone; every form requires one",
    "member_birth_month_day": "the birthday's clear month and day are written from the birthday (members.fields)",
    "member_phone_has_its_index": "the phone's index is written from the phone (members.fields), never on a form",
}


def editable_models() -> list[type]:
    """Models with constraints that a back-office page edits: their admin, or an admin's inline."""
    superuser = get_user_model()(is_superuser=True, is_staff=True, is_active=True)
    request = RequestFactory().get("/")
    request.user = superuser
    found = set()
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in PROJECT_APPS and model_admin.has_change_permission(request):
            found.add(model)
        for inline in model_admin.get_inline_instances(request):
            if inline.model._meta.app_label in PROJECT_APPS and inline.has_change_permission(request):
                found.add(inline.model)
    return sorted((m for m in found if m._meta.constraints), key=lambda m: m._meta.label)


def test_every_constraint_of_an_editable_model_has_a_case():
    names = {c.name for model in editable_models() for c in model._meta.constraints}
    assert names - set(CASES) - set(NOT_ON_A_FORM) == set(), "add a row to CASES (or NOT_ON_A_FORM, with the reason)"
    assert set(CASES) | set(NOT_ON_A_FORM) <= names, "a row names a constraint that is gone"


def page_values(response) -> dict:
    """What an admin change page would post back unchanged: its form and its inlines."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for name, form_field in form.fields.items():
            bound = form[name]
            value = bound.value()
            if value is None or value is False:
                continue
            if isinstance(form_field.widget, MultiWidget):
                for i, part in enumerate(form_field.widget.decompress(value)):
                    data[f"{bound.html_name}_{i}"] = part
            else:
                data[bound.html_name] = "on" if value is True else value
    return data


def admin_url(model, view, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def refused_form(response, case: Case):
    if case.inline is None:
        return response.context["adminform"].form
    inline = next(i for i in response.context["inline_admin_formsets"] if i.formset.prefix == case.inline)
    return inline.formset.forms[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_value_breaking_a_rule_is_refused_next_to_its_field(client, chain, name):
    case = CASES[name]
    constraint = next(c for c in case.model._meta.constraints if c.name == name)
    client.force_login(chain.hq_admin)
    obj = case.page(chain) if case.page else None
    page_model = type(obj) if obj is not None else case.model
    url = admin_url(page_model, "change", obj.pk) if obj is not None else admin_url(page_model, "add")
    data = page_values(client.get(url))
    data.update(case.values(chain, obj) if callable(case.values) else case.values)
    before = list(page_model.objects.order_by("pk").values())

    for language in LANGUAGES:
        response = client.post(url, data, HTTP_ACCEPT_LANGUAGE=language)

        assert response.status_code == 200, f"{name}: the page took the value"
        form = refused_form(response, case)
        errors = form.errors.get(case.field)
        assert errors, f"{name}: no error next to {case.field}: {form.errors}"
        with override(language):
            own = str(constraint.get_violation_error_message())
        if not case.by_form:
            assert own in errors, f"{name}: {errors}"
        page = response.content.decode()
        field_errors = re.search(rf'<ul class="errorlist" id="{form[case.field].auto_id}_error">(.*?)</ul>', page)
        assert field_errors and escape(errors[0]) in field_errors.group(1), f"{name}: not shown next to the field"
        assert name not in page and "Constraint “" not in page and "约束" not in page
        if language == "zh-hans":
            assert all(re.search(r"[\u4e00-\u9fff]", e) for e in errors), f"{name}: not in Chinese: {errors}"

    assert list(page_model.objects.order_by("pk").values()) == before
