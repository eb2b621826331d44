"""Staff names are written one way everywhere: Chinese (and Japanese, Korean) family name first without a
space, other names given name first, the login when no name is on file."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from stores.names import person_name, staff_label, staff_name
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("first", "last", "written"),
    [
        ("丽", "王", "王丽"),
        ("明轩", "欧阳", "欧阳明轩"),
        (" 丽 ", " 王 ", "王丽"),
        ("花子", "山田", "山田花子"),
        ("민수", "김", "김민수"),
        ("Li", "Wang", "Li Wang"),
        ("Anne-Marie", "", "Anne-Marie"),
        ("", "王", "王"),
        ("", "", ""),
        (None, None, ""),
    ],
)
def test_a_name_is_written_the_way_its_language_writes_it(first, last, written):
    assert person_name(first, last) == written


def test_a_staff_member_without_a_name_is_shown_by_their_login():
    user = get_user_model()(username="cashier_sh")

    assert staff_name(user) == "cashier_sh"
    assert staff_label("", "", "cashier_sh") == "cashier_sh"
    assert staff_label("丽", "王", "cashier_sh") == "王丽 (cashier_sh)"


def test_the_tablet_header_names_the_cashier_family_name_first(at_till, chain):
    cashier = StaffFactory(username="cashier_sh", stores=[chain.store_a], first_name="丽", last_name="王")

    page = at_till(cashier, chain.store_a).get(reverse("tablet:find")).content.decode()

    assert '<span class="who">王丽</span>' in page
    assert "丽 王" not in page


def test_the_staff_list_of_the_back_office_names_staff_family_name_first(client, chain):
    StaffFactory(username="cashier_sh", stores=[chain.store_a], first_name="丽", last_name="王")
    client.force_login(chain.hq_admin)

    page = client.get(reverse("admin:auth_user_changelist")).content.decode()

    assert "王丽" in page
    assert "丽 王" not in page
