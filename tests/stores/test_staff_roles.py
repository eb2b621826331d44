import pytest
from django.contrib.auth.models import Group

from stores.models import AuditEntry
from stores.roles import Role
from stores.services import staff_set_role

pytestmark = pytest.mark.django_db


def test_the_migration_created_a_group_for_every_role():
    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.values)


def test_hq_admin_group_holds_every_permission_and_store_roles_none():
    from django.contrib.auth.models import Permission

    assert Group.objects.get(name="hq_admin").permissions.count() == Permission.objects.count()
    assert not Group.objects.get(name="cashier").permissions.exists()
    assert not Group.objects.get(name="store_manager").permissions.exists()


def test_marketer_group_reads_members_but_cannot_change_them():
    codenames = set(Group.objects.get(name="hq_marketer").permissions.values_list("codename", flat=True))
    assert "view_member" in codenames
    assert "change_member" not in codenames
    assert "change_user" not in codenames


def test_only_hq_roles_reach_the_back_office(chain):
    assert chain.hq_admin.is_staff and chain.marketer.is_staff
    assert not chain.manager_a.is_staff and not chain.cashier_a.is_staff


def test_a_role_change_is_audited_with_before_and_after(chain):
    staff_set_role(actor=chain.hq_admin, user=chain.cashier_a, role=Role.STORE_MANAGER, reason="升职")
    entry = AuditEntry.objects.filter(action="staff.role_changed", target_id=str(chain.cashier_a.pk)).latest("id")
    assert entry.actor == chain.hq_admin
    assert entry.reason == "升职"
    assert entry.data["before"] == ["cashier"] and entry.data["after"] == ["store_manager"]
    assert list(chain.cashier_a.groups.values_list("name", flat=True)) == ["store_manager"]


def test_setting_the_same_role_again_writes_no_audit(chain):
    before = AuditEntry.objects.count()
    staff_set_role(actor=chain.hq_admin, user=chain.cashier_a, role=Role.CASHIER)
    assert AuditEntry.objects.count() == before


def test_promoting_a_cashier_to_marketer_opens_the_back_office(chain):
    staff_set_role(actor=chain.hq_admin, user=chain.cashier_a, role=Role.HQ_MARKETER)
    chain.cashier_a.refresh_from_db()
    assert chain.cashier_a.is_staff
