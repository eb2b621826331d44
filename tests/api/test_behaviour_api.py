import pytest

from loyalty.models import PointsEntry, SignIn
from members.services import member_set_status
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def sign_in(client, member_ref, **fields):
    return client.post(f"/api/v1/members/{member_ref}/sign-ins/", fields, format="json")


def report(client, member_ref, kind="review", external_id="order-20261124-7", **fields):
    payload = {"member": member_ref, "kind": kind, "external_id": external_id, **fields}
    return client.post("/api/v1/points/events/", payload, format="json")


# Sign-ins


def test_a_member_signs_in_at_the_till_and_earns_the_daily_points(chain, as_user, member):
    response = sign_in(as_user(chain.cashier_a), member.code, store="SH001")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["member"], body["streak"], body["points"]) == (member.code, 1, 5)
    assert body["balances"]["points"]["available"] == 5


def test_an_integration_signs_a_member_in_by_code_without_a_store(chain, as_user, member):
    response = sign_in(as_user(chain.hq_admin), member.code)

    assert response.status_code == 201, response.content
    assert response.json()["points"] == 5


def test_a_sign_in_addressed_by_phone_is_refused_with_where_to_send_the_phone(chain, as_user, member):
    response = sign_in(as_user(chain.hq_admin), "13800138000")

    assert response.status_code == 400
    assert response.json()["code"] == "phone_in_path"


def test_signing_in_again_the_same_day_answers_the_first_sign_in_with_200(chain, as_user, member):
    client = as_user(chain.cashier_a)

    first = sign_in(client, member.code, store="SH001")
    again = sign_in(client, member.code, store="SH001")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert SignIn.objects.count() == 1
    assert PointsEntry.objects.filter(kind="behaviour").count() == 1


def test_a_cashier_cannot_sign_members_in_at_another_store(chain, as_user, member):
    response = sign_in(as_user(chain.cashier_b), member.code, store="SH001")

    assert_error(response, 403, "forbidden")
    assert not SignIn.objects.exists()


def test_store_staff_must_name_their_store(chain, as_user, member):
    response = sign_in(as_user(chain.cashier_a), member.code)

    assert_error(response, 403, "forbidden")
    assert not SignIn.objects.exists()


def test_a_frozen_member_cannot_sign_in(chain, as_user, member):
    member_set_status(member=member, actor=chain.hq_admin, status="frozen", reason="卡片挂失")

    response = sign_in(as_user(chain.cashier_a), member.code, store="SH001")

    assert_error(response, 400, "member_frozen", "member")
    assert not SignIn.objects.exists()


def test_signing_in_an_unknown_member_or_at_an_unknown_store_is_404(chain, as_user, member):
    client = as_user(chain.cashier_a)

    assert_error(sign_in(client, "9000000000"), 404, "member_not_found")
    assert_error(sign_in(client, member.code, store="NOPE"), 404, "store_not_found", "store")
    assert not SignIn.objects.exists()


# Reviews and shares


def test_an_integration_reports_a_review_and_the_member_earns_its_points(chain, as_user, member):
    response = report(as_user(chain.hq_admin), member.code)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["external_id"], body["points"]) == ("review", "order-20261124-7", 10)
    assert body["balances"]["points"]["available"] == 10


def test_the_same_event_reported_twice_rewards_once(chain, as_user, member):
    client = as_user(chain.hq_admin)

    first = report(client, member.code, kind="share", external_id="wx-moment-1")
    again = report(client, member.code, kind="share", external_id="wx-moment-1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert PointsEntry.objects.filter(kind="behaviour").count() == 1


@pytest.mark.parametrize("persona", ["cashier_a", "manager_a", "marketer"])
def test_only_a_back_office_role_may_report_events(chain, as_user, member, persona):
    response = report(as_user(getattr(chain, persona)), member.code)

    assert_error(response, 403, "forbidden")
    assert not PointsEntry.objects.exists()


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"kind": "like"}, "invalid_event", "kind"),
        ({"external_id": ""}, "blank", "external_id"),
        ({"external_id": "x" * 61}, "max_length", "external_id"),
        ({"member": ""}, "blank", "member"),
    ],
)
def test_a_bad_event_is_refused_with_its_field(chain, as_user, member, fields, code, field):
    response = report(as_user(chain.hq_admin), **{"member_ref": member.code, **fields})

    assert_error(response, 400, code, field)
    assert not PointsEntry.objects.exists()


def test_an_event_for_an_unknown_member_is_404(chain, as_user, member):
    assert_error(report(as_user(chain.hq_admin), "13999999999"), 404, "member_not_found", "member")


def test_events_from_someone_not_logged_in_are_401(api, member):
    assert_error(report(api, member.code), 401, "not_authenticated")
    assert_error(sign_in(api, member.code), 401, "not_authenticated")
