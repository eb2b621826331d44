import pytest

from loyalty.models import PointsEntry
from members.services import member_set_status
from stores.models import AuditEntry
from tests.api.conftest import assert_error, rid
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def adjust(client, member_ref, points, **fields):
    payload = {"request_id": rid(), "member": member_ref, "points": points, "reason": "补录漏积分", **fields}
    return client.post("/api/v1/points/adjustments/", payload, format="json")


def test_hq_adds_points_with_a_reason_and_the_adjustment_is_audited(chain, as_user, member):
    response = adjust(as_user(chain.hq_admin), member.code, 800)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["member"], body["points"], body["reason"], body["store"]) == (member.code, 800, "补录漏积分", None)
    assert body["balances"]["points"] == {"available": 800, "pending": 0, "debt": 0}
    assert AuditEntry.objects.filter(action="points.adjusted", actor=chain.hq_admin).exists()


def test_a_manager_takes_points_away_at_their_store(chain, as_user, member, sell):
    sell(member.code, "300.00")

    response = adjust(as_user(chain.manager_a), "138 0013 8000", -200, store="SH001")

    assert response.status_code == 201, response.content
    assert response.json()["store"] == "SH001"
    assert response.json()["balances"]["points"]["available"] == 100


def test_the_same_adjustment_again_returns_the_first_with_200(chain, as_user, member):
    client = as_user(chain.hq_admin)
    payload = {"request_id": rid(), "member": member.code, "points": 50, "reason": "补录"}

    first = client.post("/api/v1/points/adjustments/", payload, format="json")
    again = client.post("/api/v1/points/adjustments/", payload, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert again.json()["request_id"] == payload["request_id"]
    assert PointsEntry.objects.filter(kind="adjust").count() == 1


def test_a_different_adjustment_under_a_used_request_id_is_refused(chain, as_user, member, snapshot):
    client = as_user(chain.hq_admin)
    payload = {"request_id": rid(), "member": member.code, "points": 50, "reason": "补录"}
    client.post("/api/v1/points/adjustments/", payload, format="json")
    before = snapshot()

    response = client.post("/api/v1/points/adjustments/", {**payload, "points": 5000}, format="json")

    assert_error(response, 409, "request_id_reused", "request_id")
    before.assert_unchanged()


def test_a_manager_may_adjust_only_up_to_the_limit(chain, as_user, member, snapshot):
    before = snapshot()

    assert_error(
        adjust(as_user(chain.manager_a), member.code, 501, store="SH001"), 400, "adjustment_limit_exceeded", "points"
    )
    before.assert_unchanged()


def test_a_cashier_may_not_adjust_points(chain, as_user, member, snapshot):
    before = snapshot()

    assert_error(adjust(as_user(chain.cashier_a), member.code, 10), 403, "forbidden")
    before.assert_unchanged()


def test_a_manager_may_not_adjust_at_another_store(chain, as_user, member, snapshot):
    before = snapshot()

    assert_error(adjust(as_user(chain.manager_a), member.code, 10, store="BJ001"), 403, "forbidden")
    before.assert_unchanged()


def test_an_adjustment_needs_a_reason(chain, as_user, member, snapshot):
    before = snapshot()

    assert_error(adjust(as_user(chain.hq_admin), member.code, 10, reason=""), 400, "reason_required", "reason")
    before.assert_unchanged()


def test_zero_points_is_not_an_adjustment(chain, as_user, member, snapshot):
    before = snapshot()

    assert_error(adjust(as_user(chain.hq_admin), member.code, 0), 400, "invalid_points", "points")
    before.assert_unchanged()


def test_more_points_than_the_member_has_cannot_be_taken(chain, as_user, member, snapshot):
    before = snapshot()

    assert_error(adjust(as_user(chain.hq_admin), member.code, -100), 400, "insufficient_points", "points")
    before.assert_unchanged()


def test_a_frozen_members_points_are_not_adjusted(chain, as_user, member, snapshot):
    member_set_status(member=member, actor=chain.hq_admin, status="frozen", reason="挂失")
    before = snapshot()

    assert_error(adjust(as_user(chain.hq_admin), member.code, 10), 400, "member_frozen", "member")
    before.assert_unchanged()


def test_an_unknown_member_is_answered_404(chain, as_user, policy, snapshot):
    before = snapshot()

    assert_error(adjust(as_user(chain.hq_admin), "9999999999", 10), 404, "member_not_found", "member")
    before.assert_unchanged()


def test_points_must_be_a_whole_number(chain, as_user, member, snapshot):
    before = snapshot()

    assert_error(adjust(as_user(chain.hq_admin), member.code, 1.5), 400, "invalid", "points")
    assert_error(adjust(as_user(chain.hq_admin), member.code, "ten"), 400, "invalid", "points")
    before.assert_unchanged()


# Where an adjustment was made, and one idempotency rule (issue 16 items 5 and 6).


def test_a_manager_must_say_at_which_store_they_adjust(chain, as_user, member, snapshot):
    before = snapshot()

    assert_error(adjust(as_user(chain.manager_a), member.code, 10), 400, "store_required", "store")
    before.assert_unchanged()


def test_a_managers_adjustment_records_their_store(chain, as_user, member):
    response = adjust(as_user(chain.manager_a), member.code, 10, store="SH001")

    assert response.status_code == 201, response.content
    assert PointsEntry.objects.get(kind="adjust").store == chain.store_a
    assert AuditEntry.objects.get(action="points.adjusted").store == chain.store_a


def test_the_same_request_id_for_another_member_is_refused(chain, as_user, member, snapshot):
    other = MemberFactory(phone="13900139000")
    client = as_user(chain.manager_a)
    payload = {"request_id": rid(), "member": member.code, "points": 50, "reason": "补录", "store": "SH001"}
    assert client.post("/api/v1/points/adjustments/", payload, format="json").status_code == 201
    before = snapshot()

    response = client.post("/api/v1/points/adjustments/", {**payload, "member": other.code}, format="json")

    assert_error(response, 409, "request_id_reused", "request_id")
    before.assert_unchanged()
    assert not PointsEntry.objects.filter(member=other).exists()


def test_the_same_request_id_with_another_reason_is_refused(chain, as_user, member, snapshot):
    client = as_user(chain.hq_admin)
    payload = {"request_id": rid(), "member": member.code, "points": 50, "reason": "补录"}
    client.post("/api/v1/points/adjustments/", payload, format="json")
    before = snapshot()

    response = client.post("/api/v1/points/adjustments/", {**payload, "reason": "生日补发"}, format="json")

    assert_error(response, 409, "request_id_reused", "request_id")
    before.assert_unchanged()


def test_hq_reusing_a_request_id_at_another_store_is_refused(chain, as_user, member, snapshot):
    client = as_user(chain.hq_admin)
    payload = {"request_id": rid(), "member": member.code, "points": 50, "reason": "补录", "store": "SH001"}
    client.post("/api/v1/points/adjustments/", payload, format="json")
    before = snapshot()

    for store in ("BJ001", ""):
        response = client.post("/api/v1/points/adjustments/", {**payload, "store": store}, format="json")

        assert_error(response, 409, "request_id_reused", "request_id")
    before.assert_unchanged()


def test_a_manager_reaches_the_daily_cap_one_adjustment_at_a_time(chain, as_user, member, snapshot):
    client = as_user(chain.manager_a)
    for _ in range(4):
        assert adjust(client, member.code, 450, store="SH001").status_code == 201
    before = snapshot()

    body = assert_error(adjust(client, member.code, 450, store="SH001"), 400, "adjustment_limit_exceeded", "points")

    assert "1800" in body["message"]
    before.assert_unchanged()
