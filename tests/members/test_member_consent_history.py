"""Consent history: every giving or withdrawal of marketing consent — at the tablet, by the API, in the back
office, by an opt-out, by erasure — is recorded with when, where, by whom and which consent text; the
member's current consent is the latest record's; the 360 page shows the history."""

import json

import pytest
from django.urls import reverse

from campaigns.services.messaging import OptOutSource, member_opt_out
from members.data_access import member_data_file
from members.models import ConsentRecord, Member
from members.selectors import phone_q
from members.services import member_register, member_update
from tests.factories import MemberFactory
from tests.members.rights import erase

pytestmark = pytest.mark.django_db


def history_of(member) -> list[tuple]:
    return list(
        ConsentRecord.objects.filter(member=member)
        .order_by("at", "id")
        .values_list("given", "source", "store__code", "staff__username")
    )


def test_consent_ticked_at_the_tablet_is_recorded_with_the_store_the_cashier_and_the_text_version(
    at_till, chain, settings
):
    settings.MARKETING_CONSENT_TEXT_VERSION = "2026-03"
    client = at_till(chain.cashier_a, chain.store_a)

    client.post(
        reverse("tablet:register"),
        {"phone": "13912345678", "name": "陈静", "gender": "female", "terms": "on", "marketing_consent": "on"},
    )

    member = Member.objects.get(phone_q("+8613912345678"))
    assert history_of(member) == [(True, "tablet", "SH001", "cashier_a")]
    record = ConsentRecord.objects.get(member=member)
    assert record.text_version == "2026-03"
    assert (member.marketing_consent, member.consent_at, member.consent_source) == (True, record.at, "tablet")


def test_registering_without_consent_records_nothing(chain):
    member = member_register(phone="13912345678", name="陈静", store=chain.store_a, staff=chain.cashier_a)

    assert history_of(member) == []
    assert not member.marketing_consent


def test_consent_given_through_the_api_is_recorded_as_the_integrations(client, chain):
    client.force_login(chain.hq_admin)

    response = client.post(
        "/api/v1/members/",
        json.dumps(
            {"phone": "13912345678", "name": "李娜", "store": "SH001", "channel": "api", "marketing_consent": True}
        ),
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    member = Member.objects.get(code=response.json()["code"])
    assert history_of(member) == [(True, "api", "SH001", "hq_admin")]


def test_withdrawing_in_the_back_office_is_recorded_and_becomes_the_current_consent(client, chain):
    member = MemberFactory(phone="13912345678", name="李娜", marketing_consent=True, store=chain.store_a)
    client.force_login(chain.hq_admin)
    form = client.get(reverse("admin:members_member_change", args=[member.pk])).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "tags"}
    data.update(phone="13912345678", marketing_consent="", home_store=chain.store_a.pk, referrer="")

    response = client.post(reverse("admin:members_member_change", args=[member.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert history_of(member) == [(True, "tablet", "SH001", None), (False, "paper", None, "hq_admin")]
    member.refresh_from_db()
    assert (member.marketing_consent, member.consent_at, member.consent_source) == (False, None, "")


def test_an_opt_out_reply_is_recorded_as_such(chain):
    member = MemberFactory(phone="13912345678", name="李娜", marketing_consent=True)

    member_opt_out(member=member, source=OptOutSource.SMS_REPLY, actor=chain.hq_admin, reply="T")

    assert history_of(member)[-1] == (False, "opt_out", None, "hq_admin")


def test_saving_the_same_consent_again_records_nothing(chain):
    member = MemberFactory(phone="13912345678", name="李娜", marketing_consent=True)

    member_update(member=member, actor=chain.hq_admin, marketing_consent=True, name="李娜娜")

    assert len(history_of(member)) == 1


def test_erasure_records_the_withdrawal(chain):
    member = MemberFactory(phone="13912345678", name="李娜", marketing_consent=True)

    erase(member, chain.hq_admin)

    assert history_of(member)[-1] == (False, "erasure", None, "hq_admin")
    assert not Member.objects.get(pk=member.pk).marketing_consent


def test_the_360_page_and_the_data_file_show_the_history(client, chain):
    member = MemberFactory(phone="13912345678", name="李娜", marketing_consent=True, store=chain.store_a)
    member_update(member=member, actor=chain.hq_admin, marketing_consent=False, consent_source="paper")
    client.force_login(chain.marketer)

    page = client.get(reverse("admin:members_member_360", args=[member.pk]), HTTP_ACCEPT_LANGUAGE="en")

    assert page.content.decode().count('class="consent-record"') == 2
    assert "Withdrawn" in page.content.decode()
    _name, content = member_data_file(member=member, by=chain.hq_admin)
    assert [row["given"] for row in json.loads(content)["consent"]["history"]] == [True, False]


def test_the_migration_makes_todays_consent_each_members_first_record(chain):
    import importlib

    from django.db import connection

    migration = importlib.import_module("members.migrations.0016_consent_history")
    consenting = MemberFactory(phone="13912345678", name="李娜", marketing_consent=True)
    MemberFactory(phone="13912345679", name="王芳")
    ConsentRecord.objects.all().delete()  # as before the migration

    class Editor:
        def execute(self, sql):
            with connection.cursor() as cursor:
                cursor.execute(sql)

    migration.backfill(None, Editor())

    assert history_of(consenting) == [(True, "tablet", None, None)]
    assert ConsentRecord.objects.count() == 1
    assert ConsentRecord.objects.get().at == Member.objects.get(pk=consenting.pk).consent_at
