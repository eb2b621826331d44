"""The back office of messaging: templates checked on their page with the known variables listed, a preview
and "send me a test", and the read-only outbox with its counts by status and masked phones."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from campaigns.models import Message, MessageChannel, MessageTemplate
from stores.models import AuditEntry, StaffProfile
from tests.admin_helpers import admin_search
from tests.factories.campaigns import MessageFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db

TEMPLATES = reverse("admin:campaigns_messagetemplate_changelist")
ADD = reverse("admin:campaigns_messagetemplate_add")
OUTBOX = reverse("admin:campaigns_message_changelist")


def preview_url(template):
    return reverse("admin:campaigns_messagetemplate_preview", args=[template.pk])


def counted(client, path, django_assert_num_queries, expected, **params):
    ContentType.objects.clear_cache()  # the content type cache is per process: start each count cold
    with django_assert_num_queries(expected):
        response = client.get(path, params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, response.content[:500]
    return response


@pytest.fixture
def sms(db):
    return MessageTemplateFactory(name="积分提醒", channel=MessageChannel.SMS, body="{name}您好，您有{points}积分。")


@pytest.fixture
def outbox_rows(consenting, unconsenting, sms, clock):
    rows = [
        MessageFactory(member=consenting, template=sms, status="sent", sent_at=clock.now, provider_id="SM-1"),
        MessageFactory(member=consenting, template=sms),
        MessageFactory(member=unconsenting, template=sms, status="no_consent", recipient=""),
        MessageFactory(member=unconsenting, template=sms, status="failed", error="invalid number", attempts=1),
    ]
    return rows


# --- templates -----------------------------------------------------------------------------------


def test_the_add_page_lists_the_known_variables_with_their_descriptions(client, chain, django_assert_num_queries):
    client.force_login(chain.marketer)
    # session, user, the user's and the group's permissions, the template's content type
    response = counted(client, ADD, django_assert_num_queries, 5)
    html = response.content.decode()
    for name in ("{name}", "{points}", "{points_expiring}", "{expiring_on}", "{tier}", "{coupon_code}", "{store}"):
        assert name in html
    assert "Points available now." in html
    assert 'id="message-length"' in html


def test_a_template_with_an_unknown_variable_is_refused_on_the_page_and_nothing_is_saved(client, chain):
    client.force_login(chain.marketer)
    response = client.post(
        ADD, {"name": "生日祝福", "channel": "sms", "body": "{name}生日快乐，送您{gift}"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["body"][0].startswith("Unknown variables: {gift}. Known variables: {name},")
    assert not MessageTemplate.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="campaigns.").exists()


def test_a_template_saved_on_the_page_goes_through_the_service_and_is_audited(client, chain):
    client.force_login(chain.marketer)
    response = client.post(ADD, {"name": "生日祝福", "channel": "sms", "body": "{name}生日快乐！"})
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    template = MessageTemplate.objects.get()
    assert template.body == "{name}生日快乐！"
    assert AuditEntry.objects.get(action="campaigns.message_template_saved").actor == chain.marketer


def test_the_change_page_links_the_preview_with_a_pinned_query_count(client, chain, sms, django_assert_num_queries):
    client.force_login(chain.hq_admin)
    url = reverse("admin:campaigns_messagetemplate_change", args=[sms.pk])
    # session, user, the template, permissions (2), its content type
    response = counted(client, url, django_assert_num_queries, 6)
    assert preview_url(sms) in response.content.decode()


def test_the_template_list_has_a_pinned_query_count(client, chain, sms, django_assert_num_queries):
    MessageTemplateFactory.create_batch(5)
    client.force_login(chain.marketer)
    # session, user, permissions (2), count, page, full count
    response = counted(client, TEMPLATES, django_assert_num_queries, 7)
    assert len(response.context["cl"].result_list) == 6


# --- preview and test ----------------------------------------------------------------------------


def test_the_preview_renders_the_template_for_a_member_with_a_masked_phone_for_the_marketer(
    client, chain, sms, consenting, django_assert_num_queries
):
    client.force_login(chain.marketer)
    # session, user, role; the template; the member; points (account, lots); permissions (2) for the menu
    response = counted(client, preview_url(sms), django_assert_num_queries, 9, member=consenting.code)
    html = response.content.decode()
    assert "王芳您好，您有0积分。 回T退订" in html
    assert "138****8000" in html and "13800138000" not in html
    assert "Queued" in response.context["status_label"]


def test_the_preview_says_when_a_member_would_not_get_it(client, chain, sms, unconsenting):
    client.force_login(chain.hq_admin)
    response = client.get(preview_url(sms), {"member": "13900139000"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["status_label"] == "Not sent: no marketing consent"
    assert "13900139000" in response.content.decode()  # the HQ admin sees full phones


def test_the_preview_without_a_member_shows_the_example_values(client, chain, sms):
    client.force_login(chain.marketer)
    response = client.get(preview_url(sms))
    assert "王芳您好，您有1280积分。 回T退订" in response.content.decode()
    assert response.context["preview"].examples == ["name", "points"]


def test_an_unknown_member_in_the_preview_is_said_so(client, chain, sms):
    client.force_login(chain.marketer)
    response = client.get(preview_url(sms), {"member": "9000000000"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["form"].errors["member"] == ["No member has this member code or phone number."]


def test_send_me_a_test_queues_the_message_to_the_staff_members_own_address_and_audits_it(
    client, chain, consenting, outbox_file
):
    email = MessageTemplateFactory(channel=MessageChannel.EMAIL, subject="{name}，春季焕新", body="满200减50")
    chain.marketer.email = "marketer@example.com"
    chain.marketer.save()
    client.force_login(chain.marketer)
    payload = {"member": consenting.code, "request_id": "a" * 32}
    response = client.post(preview_url(email), payload)
    assert response.status_code == 302
    message = Message.objects.get()
    assert (message.purpose, message.recipient, message.subject) == ("test", "marketer@example.com", "王芳，春季焕新")
    assert AuditEntry.objects.get(action="campaigns.message_test_sent").actor == chain.marketer
    # Submitting the same form again queues nothing more
    client.post(preview_url(email), payload)
    assert Message.objects.count() == 1


def test_a_test_sms_needs_the_staff_members_phone(client, chain, sms, consenting):
    client.force_login(chain.marketer)
    response = client.post(
        preview_url(sms), {"member": consenting.code, "request_id": "b" * 32}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "Your staff profile has no mobile phone" in response.content.decode()
    assert not Message.objects.exists()
    StaffProfile.objects.filter(user=chain.marketer).update(phone="13500135000")
    client.post(preview_url(sms), {"member": consenting.code, "request_id": "c" * 32})
    assert Message.objects.get().recipient == "+8613500135000"


def test_store_staff_cannot_open_the_preview(client, chain, sms):
    client.force_login(chain.manager_a)
    response = client.get(preview_url(sms))
    assert response.status_code == 302 and "login" in response["Location"]


# --- the outbox ----------------------------------------------------------------------------------


def test_the_outbox_counts_messages_by_status_with_a_pinned_query_count(
    client, chain, outbox_rows, django_assert_num_queries
):
    client.force_login(chain.marketer)
    # session, user, permissions (2), role, the capped count, the page, counts by status, campaigns and
    # automations for their filters
    response = counted(client, OUTBOX, django_assert_num_queries, 10)
    counts = {item["status"]: item["count"] for item in response.context["status_counts"]}
    assert counts == {"queued": 1, "sending": 0, "sent": 1, "failed": 1, "no_consent": 1, "no_address": 0}
    # More messages cost no more queries
    MessageFactory.create_batch(10, member=outbox_rows[0].member)
    response = counted(client, OUTBOX, django_assert_num_queries, 10)
    assert response.context["status_total"] == 14


def test_the_counts_follow_the_filters(client, chain, outbox_rows, unconsenting):
    client.force_login(chain.hq_admin)
    response = admin_search(client, OUTBOX, "13900139000")
    counts = {item["status"]: item["count"] for item in response.context["status_counts"]}
    assert counts["no_consent"] == 1 and counts["failed"] == 1 and counts["sent"] == 0
    response = client.get(OUTBOX, {"status__exact": "failed"})
    assert [m.pk for m in response.context["cl"].result_list] == [outbox_rows[3].pk]


def test_the_outbox_masks_phones_for_the_marketer_and_not_for_the_hq_admin(client, chain, outbox_rows):
    client.force_login(chain.marketer)
    html = client.get(OUTBOX).content.decode()
    assert "138****8000" in html and "13800138000" not in html
    client.force_login(chain.hq_admin)
    html = client.get(OUTBOX).content.decode()
    assert "13800138000" in html and "138****8000" not in html  # 11 digits, as every page shows a phone


def test_the_outbox_is_searched_by_member_code_or_phone(client, chain, outbox_rows, consenting):
    client.force_login(chain.marketer)
    for term in (consenting.code, "138 0013 8000", "1380013"):
        shown = {m.pk for m in admin_search(client, OUTBOX, term).context["cl"].result_list}
        assert shown == {outbox_rows[0].pk, outbox_rows[1].pk}


def test_the_outbox_filters_by_channel_and_campaign(client, chain, outbox_rows, campaign, consenting):
    in_campaign = MessageFactory(member=consenting, campaign=campaign, channel="email", recipient="w@example.com")
    client.force_login(chain.hq_admin)
    shown = client.get(OUTBOX, {"campaign__id__exact": campaign.pk}).context["cl"].result_list
    assert [m.pk for m in shown] == [in_campaign.pk]
    shown = client.get(OUTBOX, {"channel__exact": "email"}).context["cl"].result_list
    assert [m.pk for m in shown] == [in_campaign.pk]


def test_a_message_page_shows_the_rendered_text_read_only(client, chain, outbox_rows, django_assert_num_queries):
    message = outbox_rows[3]
    client.force_login(chain.marketer)
    url = reverse("admin:campaigns_message_change", args=[message.pk])
    # session, user, the message with its member, template, campaign and automation, permissions (2), role,
    # the content type
    response = counted(client, url, django_assert_num_queries, 7)
    html = response.content.decode()
    assert message.body in html and "invalid number" in html
    assert "139****9000" in html and "+8613900139000" not in html
    assert 'name="_save"' not in html


def test_the_outbox_cannot_be_added_to_or_deleted_from(client, chain, outbox_rows):
    client.force_login(chain.hq_admin)
    assert client.get(reverse("admin:campaigns_message_add")).status_code == 403
    delete = reverse("admin:campaigns_message_delete", args=[outbox_rows[0].pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Message.objects.count() == 4


def test_a_preview_for_a_member_typed_by_phone_is_posted_and_the_phone_stays_out_of_the_address(
    client, chain, sms, consenting
):
    client.force_login(chain.marketer)

    page = client.post(preview_url(sms), {"member": "138 0013 8000", "show": "1"}, HTTP_ACCEPT_LANGUAGE="en")
    assert not Message.objects.filter(purpose="test").exists()  # showing sends nothing
    sent = client.post(preview_url(sms), {"member": "13800138000", "request_id": "d" * 32})

    assert page.status_code == 200 and page.context["member"] == consenting
    assert '<form method="post" class="inline">' in page.content.decode()  # "Show" too
    assert sent.status_code == 302 and sent["Location"] == f"{preview_url(sms)}?member={consenting.code}"
