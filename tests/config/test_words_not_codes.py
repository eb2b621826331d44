"""What the code writes for itself (ledger reasons, automation occurrences, language codes) reaches a
reader as words in their language, never as the key."""

import pytest
from django.urls import reverse
from django.utils import translation

from campaigns.selectors.automations import occurrence_label
from loyalty.reasons import points_reason_label

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "written", "chinese", "english"),
    [
        ("behaviour", "referral", "推荐奖励", "Referral reward"),
        ("behaviour", "profile completed", "完善资料", "Profile completed"),
        ("behaviour", "sign-in day 7", "每日签到（连续第 7 天）", "Daily sign-in, day 7 in a row"),
        ("behaviour", "campaign 双十一会员回馈", "营销活动“双十一会员回馈”", "Campaign “双十一会员回馈”"),
        ("behaviour", "automation 3: 生日礼遇", "自动化营销“生日礼遇”", "Automation “生日礼遇”"),
        ("expire", "expired", "过期", "Expired"),
        ("unlock", "120", "120 积分已解冻可用", "120 points became spendable"),
    ],
)
def test_a_reason_the_system_wrote_reads_as_words_in_both_languages(kind, written, chinese, english):
    with translation.override("zh-hans"):
        assert points_reason_label(kind, written) == chinese
    with translation.override("en"):
        assert points_reason_label(kind, written) == english


@pytest.mark.parametrize(("kind", "typed"), [("adjust", "referral"), ("clawback", "120"), ("adjust", "线下活动奖励")])
def test_a_reason_a_person_typed_is_shown_as_typed(kind, typed):
    with translation.override("zh-hans"):
        assert points_reason_label(kind, typed) == typed


@pytest.mark.parametrize(
    ("occurrence", "chinese"),
    [
        ("birthday:2026", "2026 年生日"),
        ("dormant:2026-05-04", "自 2026-05-04 起未消费"),
        ("points_expiring:2026-12-31", "积分将于 2026-12-31 过期"),
        ("downgrade:3:2025-06-01", "2025-06-01 起所持等级有降级风险"),
        ("churn:2026-12", "2026-12 流失风险"),
        ("first_purchase", "首次消费"),
        ("referral:42", "推荐了新会员"),
        ("topup:7", "储值充值"),
    ],
)
def test_every_occurrence_an_automation_records_reads_as_words(occurrence, chinese):
    with translation.override("zh-hans"):
        label = occurrence_label(occurrence)
    assert label == chinese
    assert occurrence.partition(":")[0] not in label


def test_the_language_menu_names_each_language_in_its_own_words(client, chain):
    client.force_login(chain.hq_admin)
    page = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert ">English</option>" in page
    assert ">简体中文</option>" in page
    assert "英语" not in page
