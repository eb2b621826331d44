"""The tablet's find and register pages, as a cashier uses them at the till."""

import json
import re

import pytest
from django.urls import reverse

from members.models import Member, MemberAccess
from members.selectors import phone_q
from stores.models import AuditEntry
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fang(db):
    return MemberFactory(phone="13800138000", name="王芳")


def test_typing_the_start_of_a_phone_lists_members_with_masked_phones(at_till, chain, fang):
    client = at_till(chain.cashier_a, chain.store_a)

    response = client.post(reverse("tablet:find"), {"q": "138001"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    page = response.content.decode()
    assert "王芳" in page
    assert "138****8000" in page
    assert "13800138000" not in page
    assert "<html" not in page  # a partial for htmx


def test_the_full_phone_typed_is_shown_in_full_to_the_one_who_typed_it(at_till, chain, fang):
    client = at_till(chain.cashier_a, chain.store_a)

    response = client.post(reverse("tablet:find"), {"q": "138 0013 8000"})

    [record] = response.context["records"]
    assert record["phone"] == "+8613800138000"
    assert record["phone_masked"] is False


def test_enter_on_a_full_phone_goes_straight_to_the_member_card(at_till, chain, fang):
    client = at_till(chain.cashier_a, chain.store_a)

    response = client.post(reverse("tablet:find"), {"q": "13800138000", "go": "1"})

    assert response.status_code == 302
    assert response.url == reverse("tablet:member", args=[fang.code])


def test_a_scanned_member_qr_goes_straight_to_the_card(at_till, chain, fang):
    client = at_till(chain.cashier_a, chain.store_a)

    response = client.post(reverse("tablet:find"), {"q": fang.qr_payload(), "go": "1"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("tablet:member", args=[fang.code])


def test_a_forged_qr_finds_nobody(at_till, chain, fang):
    client = at_till(chain.cashier_a, chain.store_a)

    response = client.post(reverse("tablet:find"), {"q": f"MBR1.{fang.code}.1.0000000000000000", "go": "1"})

    assert response.status_code == 200
    assert response.context["records"] == []
    assert b"No member found." in response.content


def test_search_results_are_listed_but_not_given_to_the_tablet_to_keep(at_till, chain, fang):
    client = at_till(chain.cashier_a, chain.store_a)

    response = client.post(reverse("tablet:find"), {"q": "王"})

    [record] = response.context["records"]
    assert record["code"] == fang.code
    assert b"data-member" not in response.content
    assert b"phone_tag" not in response.content


def test_the_card_gives_the_tablet_the_member_with_the_phone_masked_and_its_offline_tag(at_till, chain, fang):
    client = at_till(chain.cashier_a, chain.store_a)

    response = client.get(reverse("tablet:member", args=[fang.code]))

    record = json.loads(re.search(r"<script type=\"application/json\" data-member>(.*?)</script>", response.text)[1])
    assert record["code"] == fang.code
    assert record["phone"] == "138****8000"
    assert record["phone_masked"] is True
    assert record["phone_tag"] == 13 % 61  # 138 [0013] 8000
    assert "phone_key" not in record
    assert (
        '"points"' in json.dumps(record)
        and '"stored_value"' in json.dumps(record)
        and '"coupons"' in json.dumps(record)
    )


def test_the_tablet_keeps_the_phone_masked_even_for_a_reader_who_sees_it_in_full(at_till, chain, fang):
    client = at_till(chain.hq_admin, chain.store_a)

    response = client.get(reverse("tablet:member", args=[fang.code]))

    assert response.status_code == 200
    assert "13800138000" in response.text  # shown to the HQ admin on the page
    record = json.loads(re.search(r"<script type=\"application/json\" data-member>(.*?)</script>", response.text)[1])
    assert record["phone"] == "138****8000"


def test_the_find_page_costs_a_fixed_number_of_queries_however_many_members_match(
    at_till, chain, django_assert_num_queries
):
    for n in range(15):
        MemberFactory(phone=f"139000000{n:02d}", name="李" + "甲乙丙丁戊己庚辛壬癸子丑寅卯辰"[n])
    client = at_till(chain.cashier_a, chain.store_a)
    client.post(reverse("tablet:find"), {"q": "1390000"})

    with django_assert_num_queries(14):  # with the member access log's one INSERT
        response = client.post(reverse("tablet:find"), {"q": "1390000"})
    assert len(response.context["records"]) == 15


def _register(client, **fields):
    data = {"phone": "13912345678", "name": "陈静", "gender": "female", "terms": "on", **fields}
    return client.post(reverse("tablet:register"), data)


def test_registering_at_the_till_creates_the_member_at_this_store_and_opens_the_card(at_till, chain):
    client = at_till(chain.cashier_a, chain.store_a)

    response = _register(client, birthday="1990-05-01", marketing_consent="on")

    member = Member.objects.get(phone_q("+8613912345678"))
    assert response.status_code == 302
    assert response.url == reverse("tablet:member", args=[member.code])
    assert member.registration_store == chain.store_a
    assert member.home_store == chain.store_a
    assert member.marketing_consent is True
    assert member.consent_source == Member.ConsentSource.TABLET


def test_a_phone_already_registered_is_caught_with_a_link_to_the_member(at_till, chain, fang):
    client = at_till(chain.cashier_a, chain.store_a)

    response = _register(client, phone="+86 138-0013-8000")

    assert response.status_code == 200
    page = response.content.decode()
    assert f"already registered to member {fang.code}" in page
    assert reverse("tablet:member", args=[fang.code]) in page
    assert Member.objects.count() == 1


def test_registering_needs_the_customers_consent_to_the_terms(at_till, chain):
    client = at_till(chain.cashier_a, chain.store_a)

    response = _register(client, terms="")

    assert response.status_code == 200
    assert b"must agree to the terms" in response.content
    assert not Member.objects.exists()


def test_a_referrer_code_that_nobody_has_is_refused(at_till, chain):
    client = at_till(chain.cashier_a, chain.store_a)

    response = _register(client, referrer="0000000000")

    assert b"No member has this code or phone." in response.content
    assert not Member.objects.exists()


def test_a_referrer_by_phone_is_linked(at_till, chain, fang):
    client = at_till(chain.cashier_a, chain.store_a)

    _register(client, referrer="13800138000")

    assert Member.objects.get(phone_q("+8613912345678")).referrer == fang


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"phone": "12345"}, b"phone"),
        ({"name": ""}, b"This field is required."),
        ({"birthday": "2999-01-01"}, b"cannot be in the future"),
        ({"name": "x" * 65}, b"at most 64 characters"),
    ],
)
def test_bad_registrations_say_why_and_write_nothing(at_till, chain, fields, message):
    client = at_till(chain.cashier_a, chain.store_a)

    response = _register(client, **fields)

    assert response.status_code == 200
    assert message in response.content
    assert not Member.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="member").exists()


