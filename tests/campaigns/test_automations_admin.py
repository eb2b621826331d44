"""Automations in the back office: the form (with the win-back rows), bad input, activate/deactivate, run
now, the dry run, the effects list with masked phones, roles and pinned query counts."""

from datetime import date

import pytest
from django.urls import reverse

from campaigns.models import Automation, AutomationEffect
from campaigns.services.automations import automation_run
from stores.models import AuditEntry
from tests.factories import MemberFactory
from tests.factories.campaigns import AutomationFactory, CouponTemplateFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db

ADD = reverse("admin:campaigns_automation_add")
LIST = reverse("admin:campaigns_automation_changelist")
REASONS = ("price_sensitive", "category_shift", "long_inactive")


def change(automation) -> str:
    return reverse("admin:campaigns_automation_change", args=[automation.pk])


def automation_form(**fields) -> dict:
    data = {
        "name": "生日礼遇",
        "trigger": "birthday",
        "days": "7",
        "segment": "",
        "coupon_template": "",
        "points": "100",
        "message_template": "",
        "multiplier": "1",
        "multiplier_days": "0",
        "max_per_member": "1",
        "cap_days": "30",
        "quiet_start": "",
        "quiet_end": "",
        "holdout_percent": "0",
    }
    for reason in REASONS:
        for name in ("coupon_template", "points", "message_template", "multiplier", "multiplier_days"):
            data[f"reason_{reason}_{name}"] = ""
    data.update(fields)
    return data


def errors(response) -> dict:
    form = response.context["adminform"].form
    return {field: [e.code for e in errs.as_data()] for field, errs in form.errors.items()}


@pytest.fixture
def marketer(client, chain):
    client.force_login(chain.marketer)
    return client


@pytest.fixture
def hq(client, chain):
    client.force_login(chain.hq_admin)
    return client


# The form


def test_a_marketer_creates_an_inactive_automation_and_it_is_audited(marketer, chain):
    response = marketer.post(ADD, automation_form(quiet_start="21:00", quiet_end="09:00"))

    assert response.status_code == 302, errors(response)
    automation = Automation.objects.get()
    assert (automation.trigger, automation.days, automation.points, automation.is_active) == ("birthday", 7, 100, False)
    assert str(automation.quiet_start) == "21:00:00"
    audit = AuditEntry.objects.get(action="automation.created")
    assert audit.actor == chain.marketer and "points" in audit.data["changed"]


def test_the_win_back_rows_become_actions_by_reason(marketer):
    threshold, gift = CouponTemplateFactory(name="满200减50"), CouponTemplateFactory(name="回归礼")
    message = MessageTemplateFactory(name="为您推荐")
    form = automation_form(
        trigger="churn_risk",
        days="",
        points="0",
        coupon_template=str(gift.pk),
        reason_price_sensitive_coupon_template=str(threshold.pk),
        reason_category_shift_message_template=str(message.pk),
        reason_long_inactive_coupon_template=str(gift.pk),
        reason_long_inactive_multiplier="2",
        reason_long_inactive_multiplier_days="14",
    )

    response = marketer.post(ADD, form)

    assert response.status_code == 302, errors(response)
    assert Automation.objects.get().actions_by_reason == {
        "price_sensitive": {"coupon_template": threshold.pk},
        "category_shift": {"message_template": message.pk},
        "long_inactive": {"coupon_template": gift.pk, "multiplier": "2", "multiplier_days": 14},
    }


def test_the_change_form_shows_the_saved_win_back_rows(marketer):
    gift = CouponTemplateFactory(name="回归礼")
    automation = AutomationFactory(
        trigger="churn_risk", actions_by_reason={"long_inactive": {"coupon_template": gift.pk, "points": 50}}
    )

    response = marketer.get(change(automation))

    form = response.context["adminform"].form
    assert form.initial["reason_long_inactive_coupon_template"] == gift.pk
    assert form.initial["reason_long_inactive_points"] == 50
    assert "挽回" in response.content.decode() or "Win-back" in response.content.decode()


@pytest.mark.parametrize(
    "fields, field, code",
    [
        ({"name": ""}, "name", "required"),
        ({"days": ""}, "days", "invalid"),
        ({"trigger": "dormant", "days": "0"}, "days", "invalid"),
        ({"points": "0"}, "coupon_template", "no_action"),
        ({"multiplier": "2", "multiplier_days": "0"}, "multiplier_days", "multiplier_days_required"),
        ({"quiet_start": "21:00"}, "quiet_end", "quiet_hours_incomplete"),
        ({"quiet_start": "21:00", "quiet_end": "21:00"}, "quiet_end", "quiet_hours_empty"),
        ({"max_per_member": "0"}, "max_per_member", "invalid"),
        ({"holdout_percent": "60"}, "holdout_percent", "invalid_holdout"),
        ({"reason_long_inactive_multiplier": "2"}, "reason_long_inactive_multiplier_days", "multiplier_days_required"),
        ({"reason_price_sensitive_points": "-5"}, "reason_price_sensitive_points", "min_value"),
    ],
)
def test_bad_input_gives_a_clear_message_and_writes_nothing(marketer, fields, field, code):
    response = marketer.post(ADD, automation_form(**fields))

    assert response.status_code == 200
    assert code in errors(response).get(field, []), errors(response)
    assert not Automation.objects.exists() and not AuditEntry.objects.filter(action__startswith="automation").exists()


