"""The demo's automations: a birthday gift and a win-back by churn reason, active, loaded once."""

import pytest

from campaigns.demo import demo_automations, demo_messaging
from campaigns.models import Automation
from stores.demo import DemoContext, DemoOptions

pytestmark = pytest.mark.django_db


def test_the_demo_loads_a_birthday_and_a_win_back_automation_once(chain):
    ctx = DemoContext(options=DemoOptions(), rng=None, progress=None, staff={"marketer": chain.marketer})
    demo_messaging(ctx)

    demo_automations(ctx)
    demo_automations(ctx)

    birthday = Automation.objects.get(trigger="birthday")
    winback = Automation.objects.get(trigger="churn_risk")
    assert birthday.is_active and winback.is_active
    assert (birthday.days, birthday.multiplier, birthday.multiplier_days) == (7, 2, 7)
    assert set(winback.actions_by_reason) == {"price_sensitive", "category_shift", "long_inactive"}
    assert ctx.summary[-1] == "automations already loaded"
