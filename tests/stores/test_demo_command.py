from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.http import HttpRequest

from members.models import ConsentRecord, Member
from members.phones import normalize_phone
from members.validators import validate_member_name
from stores.models import Store
from stores.permissions import staff_can
from stores.roles import Action, Role

pytestmark = pytest.mark.django_db


def run_demo(members=200) -> str:
    out = StringIO()
    call_command("demo", members=members, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_demo_builds_a_chain_with_every_role_and_prints_their_logins():
    output = run_demo()
    assert Store.objects.count() >= 3
    users = get_user_model().objects.all()
    roles = {g for u in users for g in u.groups.values_list("name", flat=True)}
    assert roles == set(Role.values)
    for username in ["admin", "marketer", "manager_sh", "cashier_sh", "cashier_bj"]:
        assert username in output
    assert "admin-demo-2026" in output


def test_demo_members_have_chinese_names_and_valid_unique_phones():
    run_demo()
    members = list(Member.objects.all())
    assert len(members) == 200
    for member in members:
        assert normalize_phone(member.phone) == member.phone
        validate_member_name(member.name)
        assert "\u4e00" <= member.name[0] <= "\u9fff"
        assert member.home_store_id is not None
    assert Member.objects.filter(referrer__isnull=False).exists()
    assert Member.objects.filter(tags__isnull=False).exists()


def test_demo_members_consent_is_the_latest_of_their_consent_history():
    run_demo()
    consenting = Member.objects.filter(marketing_consent=True)
    assert consenting.exists()
    for member in consenting:
        latest = ConsentRecord.objects.filter(member=member).latest("at", "id")
        assert (latest.given, latest.at, latest.source) == (True, member.consent_at, member.consent_source)
    assert not ConsentRecord.objects.filter(member__marketing_consent=False).exists()


def test_running_demo_twice_changes_nothing():
    run_demo()
    snapshot = sorted(Member.objects.values_list("code", "phone", "name", "referrer_id"))
    records = ConsentRecord.objects.count()
    users = sorted(get_user_model().objects.values_list("username", flat=True))
    run_demo()
    assert sorted(Member.objects.values_list("code", "phone", "name", "referrer_id")) == snapshot
    assert ConsentRecord.objects.count() == records
    assert sorted(get_user_model().objects.values_list("username", flat=True)) == users


def test_demo_logins_work_as_their_roles(client):
    run_demo(members=10)
    # django-axes counts every login against its address: the test client's login needs a request too.
    assert client.login(request=HttpRequest(), username="admin", password="admin-demo-2026")
    User = get_user_model()
    cashier = User.objects.get(username="cashier_sh")
    assert staff_can(cashier, Action.SELL, Store.objects.get(code="SH001"))
    assert not staff_can(cashier, Action.SELL, Store.objects.get(code="BJ001"))


def test_the_default_demo_has_two_thousand_members():
    run_demo(members=2000)
    assert Member.objects.count() == 2000