def test_a_double_tap_on_register_makes_one_member(at_till, chain):
    client = at_till(chain.cashier_a, chain.store_a)

    _register(client)
    second = _register(client)

    assert Member.objects.count() == 1
    assert b"already registered" in second.content


def test_the_register_page_costs_a_fixed_number_of_queries(at_till, chain, django_assert_num_queries):
    client = at_till(chain.cashier_a, chain.store_a)
    client.get(reverse("tablet:register"))

    with django_assert_num_queries(5):
        assert client.get(reverse("tablet:register")).status_code == 200


def test_the_find_form_sends_what_is_typed_in_the_body_never_the_address(at_till, chain):
    page = at_till(chain.cashier_a, chain.store_a).get(reverse("tablet:find")).content.decode()

    form = re.search(r'<form class="search"[^>]*>', page)[0]
    assert 'method="post"' in form and "hx-post=" in form and "hx-get" not in form


def test_a_search_in_the_address_is_not_read(at_till, chain, fang):
    client = at_till(chain.cashier_a, chain.store_a)

    response = client.get(reverse("tablet:find"), {"q": "13800138000", "go": "1"})

    assert response.status_code == 200
    assert response.context["records"] == []
    assert not MemberAccess.objects.exists()


def test_register_this_number_carries_the_phone_in_a_form_not_a_link(at_till, chain):
    client = at_till(chain.cashier_a, chain.store_a)

    page = client.post(reverse("tablet:find"), {"q": "139 1234 5678"}).content.decode()

    assert "?phone=" not in page
    assert 'name="phone" value="139 1234 5678"' in page
    opened = client.post(reverse("tablet:register"), {"prefill": "1", "phone": "139 1234 5678"})
    assert opened.status_code == 200
    assert opened.context["form"].initial["phone"] == "139 1234 5678"
    assert not opened.context["form"].is_bound  # filled in, not yet checked
