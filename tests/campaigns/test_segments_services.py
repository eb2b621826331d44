"""Saving, counting, deleting and exporting segments: audited, counted with members_matching, refused by role."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from campaigns.models import Automation, Segment
from campaigns.segments import members_matching
from campaigns.services.segments import (
    SEGMENT_CHANGED,
    SEGMENT_CREATED,
    SEGMENT_DELETED,
    SegmentInvalid,
    segment_count,
    segment_create,
    segment_delete,
    segment_export_start,
    segment_update,
)
from loyalty.models import MemberStats
from members.exports import MEMBERS_EXPORTED
from members.models import ExportJob
from stores.models import AuditEntry
from tests.factories import MemberFactory
from tests.factories.campaigns import SegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    # The messages below are the English msgids; the default language is Chinese.
    with translation.override("en"):
        yield


BIG_SPENDERS = [{"field": "spend", "op": "between", "value": {"min": "1000"}}]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def spenders(chain, policy):
    """Two members who spent ¥1,500 and ¥80."""
    big, small = MemberFactory(name="王芳"), MemberFactory(name="李娜")
    MemberStats.objects.create(member=big, total_spend=Decimal("1500.00"), purchase_count=3)
    MemberStats.objects.create(member=small, total_spend=Decimal("80.00"), purchase_count=1)
    return big, small


def test_a_marketer_creates_a_segment_with_its_count_and_an_audit_row(chain, spenders):
    segment = segment_create(actor=chain.marketer, name=" 高消费会员 ", description="满千元", rules=BIG_SPENDERS)

    assert (segment.name, segment.member_count, segment.created_by) == ("高消费会员", 1, chain.marketer)
    assert segment.counted_at is not None
    # Stored in its clean form: money as a string with cents, the operator filled in.
    assert segment.rules == [{"field": "spend", "op": "between", "value": {"min": "1000.00"}}]
    entry = AuditEntry.objects.get(action=SEGMENT_CREATED)
    assert (entry.actor, entry.target_id, entry.data["members"]) == (chain.marketer, str(segment.pk), 1)


def test_two_segments_cannot_share_a_name(chain, spenders):
    segment_create(actor=chain.marketer, name="高消费会员", rules=[])

    with pytest.raises(SegmentInvalid) as error:
        segment_create(actor=chain.marketer, name="高消费会员", rules=[])

    assert error.value.message_dict == {"name": ["A segment named “高消费会员” exists already."]}


def test_changing_the_rules_recounts_and_audits_before_and_after(chain, spenders):
    segment = segment_create(actor=chain.marketer, name="高消费会员", rules=BIG_SPENDERS)
    more = [{"field": "spend", "op": "between", "value": {"min": "50"}}]

    segment = segment_update(actor=chain.hq_admin, segment=segment, name="高消费会员", rules=more)

    assert segment.member_count == 2
    entry = AuditEntry.objects.get(action=SEGMENT_CHANGED)
    assert entry.data["changed"] == ["rules"]
    assert entry.data["before"]["rules"][0]["value"] == {"min": "1000.00"}
    assert entry.data["after"]["rules"][0]["value"] == {"min": "50.00"}


def test_saving_without_a_change_recounts_but_audits_nothing(chain, spenders):
    segment = segment_create(actor=chain.marketer, name="高消费会员", rules=BIG_SPENDERS)
    MemberStats.objects.filter(member=spenders[1]).update(total_spend=Decimal("2000.00"))

    segment = segment_update(actor=chain.marketer, segment=segment, name="高消费会员", rules=segment.rules)

    assert segment.member_count == 2
    assert not AuditEntry.objects.filter(action=SEGMENT_CHANGED).exists()


def test_a_bad_change_writes_nothing(chain, spenders):
    segment = segment_create(actor=chain.marketer, name="高消费会员", rules=BIG_SPENDERS)

    with pytest.raises(SegmentInvalid):
        segment_update(
            actor=chain.marketer, segment=segment, name="改名", rules=[{"field": "spend", "value": {"min": "x"}}]
        )

    segment.refresh_from_db()
    assert (segment.name, segment.rules[0]["value"]) == ("高消费会员", {"min": "1000.00"})


def test_segment_count_refreshes_the_stored_count_with_members_matching(chain, spenders):
    segment = segment_create(actor=chain.marketer, name="高消费会员", rules=BIG_SPENDERS)
    MemberStats.objects.filter(member=spenders[1]).update(total_spend=Decimal("2000.00"))

    assert segment_count(segment=segment) == 2 == members_matching(segment.rules).count()
    segment.refresh_from_db()
    assert segment.member_count == 2


def test_a_segment_a_campaign_uses_cannot_be_deleted(chain, campaign):
    with pytest.raises(ValidationError) as error:
        segment_delete(actor=chain.marketer, segment=campaign.segment)

    assert error.value.messages == [
        "“全部会员” cannot be deleted: campaign “春季焕新” use it. Change them to another segment first."
    ]
    assert Segment.objects.filter(pk=campaign.segment.pk).exists()


def test_a_segment_an_automation_uses_cannot_be_deleted(chain):
    segment = SegmentFactory(name="沉睡会员")
    Automation.objects.create(
        name="唤醒", trigger=Automation.Trigger.DORMANT, days=90, segment=segment, created_by=chain.marketer
    )

    with pytest.raises(ValidationError, match="automation “唤醒”"):
        segment_delete(actor=chain.marketer, segment=segment)


def test_deleting_an_unused_segment_is_audited(chain):
    segment = SegmentFactory(name="临时人群")

    segment_delete(actor=chain.marketer, segment=segment)

    assert not Segment.objects.exists()
    assert AuditEntry.objects.get(action=SEGMENT_DELETED).data["name"] == "临时人群"


@pytest.mark.parametrize("persona", ["manager_a", "cashier_a"])
def test_store_staff_may_not_create_change_or_delete_segments(chain, persona):
    user = getattr(chain, persona)
    segment = SegmentFactory()

    with pytest.raises(PermissionDenied):
        segment_create(actor=user, name="门店人群", rules=[])
    with pytest.raises(PermissionDenied):
        segment_update(actor=user, segment=segment, name="门店人群", rules=[])
    with pytest.raises(PermissionDenied):
        segment_delete(actor=user, segment=segment)
    with pytest.raises(PermissionDenied):
        segment_export_start(actor=user, segment=segment)


def test_exporting_a_segment_starts_a_members_export_job_of_exactly_its_members_audited(
    chain, spenders, django_capture_on_commit_callbacks, monkeypatch
):
    segment = segment_create(actor=chain.marketer, name="高消费会员", rules=BIG_SPENDERS)
    started = []
    monkeypatch.setattr("members.export_jobs.export_job_start", started.append)

    with django_capture_on_commit_callbacks(execute=True):
        job = segment_export_start(actor=chain.marketer, segment=segment, fmt="csv", headers="zh")

    assert (job.kind, job.total_rows, job.full_phones, job.filters) == (
        ExportJob.Kind.MEMBERS,
        1,
        False,
        [["Segment", "高消费会员"]],
    )
    entry = AuditEntry.objects.get(action=MEMBERS_EXPORTED)
    assert entry.pk == job.audit_entry_id
    assert (entry.actor, entry.data["source"], entry.data["filters"], entry.data["rows"]) == (
        chain.marketer,
        "segment",
        f"segment={segment.pk}",
        1,
    )
    assert started == [job.pk]
    # The job keeps the rules themselves (plain JSON), which the worker matches again.
    assert job.selection == {"source": "segment", "rules": segment.rules}


def test_the_export_job_writes_the_segments_members(chain, spenders, django_capture_on_commit_callbacks, monkeypatch):
    from members.export_jobs import export_job_run

    segment = segment_create(actor=chain.marketer, name="高消费会员", rules=BIG_SPENDERS)
    monkeypatch.setattr("members.export_jobs.export_job_start", lambda job_id: None)
    job = segment_export_start(actor=chain.hq_admin, segment=segment, fmt="csv", headers="en")

    export_job_run(job_id=job.pk)

    job.refresh_from_db()
    text = job.file.open("rb").read().decode("utf-8-sig")
    assert job.rows_written == 1 and "王芳" in text and "李娜" not in text


def test_a_count_of_rules_changed_meanwhile_does_not_overwrite_the_newer_count(chain, spenders):
    segment = segment_create(actor=chain.marketer, name="高消费会员", rules=BIG_SPENDERS)
    stale = Segment.objects.get(pk=segment.pk)
    more = [{"field": "spend", "op": "between", "value": {"min": "50"}}]
    segment_update(actor=chain.marketer, segment=segment, name="高消费会员", rules=more)

    assert segment_count(segment=stale) == 1  # the old rules' count, for whoever asked with them

    segment.refresh_from_db()
    assert segment.member_count == 2
