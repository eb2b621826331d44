"""The demo's automations: a birthday gift, a win-back by churn reason and the downgrade warning with its
升级加速券, active, loaded once."""

import pytest

from campaigns.demo import demo_automations, demo_messaging
from campaigns.models import Automation
from stores.demo import DemoContext, DemoOptions

pytestmark = pytest.mark.django_db


def test_the_demo_loads_a_birthday_a_win_back_and_a_downgrade_warning_automation_once(chain):
    ctx = DemoContext(options=DemoOptions(), rng=None, progress=None, staff={"marketer": chain.marketer})
    demo_messaging(ctx)

    demo_automations(ctx)
    demo_automations(ctx)

    birthday = Automation.objects.get(trigger="birthday")
    winback = Automation.objects.get(trigger="churn_risk")
    assert birthday.is_active and winback.is_active
    assert (birthday.days, birthday.multiplier, birthday.multiplier_days) == (7, 2, 7)
    assert set(winback.actions_by_reason) == {"price_sensitive", "category_shift", "long_inactive"}
    warning = Automation.objects.get(trigger="downgrade_risk")
    assert warning.is_active and warning.days == 30
    assert warning.coupon_template.name == "升级加速券 满300减50" and warning.message_template.name == "保级提醒"
    assert ctx.summary[-1] == "automations already loaded"
