"""Who looked at which member (DESIGN §10): every search, every member opened and every full phone shown
leaves a row in the member access log, one INSERT a request, with no phone or name in it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from members.access import member_access_maintain, query_fingerprint
from members.models import MemberAccess
from stores.models import AuditEntry
from tests.admin_helpers import admin_search
from tests.factories import MemberFactory
from tests.factories.campaigns import CouponFactory

pytestmark = pytest.mark.django_db

Kind, Channel, SearchedBy = MemberAccess.Kind, MemberAccess.Channel, MemberAccess.SearchedBy

FANG, NA, WEI = "+8613912345678", "+8613987654321", "+8615011112222"


@pytest.fixture
def fang(chain):
    return MemberFactory(phone=FANG, name="王芳", store=chain.store_a)


@pytest.fixture
def na(chain):
    return MemberFactory(phone=NA, name="王娜", store=chain.store_a)


@pytest.fixture
def wei(chain):
    return MemberFactory(phone=WEI, name="张伟", store=chain.store_b)


def rows(**filters) -> list[MemberAccess]:
    return list(MemberAccess.objects.filter(**filters).order_by("member_id", "id"))


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


# --- the tablet ----------------------------------------------------------------------------------


def test_a_search_at_the_till_records_each_member_it_found_and_what_it_was_by(at_till, chain, fang, na, wei):
    response = at_till(chain.cashier_a, chain.store_a).post(reverse("tablet:find"), {"q": "王"})

    assert response.status_code == 200
    found = rows()
    assert [row.member_id for row in found] == [fang.pk, na.pk]
    for row in found:
        assert (row.staff_id, row.store_id, row.kind, row.channel) == (
            chain.cashier_a.pk,
            chain.store_a.pk,
            Kind.LOOKUP,
            Channel.TABLET,
        )
        assert row.searched_by == SearchedBy.NAME and row.query_hash == query_fingerprint("王")[1]
        assert row.full_phone is False


def test_a_search_that_finds_no_one_is_recorded_without_a_member(at_till, chain, fang):
    at_till(chain.cashier_a, chain.store_a).post(reverse("tablet:find"), {"q": "13800000000"})

    [row] = rows()
    assert row.member_id is None and row.kind == Kind.LOOKUP and row.searched_by == SearchedBy.PHONE


def test_a_cashier_who_typed_a_full_phone_is_recorded_reading_it_back(at_till, chain, fang):
    at_till(chain.cashier_a, chain.store_a).post(reverse("tablet:find"), {"q": "139 1234 5678"})

    [row] = rows()
    assert (row.member_id, row.kind, row.searched_by, row.full_phone) == (fang.pk, Kind.LOOKUP, SearchedBy.PHONE, True)
    # However the number was typed, the same search has the same fingerprint.
    assert row.query_hash == query_fingerprint("+86 139-1234-5678")[1] == query_fingerprint("13912345678")[1]
    assert row.query_hash != query_fingerprint("13987654321")[1]


@pytest.mark.parametrize("page", ["tablet:member", "tablet:top-up", "tablet:sell"])
def test_opening_a_member_on_the_tablet_is_recorded(at_till, chain, fang, page):
    client = at_till(chain.manager_a, chain.store_a)
    if page == "tablet:sell":
        response = client.get(reverse(page), {"member": fang.code})
    else:
        response = client.get(reverse(page, args=[fang.code]))

    assert response.status_code == 200
    [row] = rows()
    assert (row.staff_id, row.store_id, row.member_id, row.kind, row.channel, row.full_phone) == (
        chain.manager_a.pk,
        chain.store_a.pk,
        fang.pk,
        Kind.VIEW,
        Channel.TABLET,
        False,
    )


# --- the API -------------------------------------------------------------------------------------


def test_an_api_lookup_is_recorded_at_the_store_it_names(chain, fang, na):
    response = api_as(chain.cashier_a).post(
        reverse("members-api:member-lookup"), {"q": "1398", "store": "SH001"}, format="json"
    )

    assert response.status_code == 200
    found = rows()
    assert [row.member_id for row in found] == [na.pk]
    assert (found[0].kind, found[0].channel, found[0].store_id, found[0].searched_by) == (
        Kind.LOOKUP,
        Channel.API,
        chain.store_a.pk,
        SearchedBy.PHONE_PREFIX,
    )


def test_an_api_summary_is_a_member_opened_and_a_full_phone_read_by_the_hq_admin(chain, fang):
    api_as(chain.cashier_a).get(reverse("members-api:member-detail", args=[fang.code]))
    api_as(chain.hq_admin).get(reverse("members-api:member-detail", args=[fang.code]))

    cashier, admin = rows(staff=chain.cashier_a), rows(staff=chain.hq_admin)
    assert [(r.member_id, r.kind, r.channel, r.full_phone) for r in cashier] == [
        (fang.pk, Kind.VIEW, Channel.API, False)
    ]
    assert [(r.member_id, r.kind, r.full_phone) for r in admin] == [(fang.pk, Kind.VIEW, True)]


def test_registering_a_member_is_reading_the_full_phone_just_typed(chain):
    response = api_as(chain.cashier_a).post(
        reverse("members-api:member-register"),
        {"phone": "139 1234 5678", "name": "王芳", "store": "SH001"},
        format="json",
    )

    assert response.status_code == 201
    [row] = rows()
    assert (row.member.phone, row.kind, row.full_phone, row.store_id) == (FANG, Kind.VIEW, True, chain.store_a.pk)


def test_typing_a_members_number_into_the_register_form_is_a_lookup(at_till, chain, fang):
    response = at_till(chain.cashier_a, chain.store_a).post(
        reverse("tablet:register"), {"phone": "139 1234 5678", "name": "王芳"}
    )

    assert response.status_code == 200 and "王芳" in response.content.decode()
    [row] = rows()
    assert (row.member_id, row.kind, row.searched_by, row.store_id) == (
        fang.pk,
        Kind.LOOKUP,
        SearchedBy.PHONE,
        chain.store_a.pk,
    )
    assert row.query_hash == query_fingerprint("13912345678")[1]


# --- the back office -----------------------------------------------------------------------------


def test_a_back_office_search_records_the_members_on_the_page(client, chain, fang, na, wei):
    client.force_login(chain.marketer)
    admin_search(client, reverse("admin:members_member_changelist"), "王")
    client.get(reverse("admin:members_member_changelist"))  # browsing without a search: masked, not a lookup

    found = rows()
    assert [(r.member_id, r.kind, r.channel, r.searched_by, r.full_phone) for r in found] == [
        (fang.pk, Kind.LOOKUP, Channel.BACK_OFFICE, SearchedBy.NAME, False),
        (na.pk, Kind.LOOKUP, Channel.BACK_OFFICE, SearchedBy.NAME, False),
    ]


def test_the_360_and_change_pages_record_a_member_opened_with_the_full_phone_for_the_hq_admin(client, chain, fang):
    client.force_login(chain.hq_admin)
    client.get(reverse("admin:members_member_360", args=[fang.pk]))
    client.get(reverse("admin:members_member_change", args=[fang.pk]))
    client.force_login(chain.marketer)
    client.get(reverse("admin:members_member_360", args=[fang.pk]))

    assert [(r.staff_id, r.kind, r.full_phone) for r in rows(member=fang)] == [
        (chain.hq_admin.pk, Kind.VIEW, True),
        (chain.hq_admin.pk, Kind.VIEW, True),
        (chain.marketer.pk, Kind.VIEW, False),
    ]


def test_every_full_phone_a_page_shows_is_recorded_and_masked_ones_are_not(client, chain, fang, na):
    CouponFactory(member=fang)
    CouponFactory(member=na)
    client.force_login(chain.marketer)
    client.get(reverse("admin:campaigns_coupon_changelist"))
    assert rows() == []

    client.force_login(chain.hq_admin)
    client.get(reverse("admin:campaigns_coupon_changelist"))

    assert [(r.member_id, r.kind, r.full_phone, r.staff_id) for r in rows()] == [
        (fang.pk, Kind.SHOWN, True, chain.hq_admin.pk),
        (na.pk, Kind.SHOWN, True, chain.hq_admin.pk),
    ]


def test_a_download_is_left_to_its_export_audit_row_which_keeps_the_filter_but_not_the_search_text(
    client, chain, fang, na
):
    client.force_login(chain.hq_admin)
    response = client.post(
        reverse("admin:members_member_export") + "?q=13912345678&status__exact=active",
        {"columns": ["member_code", "phone"], "fmt": "csv", "headers": "en"},
    )

    assert response.status_code == 200, response.status_code
    assert "13912345678" in b"".join(response.streaming_content).decode()
    assert rows() == []
    audit = AuditEntry.objects.get(action="members.exported")
    assert "status__exact=active" in audit.data["filters"] and audit.data["phones"] == "full"
    assert "13912345678" not in str(audit.data) and str(query_fingerprint("13912345678")[1]) in audit.data["filters"]


# --- how it is written ---------------------------------------------------------------------------


def test_a_request_writes_its_rows_in_one_insert(at_till, chain):
    for n in range(15):
        MemberFactory(phone=f"+8613900000{n:03d}", name="王" + "一二三四五六七八九十甲乙丙丁戊"[n])
    client = at_till(chain.cashier_a, chain.store_a)

    with CaptureQueriesContext(connection) as queries:
        client.post(reverse("tablet:find"), {"q": "王"})

    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "members_memberaccess"')]
    assert len(inserts) == 1 and MemberAccess.objects.count() == 15


def test_nothing_in_the_access_table_holds_a_phone_or_a_name(client, at_till, chain, fang, na):
    tablet = at_till(chain.cashier_a, chain.store_a)
    for query in ("王芳", "139 1234 5678", "1398765", fang.code):
        tablet.post(reverse("tablet:find"), {"q": query})
    api_as(chain.cashier_a).post(reverse("members-api:member-lookup"), {"q": "13987654321"}, format="json")
    client.force_login(chain.hq_admin)
    admin_search(client, reverse("admin:members_member_changelist"), "王娜")
    assert MemberAccess.objects.count() >= 6

    with connection.cursor() as cursor:
        cursor.execute('SELECT * FROM "members_memberaccess"')
        raw = " ".join(str(value) for row in cursor.fetchall() for value in row)
    for secret in ("王", "芳", "娜", "13912345678", "139 1234", "13987654321", "1398765", fang.code):
        assert secret not in raw


def test_if_the_access_row_cannot_be_written_the_member_is_not_shown(at_till, chain, fang, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the access log is unavailable")

    monkeypatch.setattr(MemberAccess.objects, "bulk_create", broken)
    client = at_till(chain.cashier_a, chain.store_a)

    with pytest.raises(RuntimeError):
        client.post(reverse("tablet:find"), {"q": "王"})


def test_rows_past_the_retention_are_removed(settings, chain, fang):
    settings.MEMBER_ACCESS_RETENTION_DAYS = 200
    now = timezone.now()
    for days in (10, 150, 400):
        MemberAccess.objects.create(
            created_at=now - timedelta(days=days),
            staff=chain.cashier_a,
            member=fang,
            kind=Kind.VIEW,
            channel=Channel.TABLET,
        )

    member_access_maintain()
    member_access_maintain()  # again: nothing more to do

    assert sorted((now - r.created_at).days for r in MemberAccess.objects.all()) == [10, 150]


def test_the_upkeep_runs_daily_from_beat():
    from django_celery_beat.models import PeriodicTask

    from config import celery_app as app

    task = PeriodicTask.objects.get(name="members: member access log upkeep")
    assert task.enabled and (task.crontab.hour, task.crontab.minute) == ("3", "40")
    app.loader.import_default_modules()  # as a worker does at start-up
    assert task.task in app.tasks and app.tasks[task.task].acks_late
    assert app.tasks[task.task]() == {"partitions_created": 0, "partitions_dropped": 0, "rows_deleted": 0}


def test_a_retention_shorter_than_six_months_is_refused_at_start(settings):
    from members.checks import access_log_retention

    settings.MEMBER_ACCESS_RETENTION_DAYS = 90
    [error] = access_log_retention(None)
    assert error.id == "members.E001" and "180" in error.msg
    settings.MEMBER_ACCESS_RETENTION_DAYS = 180
    assert access_log_retention(None) == []


@pytest.mark.postgres
def test_on_postgresql_the_log_is_partitioned_by_month_and_expired_months_are_dropped(settings, chain, fang):
    settings.MEMBER_ACCESS_RETENTION_DAYS = 365
    today = timezone.localdate()
    long_ago = today - timedelta(days=500)
    # The upkeep as it ran 500 days ago made that month's partition (and the next two).
    assert member_access_maintain(today=long_ago)["partitions_created"] == 3
    for when in (timezone.now() - timedelta(days=500), timezone.now()):
        MemberAccess.objects.create(
            created_at=when, staff=chain.cashier_a, member=fang, kind=Kind.VIEW, channel=Channel.TABLET
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM members_memberaccess ORDER BY created_at")
        old_partition, new_partition = (row[0] for row in cursor.fetchall())
    assert old_partition == f"members_memberaccess_y{long_ago:%Y}m{long_ago:%m}"
    assert new_partition == f"members_memberaccess_y{today:%Y}m{today:%m}"

    summary = member_access_maintain()

    assert summary["partitions_dropped"] == 3 and summary["partitions_created"] == 0
    assert [
        (now.date() - r.created_at.date()).days for r in MemberAccess.objects.all() for now in [timezone.now()]
    ] == [0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [old_partition])
        assert cursor.fetchone()[0] is None


def test_the_churn_reports_audit_row_keeps_its_filter_but_not_the_search_text(client, chain, fang):
    client.force_login(chain.marketer)
    response = client.get(
        reverse("admin:analytics_memberscore_csv"), {"q": "13912345678", "churn_level__exact": "high", "format": "csv"}
    )

    assert response.status_code == 200
    audit = AuditEntry.objects.get(action="analytics.churn_report_exported")
    assert audit.data["filters"]["churn_level__exact"] == ["high"] and audit.data["phones"] == "masked"
    assert audit.data["filters"]["q"] == [f"phone:{query_fingerprint('13912345678')[1]}"]
    assert "13912345678" not in str(audit.data)
