"""POST /api/v1/members/{code}/opt-out/ (or /api/v1/opt-outs/ with the code or phone in the body): an
integration relays a member's "T" reply or unsubscribe."""

import pytest
from django.contrib.auth import get_user_model

from campaigns.models import Message
from members.models import Member
from stores.models import AuditEntry
from tests.api.conftest import assert_error
from tests.factories import MemberFactory
from tests.factories.campaigns import MessageFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def subscriber(db):
    return MemberFactory(phone="13800138000", name="王芳", marketing_consent=True)


def opt_out(client, reference, **payload):
    return client.post(f"/api/v1/members/{reference}/opt-out/", payload, format="json")


def test_a_relayed_t_reply_opts_the_member_out_and_stops_their_queued_messages(chain, as_user, subscriber):
    MessageFactory(member=subscriber)
    response = opt_out(as_user(chain.hq_admin), subscriber.code, source="sms_reply", channel="sms", reply="T")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "member": subscriber.code,
        "marketing_consent": False,
        "changed": True,
        "messages_cancelled": 1,
    }
    assert not Member.objects.get(pk=subscriber.pk).marketing_consent
    assert Message.objects.get().status == "no_consent"


def test_the_same_opt_out_again_answers_200_and_changes_nothing(chain, as_user, subscriber):
    client = as_user(chain.hq_admin)
    opt_out(client, subscriber.code, reply="退订")
    audits = AuditEntry.objects.count()
    # by phone, as the SMS gateway knows the member: in the body, never the address
    again = client.post("/api/v1/opt-outs/", {"member": "138 0013 8000", "reply": "退订"}, format="json")
    assert again.status_code == 200
    assert again.json()["changed"] is False
    assert AuditEntry.objects.count() == audits


def test_an_unsubscribe_link_needs_no_reply_text(chain, as_user, subscriber):
    response = opt_out(as_user(chain.marketer), subscriber.code, source="email_unsubscribe", channel="email")
    assert response.status_code == 200
    assert AuditEntry.objects.get(action="member.marketing_opt_out").data["source"] == "email_unsubscribe"


def test_a_reply_that_is_not_an_opt_out_is_refused_and_nothing_is_written(chain, as_user, subscriber):
    client = as_user(chain.hq_admin)
    response = client.post(
        f"/api/v1/members/{subscriber.code}/opt-out/", {"reply": "谢谢，收到"}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    body = assert_error(response, 400, "not_an_opt_out_reply", field="reply")
    assert body["message"] == "This reply is not an opt-out (T, TD, N or 退订 are)."
    assert Member.objects.get(pk=subscriber.pk).marketing_consent


@pytest.mark.parametrize(
    "payload, code, field",
    [
        ({"source": "pigeon"}, "invalid_choice", "source"),
        ({"channel": "fax"}, "invalid_choice", "channel"),
        ({"reply": "T" * 65}, "max_length", "reply"),
        ({"reply": 7}, "not_an_opt_out_reply", "reply"),
    ],
)
def test_bad_input_is_refused_with_its_field(chain, as_user, subscriber, payload, code, field):
    assert_error(opt_out(as_user(chain.hq_admin), subscriber.code, **payload), 400, code, field=field)
    assert Member.objects.get(pk=subscriber.pk).marketing_consent


def test_an_unknown_member_is_404(chain, as_user):
    assert_error(opt_out(as_user(chain.hq_admin), "9000000000", reply="T"), 404, "member_not_found")


def test_the_caller_must_be_logged_in_and_have_a_role(chain, api, as_user, subscriber):
    assert_error(opt_out(api, subscriber.code, reply="T"), 401, "not_authenticated")
    nobody = User.objects.create_user("nobody", password="x" * 12)
    assert_error(opt_out(as_user(nobody), subscriber.code, reply="T"), 403, "forbidden")
    assert Member.objects.get(pk=subscriber.pk).marketing_consent


def test_a_malformed_body_is_a_parse_error(chain, as_user, subscriber):
    client = as_user(chain.hq_admin)
    response = client.post(
        f"/api/v1/members/{subscriber.code}/opt-out/", data="{not json", content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


# The member, the user's roles (an HQ role needs no stores), the member locked again by the members service
# and its update, the consent record, the marketing messages marked, the audit row; savepoints around both
# services (4).
def test_an_opt_out_costs_a_fixed_number_of_queries(chain, api, subscriber, django_assert_num_queries):
    api.force_authenticate(User.objects.get(pk=chain.hq_admin.pk))
    with django_assert_num_queries(11):
        response = opt_out(api, subscriber.code, reply="T")
    assert response.status_code == 200


def test_an_opt_out_addressed_by_phone_in_the_path_is_refused_with_where_to_send_it(chain, as_user, subscriber):
    response = opt_out(as_user(chain.hq_admin), "13800138000", reply="T")

    assert_error(response, 400, "phone_in_path", None)
    assert Member.objects.get(pk=subscriber.pk).marketing_consent
