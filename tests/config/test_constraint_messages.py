"""Every rule the database guards speaks to people: each constraint of the project has a message in the
reader's language and a code, and its error lands on the field it concerns (config.constraints)."""

from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import BaseConstraint
from django.utils.translation import override

from config.constraints import ConstraintErrorsMixin, constraint_error_field
from loyalty.models import EarningRule, LoyaltySettings, RechargePackage, Tier
from tests.factories.loyalty import RechargePackageFactory

PROJECT_APPS = ("stores", "members", "loyalty", "campaigns", "analytics", "servicecards")
DEFAULT_MESSAGE = BaseConstraint.default_violation_error_message


def project_models():
    return [model for label in PROJECT_APPS for model in apps.get_app_config(label).get_models()]


def project_constraints():
    return [
        pytest.param(model, constraint, id=f"{model.__name__}.{constraint.name}")
        for model in project_models()
        for constraint in model._meta.constraints
    ]


def test_the_project_has_constraints_to_check():
    assert len(project_constraints()) > 100


@pytest.mark.parametrize(("model", "constraint"), project_constraints())
def test_every_constraint_says_what_is_wrong_in_chinese_and_english(model, constraint):
    assert constraint.violation_error_message != DEFAULT_MESSAGE, "give it a violation_error_message"
    assert constraint.violation_error_code, "give it a violation_error_code"
    with override("en"):
        english = str(constraint.get_violation_error_message())
    with override("zh-hans"):
        chinese = str(constraint.get_violation_error_message())
    assert chinese != english, "translate its message in locale/zh_Hans/LC_MESSAGES/django.po"
    for text in (english, chinese):
        assert constraint.name not in text and "%" not in text


@pytest.mark.parametrize("model", project_models(), ids=lambda m: m.__name__)
def test_every_model_puts_constraint_errors_on_their_fields(model):
    assert issubclass(model, ConstraintErrorsMixin)
    names = {c.name for c in model._meta.constraints}
    for name, field in model.constraint_error_fields.items():
        assert name in names, f"constraint_error_fields names no constraint {name}"
        assert field is None or model._meta.get_field(field).concrete


@pytest.mark.parametrize(
    ("model", "name", "field"),
    [
        (EarningRule, "rule_rate_positive", "points_per_yuan"),  # the one field it reads
        (EarningRule, "rule_dates_ordered", "ends_on"),  # named by the model
        (RechargePackage, "package_name_unique", "name"),  # what is unique, not the condition
        (LoyaltySettings, "settings_clearing_date_exists", "annual_clearing_day"),
    ],
)
def test_a_constraint_error_lands_on_the_field_it_concerns(model, name, field):
    constraint = next(c for c in model._meta.constraints if c.name == name)
    assert constraint_error_field(model, constraint) == field


def test_a_constraint_over_no_one_field_stays_above_the_form():
    from analytics.models import ScoreSettings

    constraint = next(c for c in ScoreSettings._meta.constraints if c.name == "score_settings_singleton")
    assert constraint_error_field(ScoreSettings, constraint) is None


@pytest.mark.django_db
def test_validating_a_nonsense_rule_names_its_fields_with_their_messages():
    # Given an earning rule with a negative rate and dates the wrong way round
    rule = EarningRule(name="基础积分", points_per_yuan=Decimal("-1"), starts_on="2026-05-02", ends_on="2026-05-01")

    # When the model validates its constraints (as every ModelForm does)
    with override("zh-hans"), pytest.raises(ValidationError) as refused:
        rule.validate_constraints()

    # Then each error is on its field, in Chinese, and none is above the form
    errors = refused.value.message_dict
    assert NON_FIELD_ERRORS not in errors
    assert errors["points_per_yuan"] == ["每 ¥1 积分不能为负数（0 表示不积分）。"]
    assert errors["ends_on"] == ["结束日期早于开始日期。"]


@pytest.mark.django_db
def test_a_unique_error_is_on_the_field_and_a_field_the_form_leaves_out_is_never_named(monkeypatch):
    RechargePackageFactory(name="充500送50")
    package = RechargePackage(name="充500送50", pay_amount=Decimal("500"), bonus_amount=Decimal("50"))
    with override("en"), pytest.raises(ValidationError) as refused:
        package.validate_constraints()
    assert refused.value.message_dict == {"name": ["Another active recharge package has this name."]}

    # A mapped field the form does not have: the message goes above the form instead.
    tier = Tier(code="X", name="X", rank=9, points_multiplier=Decimal("0"))
    monkeypatch.setattr(Tier, "constraint_error_fields", {"tier_multiplier_positive": "discount_percent"})
    with override("en"), pytest.raises(ValidationError) as refused:
        tier.validate_constraints(exclude={"discount_percent"})
    assert list(refused.value.message_dict) == [NON_FIELD_ERRORS]
