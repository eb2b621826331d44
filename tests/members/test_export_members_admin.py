"""The members export in the back office: button, action, page, filters, streaming, audit, refusals."""

from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse

from members.access import query_fingerprint
from members.exports import MEMBERS_EXPORTED
from members.models import Member
from stores.models import AuditEntry
from tests.admin_helpers import admin_search_url
from tests.export_helpers import csv_dicts, streamed, xlsx_dicts
from tests.factories import MemberFactory, TagFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:members_member_changelist")
EXPORT = reverse("admin:members_member_export")


@pytest.fixture
def members(chain):
    vip = TagFactory(name="VIP")
    return [
        MemberFactory(phone="13812340000", name="王芳", home_store=chain.store_a, tags=[vip]),
        MemberFactory(phone="13812340001", name="王小明", home_store=chain.store_a),
        MemberFactory(phone="13812340002", name="李娜", home_store=chain.store_b, tags=[vip]),
        MemberFactory(phone="13900001111", name="张伟", home_store=chain.store_b),
    ]


@pytest.fixture
def viewer_without_export(db):
    """A back-office login that may read members but has no role that may export."""
    user = get_user_model().objects.create_user(username="reader", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_member"))
    return user


def post_export(client, query: dict | str = "", **form):
    data = {"columns": ["member_code", "name", "phone", "store_code"], "fmt": "csv", "headers": "zh", **form}
    query = query if isinstance(query, str) else urlencode(query)
    return client.post(f"{EXPORT}?{query}" if query else EXPORT, data)


def audits():
    return list(AuditEntry.objects.filter(action=MEMBERS_EXPORTED))


@pytest.mark.parametrize("persona", ["hq_admin", "marketer"])
def test_the_export_button_carries_the_lists_filters_and_search(client, chain, members, persona):
    client.force_login(getattr(chain, persona))
    searched = admin_search_url(client, CHANGELIST, "138", {"home_store__id__exact": chain.store_b.pk})
    listed = client.get(searched)
    token = searched.split("q=")[1]
    assert f'href="{EXPORT}?home_store__id__exact={chain.store_b.pk}&amp;q={token}"' in listed.content.decode()
    export_page = client.get(f"{EXPORT}?home_store__id__exact={chain.store_b.pk}&q={token}")
    assert export_page.context["count"] == listed.context["cl"].result_count


def test_without_export_data_no_button_no_action_and_403(client, chain, members, viewer_without_export):
    client.force_login(viewer_without_export)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert EXPORT not in response.content.decode()
    assert "export_selected_members" not in response.content.decode()
    assert client.get(EXPORT).status_code == 403
    assert post_export(client).status_code == 403
    assert audits() == []


@pytest.mark.parametrize("persona", ["cashier_a", "manager_a"])
def test_store_staff_never_reach_the_export_page(client, chain, members, persona):
    client.force_login(getattr(chain, persona))
    response = post_export(client)
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    assert audits() == []


def test_the_export_page_shows_the_count_and_the_filters_with_pinned_queries(
    client, chain, members, django_assert_num_queries
):
    client.force_login(chain.hq_admin)
    # session, user, role, the user's and the group's permissions, the list's store, tag and segment
    # (campaigns) filter choices, the count
    with django_assert_num_queries(9):
        response = client.get(EXPORT, {"home_store__id__exact": chain.store_a.pk, "q": "王"})
    assert response.status_code == 200
    assert response.context["count"] == 2
    page = response.content.decode()
    assert "SH001 上海徐汇店" in page and "王" in page
    # The default columns are ticked, the optional ones are not.
    form = response.context["form"]
    assert "tier" in form["columns"].initial and "address" not in form["columns"].initial


def test_the_export_applies_exactly_the_lists_store_filter_and_is_audited(client, chain, members):
    client.force_login(chain.hq_admin)
    query = {"home_store__id__exact": chain.store_b.pk}
    response = post_export(client, query)
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="members-')
    rows = csv_dicts(streamed(response))
    assert {r["姓名"] for r in rows} == {"李娜", "张伟"}
    assert {r["门店编码"] for r in rows} == {"BJ001"}
    assert {r["手机号"] for r in rows} == {"13812340002", "13900001111"}
    (entry,) = audits()
    assert entry.actor == chain.hq_admin
    assert entry.data["filters"] == f"home_store__id__exact={chain.store_b.pk}"
    assert (entry.data["rows"], entry.data["format"], entry.data["source"]) == (2, "csv", "admin")
    assert entry.data["columns"] == ["member_code", "name", "phone", "store_code"]


def test_search_tag_and_status_filters_are_applied(client, chain, members):
    client.force_login(chain.hq_admin)
    vip = members[0].tags.get()
    Member.objects.filter(pk=members[3].pk).update(status="frozen")
    assert {r["姓名"] for r in csv_dicts(streamed(post_export(client, {"q": "王"})))} == {"王芳", "王小明"}
    assert {r["姓名"] for r in csv_dicts(streamed(post_export(client, {"tag": vip.pk})))} == {"王芳", "李娜"}
    assert {r["姓名"] for r in csv_dicts(streamed(post_export(client, {"status__exact": "frozen"})))} == {"张伟"}
    assert [e.data["rows"] for e in reversed(audits())] == [2, 2, 1]


def test_marketer_exports_masked_phones(client, chain, members):
    client.force_login(chain.marketer)
    response = post_export(client, {"q": "13812340000"})
    (row,) = csv_dicts(streamed(response))
    assert row["手机号"] == "138****0000"
    assert audits()[0].data["phones"] == "masked"


def test_xlsx_download_streams_a_file_read_back_with_openpyxl(client, chain, members):
    client.force_login(chain.hq_admin)
    response = post_export(client, {"home_store__id__exact": chain.store_a.pk}, fmt="xlsx", headers="en")
    assert isinstance(response, FileResponse)
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = xlsx_dicts(streamed(response))
    assert {(r["name"], r["phone"], r["store_code"]) for r in rows} == {
        ("王芳", "13812340000", "SH001"),
        ("王小明", "13812340001", "SH001"),
    }


def test_the_action_exports_the_ticked_members_only(client, chain, members):
    client.force_login(chain.marketer)
    ticked = [members[0].pk, members[2].pk]
    searched = admin_search_url(client, CHANGELIST, "138")
    response = client.post(searched, {"action": "export_selected_members", "_selected_action": ticked, "index": 0})
    assert response.status_code == 302
    assert response["Location"] == f"{EXPORT}?{searched.split('?')[1]}&ids={ticked[0]}%2C{ticked[1]}"
    page = client.get(response["Location"])
    assert page.context["count"] == 2 and page.context["selected"] == 2
    rows = csv_dicts(streamed(client.post(response["Location"], {"columns": ["name"], "fmt": "csv", "headers": "zh"})))
    assert {r["姓名"] for r in rows} == {"王芳", "李娜"}
    # The search someone typed (maybe a phone or a name) is kept as what it was by and its fingerprint.
    searched = urlencode({"q": f"phone_prefix:{query_fingerprint('138')[1]}"})
    assert audits()[0].data["filters"] == f"{searched}&ids={ticked[0]}%2C{ticked[1]}"


def test_the_action_on_every_member_of_the_list_keeps_the_filters(client, chain, members):
    client.force_login(chain.hq_admin)
    response = client.post(
        f"{CHANGELIST}?home_store__id__exact={chain.store_a.pk}",
        {"action": "export_selected_members", "_selected_action": [members[0].pk], "select_across": "1", "index": 0},
    )
    assert response["Location"] == f"{EXPORT}?home_store__id__exact={chain.store_a.pk}"


def test_bad_input_is_refused_with_a_message_and_nothing_audited(client, chain, members, settings, monkeypatch):
    client.force_login(chain.hq_admin)
    # A filter the list does not have.
    response = client.get(EXPORT, {"home_store__code__startswith": "S"})
    assert response.status_code in (302, 400)
    response = client.get(EXPORT, {"registered_at__gte": "not a date"})
    assert response.status_code == 302 and response["Location"].endswith("?e=1")
    # A selection that is not a list of ids.
    assert client.get(EXPORT, {"ids": "1,2;DROP TABLE"}).status_code == 400
    # No column, an unknown column, an unknown format.
    for form in ({"columns": []}, {"columns": ["password"]}, {"fmt": "pdf"}, {"headers": "fr"}):
        response = post_export(client, **form)
        assert response.status_code == 200 and response.context["form"].errors, form
    # An XLSX past Excel's row limit.
    monkeypatch.setattr("config.tabular.XLSX_MAX_ROWS", 3)
    response = post_export(client, fmt="xlsx")
    assert response.status_code == 200
    assert "CSV" in str(response.context["form"].non_field_errors())
    assert audits() == []


def test_a_five_thousand_row_export_costs_queries_per_chunk_not_per_row(
    client, chain, django_assert_num_queries, monkeypatch
):
    Member.objects.bulk_create(
        [
            Member(code=f"9{i:09d}", phone=f"+86137{i:08d}", name="批量会员", home_store=chain.store_a)
            for i in range(5000)
        ],
        batch_size=1000,
    )
    monkeypatch.setattr("members.exports.CHUNK_SIZE", 1000)
    client.force_login(chain.hq_admin)
    # The request (session, user, role, 2 × permissions, the list's 3 filters' choices, the count, the
    # audit row) and the stream: the members once, then per chunk of 1,000 the tags.
    with django_assert_num_queries(10 + 1 + 5):
        rows = csv_dicts(
            streamed(post_export(client, {"home_store__id__exact": chain.store_a.pk}, columns=["phone", "tags"]))
        )
    assert len(rows) == 5000
    # With the loyalty columns, three more per chunk (points, stored value, tier) and the entry tier once.
    with django_assert_num_queries(10 + 1 + 5 * 4 + 1):
        rows = csv_dicts(
            streamed(post_export(client, columns=["phone", "tags", "points_balance", "stored_value_balance", "tier"]))
        )
    assert len(rows) == 5000
