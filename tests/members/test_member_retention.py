"""Retention: with MEMBER_RETENTION_YEARS set, a nightly task erases the members without any activity for that
long; the HQ home says who is next before it runs. Off by default."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import translation
from django_celery_beat.models import PeriodicTask

from members.models import Member
from members.retention import members_due_for_erasure
from members.tasks import erase_inactive_members
from stores.models import AuditEntry
from tests.factories import MemberFactory
from tests.members.rights import buy, top_up

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _in_english():
    """Messages are read in English here; the chain's default language is Chinese."""
    with translation.override("en"):
        yield


@pytest.fixture
def years_ago(clock):
    """years_ago(n, make) → what make() returned, made n years (and a day) ago."""

    def _at(years, make):
        now = clock.now
        clock.set(now - timedelta(days=365 * years + 1))
        try:
            return make()
        finally:
            clock.set(now)

    return _at


@pytest.fixture
def dormant(chain, years_ago):
    return years_ago(4, lambda: MemberFactory(phone="13500000001", name="赵敏"))


def test_the_rule_is_off_by_default(chain, dormant):
    assert list(members_due_for_erasure()) == []
    assert erase_inactive_members() == {"erased": 0, "kept": 0}
    assert not Member.objects.get(pk=dormant.pk).is_erased


def test_a_member_without_activity_for_the_years_set_is_erased_by_the_nightly_task(settings, chain, dormant):
    settings.MEMBER_RETENTION_YEARS = 3

    assert erase_inactive_members() == {"erased": 1, "kept": 0}

    member = Member.objects.get(pk=dormant.pk)
    assert member.is_erased and member.phone is None
    audit = AuditEntry.objects.get(action="member.erased_by_retention")
    assert audit.actor is None and "3 years" in audit.reason


def test_a_purchase_a_top_up_or_a_recent_registration_keeps_a_member(settings, chain, fang, years_ago):
    settings.MEMBER_RETENTION_YEARS = 3
    bought = years_ago(4, lambda: MemberFactory(phone="13500000002", name="周芷若"))
    years_ago(1, lambda: buy(chain, bought))
    recent = years_ago(2, lambda: MemberFactory(phone="13500000003", name="殷离"))

    assert list(members_due_for_erasure()) == []
    assert erase_inactive_members() == {"erased": 0, "kept": 0}
    assert not Member.objects.filter(pk__in=[bought.pk, recent.pk, fang.pk], status="erased").exists()


def test_a_member_with_stored_value_is_kept_and_reported(settings, chain, years_ago, dormant):
    settings.MEMBER_RETENTION_YEARS = 3
    rich = years_ago(5, lambda: MemberFactory(phone="13500000004", name="小昭"))
    years_ago(4, lambda: top_up(chain, rich))

    assert erase_inactive_members() == {"erased": 1, "kept": 1}

    assert not Member.objects.get(pk=rich.pk).is_erased
    assert Member.objects.get(pk=dormant.pk).is_erased


def test_running_twice_erases_once(settings, chain, dormant):
    settings.MEMBER_RETENTION_YEARS = 3

    erase_inactive_members()
    assert erase_inactive_members() == {"erased": 0, "kept": 0}

    assert AuditEntry.objects.filter(action="member.erased_by_retention").count() == 1


def test_the_hq_home_lists_who_the_next_run_erases(settings, client, chain, dormant):
    settings.MEMBER_RETENTION_YEARS = 3
    client.force_login(chain.hq_admin)

    page = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert 'id="member-retention"' in page
    assert dormant.code in page and "without any activity for 3 years" in page


def test_the_marketer_does_not_see_the_list(settings, client, chain, dormant):
    settings.MEMBER_RETENTION_YEARS = 3
    client.force_login(chain.marketer)

    assert 'id="member-retention"' not in client.get(reverse("admin:index")).content.decode()


def test_beat_runs_the_task_nightly():
    task = PeriodicTask.objects.get(task="members.tasks.erase_inactive_members")

    assert task.enabled and (task.crontab.hour, task.crontab.minute) == ("4", "10")