def test_a_message_showing_a_coupon_needs_a_coupon_in_the_same_row(marketer):
    message = MessageTemplateFactory(body="{name}您好，{coupon_name}已到账")

    response = marketer.post(ADD, automation_form(reason_price_sensitive_message_template=str(message.pk)))

    assert errors(response) == {"reason_price_sensitive_message_template": ["message_needs_coupon"]}


def test_a_bad_input_message_is_in_english_for_an_english_browser(marketer):
    response = marketer.post(ADD, automation_form(points="0"), HTTP_ACCEPT_LANGUAGE="en")

    assert (
        "Choose at least one action: a coupon, points, a points multiplier or a message." in response.content.decode()
    )


# Activate, deactivate, run now, dry run


def test_activate_and_deactivate_are_audited_once(marketer, chain):
    automation = AutomationFactory(is_active=False)
    switch = reverse("admin:campaigns_automation_switch", args=[automation.pk])

    marketer.post(switch, {"active": "1"})
    marketer.post(switch, {"active": "1"})
    marketer.post(switch, {"active": "0"})

    automation.refresh_from_db()
    assert automation.is_active is False
    audits = AuditEntry.objects.filter(action__startswith="automation").order_by("pk")
    actions = list(audits.values_list("action", flat=True))
    assert actions == ["automation.activated", "automation.deactivated"]


@pytest.mark.usefixtures("celery_broker")
def test_run_now_reaches_the_members_and_shows_its_effects(marketer, policy, django_capture_on_commit_callbacks):
    MemberFactory(name="王芳", phone="13800138000", birthday=date.today())
    automation = AutomationFactory(days=0)

    with django_capture_on_commit_callbacks(execute=True):
        response = marketer.post(reverse("admin:campaigns_automation_run", args=[automation.pk]))

    assert response.status_code == 302
    assert AutomationEffect.objects.filter(automation=automation).count() == 1
    assert AuditEntry.objects.filter(action="automation.run_requested").exists()
    page = marketer.get(response.url).content.decode()
    assert "王芳" in page and "138****8000" in page and "13800138000" not in page


def test_the_hq_admin_sees_full_phones_in_the_effects(hq, policy):
    member = MemberFactory(name="王芳", phone="13800138000", birthday=date.today())
    automation = AutomationFactory(days=0)
    automation_run(automation)

    page = hq.get(reverse("admin:campaigns_automation_effects", args=[automation.pk])).content.decode()

    assert "13800138000" in page and member.code in page


def test_the_dry_run_says_how_many_it_would_reach_and_writes_nothing(marketer, policy):
    MemberFactory(birthday=date.today())
    MemberFactory(birthday=date.today())
    automation = AutomationFactory(days=0)

    response = marketer.get(reverse("admin:campaigns_automation_dry_run", args=[automation.pk]))

    assert response.context["result"].reached == 2
    assert not AutomationEffect.objects.exists()


def test_the_dry_run_of_a_churn_automation_without_scores_says_why(marketer, policy, monkeypatch):
    # As before the analytics app registers its scoring: no churn source at all.
    monkeypatch.setattr("campaigns.churn._sources", [])
    automation = AutomationFactory(trigger="churn_risk", days=0)

    response = marketer.get(reverse("admin:campaigns_automation_dry_run", args=[automation.pk]))

    assert "churn" in response.context["result"].notice


# Roles


@pytest.mark.parametrize("persona", ["manager_a", "cashier_a"])
def test_store_staff_cannot_reach_automations(client, chain, persona):
    automation = AutomationFactory()
    client.force_login(getattr(chain, persona))

    for url in (
        LIST,
        ADD,
        change(automation),
        reverse("admin:campaigns_automation_effects", args=[automation.pk]),
        reverse("admin:campaigns_automation_dry_run", args=[automation.pk]),
    ):
        assert client.get(url).status_code in (302, 403), url
    assert client.post(reverse("admin:campaigns_automation_run", args=[automation.pk])).status_code in (302, 403)
    assert not AutomationEffect.objects.exists()


# Query counts


def test_the_list_costs_the_same_queries_for_three_automations_as_for_thirty(marketer, django_assert_max_num_queries):
    for _ in range(3):
        AutomationFactory()
    marketer.get(LIST)
    with django_assert_max_num_queries(12) as few:
        assert marketer.get(LIST).status_code == 200
    for _ in range(27):
        AutomationFactory()
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = marketer.get(LIST)
    assert "30" in response.content.decode()


def test_the_change_form_has_a_pinned_query_count(marketer, django_assert_num_queries):
    CouponTemplateFactory()
    MessageTemplateFactory()
    automation = AutomationFactory()
    marketer.get(change(automation))

    with django_assert_num_queries(10):
        assert marketer.get(change(automation)).status_code == 200


def test_the_effects_list_has_a_pinned_query_count(marketer, policy, django_assert_num_queries):
    for _ in range(5):
        MemberFactory(birthday=date.today())
    automation = AutomationFactory(
        days=0, coupon_template=CouponTemplateFactory(), message_template=MessageTemplateFactory()
    )
    automation_run(automation)
    url = reverse("admin:campaigns_automation_effects", args=[automation.pk])
    marketer.get(url)

    with django_assert_num_queries(8):
        assert marketer.get(url).status_code == 200


def test_run_now_refuses_an_automation_that_is_switched_off(marketer, policy):
    MemberFactory(birthday=date.today())
    automation = AutomationFactory(days=0, is_active=False)

    response = marketer.post(reverse("admin:campaigns_automation_run", args=[automation.pk]), follow=True)

    assert "activate it first" in response.content.decode()
    assert not AutomationEffect.objects.exists()
