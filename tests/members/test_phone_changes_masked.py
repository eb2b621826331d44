"""Phone changes audited before issue 17 held both numbers in full; migration 0023 masks them, as the
service masks new ones (members.services.member_update)."""

import importlib

import pytest
from django.apps import apps

from stores.models import AuditEntry

pytestmark = pytest.mark.django_db

migration = importlib.import_module("members.migrations.0023_phone_changes_masked")


def test_the_migration_masks_both_numbers_of_earlier_phone_changes_and_nothing_else():
    # given a phone change audited in full, one audited masked, and another action that has a "before"
    old = AuditEntry.objects.create(
        action="member.phone_changed", target_id="7", data={"before": "+8613812345678", "after": "+85291234567"}
    )
    new = AuditEntry.objects.create(
        action="member.phone_changed", target_id="8", data={"before": "138****5678", "after": "139****0000"}
    )
    other = AuditEntry.objects.create(action="loyalty.rule_changed", data={"before": "13812345678"})

    # when the migration runs, twice
    migration.mask_phone_changes(apps, None)
    migration.mask_phone_changes(apps, None)

    # then only the full numbers of phone changes are masked, as the service masks them today
    old.refresh_from_db()
    new.refresh_from_db()
    other.refresh_from_db()
    assert old.data == {"before": "138****5678", "after": "+85*****4567"}
    assert new.data == {"before": "138****5678", "after": "139****0000"}
    assert other.data == {"before": "13812345678"}


def test_the_migration_keeps_the_erased_marker_and_empty_numbers():
    erased = AuditEntry.objects.create(action="member.phone_changed", data={"before": "", "after": "", "erased": True})
    migration.mask_phone_changes(apps, None)
    erased.refresh_from_db()
    assert erased.data == {"before": "", "after": "", "erased": True}
