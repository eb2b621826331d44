import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from stores.models import AuditEntry
from stores.permissions import staff_can
from stores.roles import Action

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_hq_admin_creates_a_cashier_for_one_store(client, chain):
    client.force_login(chain.hq_admin)
    response = client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "new_cashier",
            "password1": "Xu7-hui-store!",
            "password2": "Xu7-hui-store!",
            "usable_password": "true",
            "first_name": "小",
            "last_name": "周",
            "role": "cashier",
            "stores": [chain.store_a.pk],
            "staff_profile-TOTAL_FORMS": "1",
            "staff_profile-INITIAL_FORMS": "0",
            "staff_profile-MIN_NUM_FORMS": "0",
            "staff_profile-MAX_NUM_FORMS": "1",
            "staff_profile-0-employee_no": "E1001",
            "staff_profile-0-phone": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(username="new_cashier")
    assert not user.is_staff
    assert staff_can(user, Action.SELL, chain.store_a)
    assert not staff_can(user, Action.SELL, chain.store_b)
    assert user.staff_profile.employee_no == "E1001"
    assert AuditEntry.objects.filter(action="staff.role_changed", target_id=str(user.pk), actor=chain.hq_admin).exists()


def change_form(user, **overrides):
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": "",
        "is_active": "on",
        "role": "cashier",
        "stores": [s.pk for s in user.staff_profile.stores.all()],
        "role_reason": "",
        "staff_profile-TOTAL_FORMS": "1",
        "staff_profile-INITIAL_FORMS": "1",
        "staff_profile-MIN_NUM_FORMS": "0",
        "staff_profile-MAX_NUM_FORMS": "1",
        "staff_profile-0-id": user.staff_profile.pk,
        "staff_profile-0-user": user.pk,
        "staff_profile-0-employee_no": "",
        "staff_profile-0-phone": "",
        **overrides,
    }


def test_promoting_a_cashier_in_the_admin_is_audited_with_the_reason(client, chain):
    client.force_login(chain.hq_admin)
    url = reverse("admin:auth_user_change", args=[chain.cashier_a.pk])
    page = client.get(url)
    assert page.context["adminform"].form.initial.get("role") == "cashier" or page.status_code == 200
    response = client.post(url, change_form(chain.cashier_a, role="store_manager", role_reason="店长离职，由她接任"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = AuditEntry.objects.filter(action="staff.role_changed", target_id=str(chain.cashier_a.pk)).latest("id")
    assert entry.reason == "店长离职，由她接任"
    assert entry.actor == chain.hq_admin
    assert staff_can(User.objects.get(pk=chain.cashier_a.pk), Action.APPROVE_REFUND, chain.store_a)


def test_store_staff_without_a_store_is_refused(client, chain):
    client.force_login(chain.hq_admin)
    url = reverse("admin:auth_user_change", args=[chain.cashier_a.pk])
    response = client.post(url, change_form(chain.cashier_a, stores=[]))
    assert response.status_code == 200
    assert "stores" in response.context["adminform"].form.errors
    assert staff_can(User.objects.get(pk=chain.cashier_a.pk), Action.SELL, chain.store_a)


def test_the_staff_list_shows_roles_and_stores_in_a_fixed_number_of_queries(client, chain, django_assert_num_queries):
    client.force_login(chain.hq_admin)
    # session, user, 2 × permissions, group filter, 2 × count, users, their groups, their stores
    with django_assert_num_queries(10):
        page = client.get(reverse("admin:auth_user_changelist"))
    text = page.content.decode()
    assert "SH001" in text and "BJ001" in text


def test_marketer_cannot_see_or_change_staff(client, chain):
    client.force_login(chain.marketer)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.get(reverse("admin:auth_user_change", args=[chain.cashier_a.pk])).status_code == 403
